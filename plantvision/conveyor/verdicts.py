"""PLC-timed verdicts written off the camera thread: a queue drained by one worker thread.

A verdict write goes over the PLC link's service connection, which a busy PLC can make slow
(up to request_timeout_ms x (1 + retries), and it waits behind a heartbeat or an input read).
Written in the camera thread it ran before the guard, so a 400 ms verdict write delayed that
cycle's permit-off write to 411 ms. Now the camera thread submits and goes on; the worker writes
whatever has queued in one request; the outcomes go back to the camera thread, which hands the
undelivered ones to the scheduler as missed rejects at its next step.

A verdict is delivered in time or never: one whose fire time has passed while it waited in the
queue is not written (reason `verdict_too_late`), and one whose write failed is never written
again (`verdict_not_delivered`; the link's FIFO voids it).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from plantvision import log


@dataclass(frozen=True, slots=True)
class Verdict:
    """One verdict for the PLC's reject FIFO (what an entry carries: the ejector, the arrival
    count, the lead, a range's end), and when it stops being worth writing."""

    ejector_index: int
    arrival_count: int
    item_id: int
    deadline_ns: int | None  # the item's estimated fire time; None: no bound (belt stopped)
    end_count: int | None = None  # a range over a blind segment: the coil holds until this
    lead_ms: float = 0.0  # output latency + actuator response: the PLC leads by it


# The link's FIFO write: the verdicts in one request (the block layout is the link's).
VerdictsOut = Callable[[Sequence[Verdict]], bool]


@dataclass(frozen=True, slots=True)
class VerdictOutcome:
    """What became of one submitted verdict; `reason` is None when the PLC acknowledged it."""

    item_id: int
    reason: str | None


class VerdictSender(Protocol):
    """Where the reject runtime hands its verdicts; `outcomes` is drained by the camera thread."""

    def submit(self, verdicts: Sequence[Verdict]) -> None: ...

    def outcomes(self) -> list[VerdictOutcome]: ...

    def alive(self) -> bool: ...

    def close(self) -> None: ...


def deliver(
    write: VerdictsOut, verdicts: Sequence[Verdict], now_ns: int | None
) -> list[VerdictOutcome]:
    """Write the verdicts still in time (all when `now_ns` is None) in one call."""

    def too_late(v: Verdict) -> bool:
        return now_ns is not None and v.deadline_ns is not None and now_ns >= v.deadline_ns

    live = [v for v in verdicts if not too_late(v)]
    out = [VerdictOutcome(v.item_id, "verdict_too_late") for v in verdicts if too_late(v)]
    if live:
        ok = write(live)
        out += [VerdictOutcome(v.item_id, None if ok else "verdict_not_delivered") for v in live]
    return out


class InlineVerdicts:
    """Writes in the caller's thread, at once: for tests and tools that step time by hand."""

    def __init__(self, write: VerdictsOut) -> None:
        self._write = write
        self._done: list[VerdictOutcome] = []

    def submit(self, verdicts: Sequence[Verdict]) -> None:
        self._done += deliver(self._write, verdicts, None)

    def outcomes(self) -> list[VerdictOutcome]:
        done, self._done = self._done, []
        return done

    def alive(self) -> bool:
        return True

    def close(self) -> None:
        pass


class VerdictWorker:
    """One thread that writes the queued verdicts; never blocks `submit`."""

    def __init__(
        self,
        write: VerdictsOut,
        clock: Callable[[], int] = time.monotonic_ns,
        name: str = "reject-verdicts",
    ) -> None:
        self._write, self._clock = write, clock
        self._queue: queue.SimpleQueue[Sequence[Verdict] | None] = queue.SimpleQueue()
        self._done: deque[VerdictOutcome] = deque()  # appended here, drained by the camera
        self._log = log.get(room="reject_verdicts")
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, verdicts: Sequence[Verdict]) -> None:
        self._queue.put(tuple(verdicts))

    def outcomes(self) -> list[VerdictOutcome]:
        out: list[VerdictOutcome] = []
        while self._done:
            out.append(self._done.popleft())
        return out

    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop after the write in progress (bounded by the link's request timeout)."""
        self._queue.put(None)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            try:
                self._done.extend(deliver(self._write, batch, self._clock()))
            except Exception as exc:  # the worker must outlive a bug; the verdicts count missed
                self._log.error("verdict_write_error", error=repr(exc))
                self._done.extend(VerdictOutcome(v.item_id, "verdict_not_delivered") for v in batch)

    def _take(self) -> list[Verdict] | None:
        """Wait for verdicts, then take whatever else queued meanwhile (one write for all);
        None once closed."""
        first = self._queue.get()
        if first is None:
            return None
        batch = list(first)
        while True:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                return batch
            if more is None:
                self._queue.put(None)  # stop after this batch
                return batch
            batch.extend(more)
