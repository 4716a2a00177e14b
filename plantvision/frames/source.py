"""Frame sources: a capture thread per grabber, latest frame wins, reconnect with backoff.

The loop never calls a grabber itself: `VideoCapture.read()` can block for ever on a dead stream.
The capture thread stamps each image with `time.monotonic_ns()` at grab and keeps only the newest;
the loop takes it with `read()` and sees its age, and a frame it never took counts as skipped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from plantvision.errors import MediaError
from plantvision.frames.grabbers import Grabber
from plantvision.types import Frame

Pace = Literal["native", "max", "lockstep"]


@dataclass(frozen=True, slots=True)
class SourceStats:
    grabbed: int
    delivered: int
    skipped: int
    reconnects: int
    errors: int
    ended: bool
    last_error: str
    clock_steps: int = 0  # steps of a camera's own clock (frame_stamps: camera)


class FrameSource:
    """Runs a grabber in its own thread and hands the loop the newest frame.

    pace: "native" paces sources with a nominal rate (files, folders, renderers) at that rate;
    "max" grabs as fast as possible (latest wins, the rest are skipped); "lockstep" grabs the next
    frame only after the previous one was read, so benchmarks see every frame and skip none.
    loop: restart a file source at its end instead of ending.
    """

    def __init__(
        self,
        grabber: Grabber,
        *,
        pace: Pace = "native",
        loop: bool = False,
        backoff_ms: tuple[float, float] = (200.0, 5000.0),
        clock_ns: Callable[[], int] = time.monotonic_ns,
        log: Any = None,
    ) -> None:
        self.grabber, self.pace, self.loop = grabber, pace, loop
        self._backoff_ms, self._clock_ns, self._log = backoff_ms, clock_ns, log
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._taken_seq = -1
        self._seq = -1
        self._grabbed = self._delivered = self._reconnects = self._errors = 0
        self._ended = False
        self._error = ""
        self._grabbed_at_open, self._empty_ms = 0, 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def source_id(self) -> str:
        return self.grabber.source_id

    def start(self) -> None:
        """Open the grabber (errors raise here, before anything runs) and start capturing."""
        self.grabber.open()
        self._thread = threading.Thread(
            target=self._run, name=f"capture-{self.source_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 1.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        interrupt = getattr(self.grabber, "interrupt", None)
        if interrupt is not None:  # a grabber that can wake its own blocked read
            interrupt()
        if self._thread is not None:
            self._thread.join(timeout_s)  # a grab blocked in a driver may outlive this; daemon
        if self._thread is None or not self._thread.is_alive():
            self.grabber.close()

    def read(self, timeout_s: float) -> Frame | None:
        """The newest frame not yet read, waiting up to `timeout_s`; None if none arrived."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._latest is None or self._latest.seq == self._taken_seq:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._ended or self._stop.is_set():
                    return None
                self._cond.wait(remaining)
            frame = self._latest
            self._taken_seq = frame.seq
            self._delivered += 1
            self._cond.notify_all()
            return frame

    def stats(self) -> SourceStats:
        with self._cond:
            return SourceStats(
                grabbed=self._grabbed,
                delivered=self._delivered,
                skipped=self._grabbed
                - self._delivered
                - (self._latest is not None and self._latest.seq != self._taken_seq),
                reconnects=self._reconnects,
                errors=self._errors,
                ended=self._ended,
                last_error=self._error,
                clock_steps=int(getattr(self.grabber, "clock_steps", 0)),
            )

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def alive(self) -> bool:
        """The capture thread is running (for the loop's supervisor)."""
        return self._thread is not None and self._thread.is_alive()

    # -- capture thread ---------------------------------------------------------------------

    def _run(self) -> None:
        """Capture until stopped; an unexpected error is logged, backed off and survived (the
        camera meanwhile stalls, which the loop trips on), never a silent death."""
        delay_ms = self._backoff_ms[0]
        while not self._stop.is_set():
            try:
                self._capture()
                break
            except Exception as exc:
                with self._cond:
                    self._error, self._errors = repr(exc), self._errors + 1
                if self._log is not None:
                    self._log.error(
                        "capture_error", source=self.source_id, error=repr(exc), retry_ms=delay_ms
                    )
                self._stop.wait(delay_ms / 1000)
                delay_ms = min(delay_ms * 2, self._backoff_ms[1])
                if self.grabber.live:  # a file just reads on; a camera's state is unknown now
                    self._reopen()
        if self._stop.is_set():  # stopping: a connection opened after stop() looked is closed
            self.grabber.close()

    def _reopen(self) -> None:
        """After an unexpected error: close and reopen the grabber, best effort."""
        try:
            self.grabber.close()
            self.grabber.open()
        except Exception as exc:  # the next capture attempt fails and backs off again
            self._error = repr(exc)

    def _capture(self) -> None:
        period_ns = self._period_ns()
        next_ns = self._clock_ns()
        while not self._stop.is_set():
            if self.pace == "lockstep" and not self._wait_taken():
                return
            if period_ns:
                self._sleep_until(next_ns)
                next_ns = max(next_ns + period_ns, self._clock_ns() - period_ns)
            image = self.grabber.grab()
            if image is None:
                if not self._handle_end():
                    return
                next_ns = self._clock_ns()
                continue
            t_ns = self._clock_ns()
            exposed_ns = getattr(self.grabber, "last_capture_ns", None)
            if exposed_ns is not None:
                t_ns = int(exposed_ns)
            spread_ns = int(getattr(self.grabber, "last_capture_spread_ns", 0))
            with self._cond:
                self._seq += 1
                self._grabbed += 1
                self._latest = Frame(image, self._seq, t_ns, self.source_id, spread_ns)
                self._cond.notify_all()

    def _period_ns(self) -> int:
        fps = self.grabber.nominal_fps
        return int(1e9 / fps) if fps and self.pace == "native" else 0

    def _wait_taken(self) -> bool:
        with self._cond:
            while self._latest is not None and self._latest.seq != self._taken_seq:
                if self._stop.is_set():
                    return False
                self._cond.wait(0.1)
        return not self._stop.is_set()

    def _sleep_until(self, t_ns: int) -> None:
        delay_s = (t_ns - self._clock_ns()) / 1e9
        if delay_s > 0:
            self._stop.wait(delay_s)

    def _handle_end(self) -> bool:
        """End of stream or a failed read: loop a file, reconnect a live source, or end."""
        if not self.grabber.live and not self.loop:
            with self._cond:
                self._ended = True
                self._cond.notify_all()
            return False
        delay_ms = self._backoff_ms[0] if not self.grabber.live else 0.0
        if self.grabber.live and self._grabbed == self._grabbed_at_open:
            # The last connection gave no frame (a camera at its client limit, still booting):
            # back off, growing, or the box reconnects thousands of times a second.
            self._empty_ms = min(max(self._empty_ms * 2, self._backoff_ms[0]), self._backoff_ms[1])
            self._stop.wait(self._empty_ms / 1000)
        elif self.grabber.live:
            self._empty_ms = 0.0
        if self.grabber.live and self._log is not None:
            self._log.warning("camera_disconnected", source=self.source_id)
        while not self._stop.is_set():
            self.grabber.close()
            try:
                self.grabber.open()
            except MediaError as exc:
                self._error = str(exc)
                delay_ms = min(max(delay_ms * 2, self._backoff_ms[0]), self._backoff_ms[1])
                self._stop.wait(delay_ms / 1000)
                continue
            self._grabbed_at_open = self._grabbed
            if self.grabber.live:
                self._reconnects += 1
                if self._log is not None:
                    self._log.info(
                        "camera_reconnected", source=self.source_id, reconnects=self._reconnects
                    )
            return True
        return False
