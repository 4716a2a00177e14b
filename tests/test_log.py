"""The log queue: a log call never blocks or raises, whatever the stream does; what goes
missing is counted and said once the stream takes lines again."""

from __future__ import annotations

import io
import json
import threading
from typing import Any

from plantvision import log as pvlog
from plantvision.log import LogSink
from tests.waiting import wait_for


def render(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True)


class GateStream(io.StringIO):
    """A stream whose writes block until the gate opens (a pipe nobody reads, Ctrl-S)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def write(self, s: str) -> int:
        self.gate.wait()
        return super().write(s)


class FailingStream(io.StringIO):
    """A stream that fails like a full disk until it is told to recover."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = True

    def write(self, s: str) -> int:
        if self.failing:
            raise OSError(28, "No space left on device")
        return super().write(s)


def events(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_blocked_stream_never_blocks_the_caller_and_drops_are_counted() -> None:
    """With the writer stuck in a write, log calls return at once; past the queue's capacity
    events are dropped and counted, and a log_dropped line follows once the stream moves."""
    stream = GateStream()
    sink = LogSink(render, lambda: stream, capacity=8, report_every_s=0.01)
    for i in range(50):
        sink.put({"event": "cycle", "i": i})  # returns: the test would hang otherwise
    stats = sink.stats()
    assert stats.dropped >= 50 - 8 - 1  # the queue, plus the one the writer holds
    assert stats.queued + stats.dropped == 50
    stream.gate.set()
    assert sink.flush(10.0, final=True)
    lines = events(stream)
    assert [e["i"] for e in lines if e["event"] == "cycle"] == list(range(stats.queued))
    assert lines[-1]["event"] == "log_dropped"
    assert lines[-1]["dropped"] == stats.dropped


def test_a_failing_stream_counts_lost_lines_and_the_writer_goes_on() -> None:
    """Writes that fail (ENOSPC, EPIPE) are counted as lost; later lines still get out."""
    stream = FailingStream()
    sink = LogSink(render, lambda: stream, report_every_s=0.01)
    for i in range(5):
        sink.put({"event": "trip", "i": i})
    assert wait_for(lambda: sink.stats().lost >= 5, 10)
    stream.failing = False
    sink.put({"event": "reset"})
    assert sink.flush(10.0, final=True)
    got = [e["event"] for e in events(stream)]
    assert "reset" in got
    assert got[-1] == "log_dropped"
    assert events(stream)[-1]["lost"] >= 5


def test_structlog_calls_go_through_the_queue_to_stderr(capsys: Any) -> None:
    """A configured logger writes JSON lines to stderr through the writer thread."""
    pvlog.configure(json=True)
    pvlog.get(camera="cam0").warning("trip", zone="press")
    final = pvlog.shutdown(timeout_s=10.0)
    (line,) = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    assert (line["event"], line["camera"], line["zone"], line["level"]) == (
        "trip",
        "cam0",
        "press",
        "warning",
    )
    assert final.missing == 0
