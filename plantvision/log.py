"""Structured logging: fixed event names, JSON lines or console, context bound once.

Logging is never on the trip path (DESIGN.md, "Decide, write, then tell"). A log call only stamps
the event and hands it to a bounded queue without waiting; one writer thread renders the lines
and writes them to stderr. So a full disk (ENOSPC), a reader gone (EPIPE) or a stream nobody
reads (a full pipe, Ctrl-S on a console) cannot raise into, or block, a camera cycle, the
heartbeat or a reset:
- queue full: the event is dropped and counted (`stats().dropped`);
- the write fails (OSError): the writer counts the line as lost and goes on (`stats().lost`);
- the write blocks: only the writer waits; the queue fills and further events are dropped.
While lines go missing, the writer adds a `log_dropped` line with both counts every
`REPORT_EVERY_S` and once more when logging is shut down, whenever it can be written.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, TextIO

import structlog

QUEUE_EVENTS = 4096  # events waiting for the writer; beyond this they are dropped and counted
REPORT_EVERY_S = 5.0

Render = Callable[[dict[str, Any]], str]


@dataclass(frozen=True, slots=True)
class LogStats:
    """Events handed to the queue, dropped because it was full, lost to a failed write, and
    written (log_dropped lines count too); `pending` ones are queued or stuck in a write."""

    queued: int = 0
    dropped: int = 0
    lost: int = 0
    written: int = 0

    @property
    def pending(self) -> int:
        return max(0, self.queued - self.lost - self.written)

    @property
    def missing(self) -> int:
        """Lines that never reached the stream (dropped + lost)."""
        return self.dropped + self.lost


class _Flush:
    """A marker in the queue: set once every event before it has been written (or lost)."""

    def __init__(self, final: bool) -> None:
        self.final, self.done = final, threading.Event()


class LogSink:
    """A bounded queue of event dicts and the one daemon thread that renders and writes them.

    `stream` returns the stream to write to at each write (default: the current `sys.stderr`,
    so a redirected or replaced stream wins)."""

    def __init__(
        self,
        render: Render,
        stream: Callable[[], TextIO | None] | None = None,
        capacity: int = QUEUE_EVENTS,
        report_every_s: float = REPORT_EVERY_S,
    ) -> None:
        self._render, self._stream = render, stream or (lambda: sys.stderr)
        self._queue: queue.Queue[dict[str, Any] | _Flush] = queue.Queue(capacity)
        self._count_lock = threading.Lock()
        self._queued = self._dropped = self._lost = self._written = 0
        self._report_every_s, self._reported, self._next_report = report_every_s, 0, 0.0
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()

    def put(self, event: dict[str, Any]) -> None:
        """Hand one event to the writer; never blocks, never raises (a full queue drops it)."""
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            with self._count_lock:
                self._dropped += 1
            return
        with self._count_lock:
            self._queued += 1

    def stats(self) -> LogStats:
        with self._count_lock:
            return LogStats(self._queued, self._dropped, self._lost, self._written)

    def flush(self, timeout_s: float, final: bool = False) -> bool:
        """Wait at most `timeout_s` for every event queued so far to be written; `final` adds a
        last `log_dropped` line when any went missing. False if the stream did not take them."""
        marker = _Flush(final)
        try:
            self._queue.put(marker, timeout=timeout_s)
        except queue.Full:
            return False
        return marker.done.wait(timeout_s)

    # -- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self._report_every_s)
            except queue.Empty:
                item = None
            if isinstance(item, _Flush):
                self._report(force=item.final)
                item.done.set()
            elif item is not None:
                self._write_event(item)
            if self._queue.empty():
                self._report(force=False)

    def _write_event(self, event: dict[str, Any]) -> None:
        try:
            line = self._render(event)
        except Exception:  # a value the renderer cannot take must not stop the writer
            line = f"log_render_failed event={event.get('event')!r}"
        self._write(line + "\n")

    def _write(self, text: str) -> None:
        try:
            stream = self._stream()
            if stream is None:
                return
            direct = stream is sys.__stderr__
            if direct:
                # Straight to the descriptor: the writer never holds the stream's buffer lock
                # while blocked, so the interpreter can still flush stderr at exit.
                data = text.encode("utf-8", "replace")
                while data:
                    data = data[os.write(stream.fileno(), data) :]
            else:
                stream.write(text)
                stream.flush()
            with self._count_lock:
                self._written += 1
        except Exception:  # ENOSPC, EPIPE, EIO, a closed stream, anything: count it, go on
            with self._count_lock:
                self._lost += 1

    def _report(self, force: bool) -> None:
        """A `log_dropped` line when lines went missing since the last one (rate-limited)."""
        stats = self.stats()
        now = time.monotonic()
        if stats.missing == self._reported or (not force and now < self._next_report):
            return
        self._reported, self._next_report = stats.missing, now + self._report_every_s
        self._write_event(
            {
                "event": "log_dropped",
                "level": "warning",
                "timestamp": _STAMP(None, "warning", {})["timestamp"],
                "dropped": stats.dropped,
                "lost": stats.lost,
            }
        )


_STAMP = structlog.processors.TimeStamper(fmt="iso", utc=True)
_sink: LogSink | None = None
_sink_lock = threading.Lock()


class QueueLogger:
    """structlog's logger at the end of the chain: takes the stamped event dict, queues it."""

    def __init__(self, sink: LogSink) -> None:
        self._sink = sink

    def msg(self, **event: Any) -> None:
        self._sink.put(event)

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


def configure(json: bool = True, level: int = logging.INFO) -> None:
    """Route structlog through the bounded queue to stderr, as JSON lines (for machines) or
    key=value (for people). Context and the time stamp are taken in the caller's thread;
    rendering and writing happen in the writer thread."""
    global _sink
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )

    def render(event: dict[str, Any]) -> str:
        return str(renderer(None, event.get("level", "info"), dict(event)))

    with _sink_lock:
        old, _sink = _sink, LogSink(render)
        sink = _sink
    if old is not None:
        old.flush(0.2)  # a blocked old writer is left behind (daemon), never waited for
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _STAMP,
            _as_kwargs,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=lambda *_: QueueLogger(sink),
        cache_logger_on_first_use=False,
    )


def _as_kwargs(_: Any, __: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """The end of the caller's chain: a dict goes to the logger as keywords, unrendered."""
    return event


def stats() -> LogStats:
    """Queued, dropped and lost counts of the configured sink (zeros before `configure`)."""
    sink = _sink
    return LogStats() if sink is None else sink.stats()


def shutdown(timeout_s: float = 1.0) -> LogStats:
    """Write what is queued and a final `log_dropped` line if any went missing, waiting at most
    `timeout_s` (a blocked stream is abandoned, not waited for); the final counts."""
    sink = _sink
    if sink is None:
        return LogStats()
    with contextlib.suppress(Exception):
        sink.flush(timeout_s, final=True)
    return sink.stats()


def get(**context: Any) -> Any:
    """A logger with `context` bound (camera, zone file hash, ...)."""
    return structlog.get_logger("plantvision").bind(**context)
