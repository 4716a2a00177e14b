"""Logging is off the trip path: with the box's stderr broken (EPIPE), full (ENOSPC) or blocked
(a pipe nobody reads), a person walking into the stop zone still drops the permit at the PLC, and
the permit stays dropped. The real process, the real detector, the PLC simulator over TCP."""

from __future__ import annotations

import contextlib
import os
import select
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.plc import PlcSimulator, SimConfig
from tests.loop.boxproc import cell_deployment, end_box, permit_writes, raise_permit, start_box
from tests.waiting import wait_for

WORKER_TIMEOUT_S = 60.0  # the worker walks back in within seconds; this only bounds a hang


@pytest.fixture
def sim() -> Iterator[PlcSimulator]:
    s = PlcSimulator(SimConfig(watchdog_ms=400, stopping_ms=20))
    s.start()
    yield s
    s.stop()


class DrainedPipe:
    """A pipe for the child's stderr, read by a thread until the test breaks or blocks it."""

    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            if select.select([self.r], [], [], 0.05)[0] and not os.read(self.r, 65536):
                return

    def close_reader(self) -> None:
        """The reader goes away: every later write by the child fails with EPIPE."""
        self._stop.set()
        self._thread.join()
        os.close(self.r)
        self.r = -1

    def fill(self) -> None:
        """Nobody reads any more and the pipe is full: the child's next write blocks forever.

        Filled through a second, non-blocking open of the pipe, so the child's own descriptor
        stays blocking (O_NONBLOCK belongs to the open file description, which the child shares
        with `self.w`)."""
        self._stop.set()
        self._thread.join()
        fd = os.open(f"/proc/self/fd/{self.w}", os.O_WRONLY | os.O_NONBLOCK)
        try:
            for chunk in (b"x" * 65536, b"x"):
                while True:
                    try:
                        os.write(fd, chunk)
                    except BlockingIOError:
                        break
        finally:
            os.close(fd)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for fd in (self.r, self.w):
            if fd >= 0:
                os.close(fd)


@pytest.mark.slow
@pytest.mark.parametrize("stream", ["broken_pipe", "full_disk", "blocked_pipe"])
def test_person_in_the_stop_zone_drops_the_permit_whatever_the_log_stream_does(
    tmp_path: Path, sim: PlcSimulator, stream: str
) -> None:
    """The permit drops at the PLC when a person walks into the stop zone, and stays dropped,
    while every log line the box writes fails (EPIPE, ENOSPC) or would block forever."""
    dep = cell_deployment(tmp_path, sim.port)
    pipe = DrainedPipe()
    with open("/dev/full", "wb") as full, (tmp_path / "out").open("wb") as out:
        child = start_box(dep, full if stream == "full_disk" else pipe.w, out)
    try:
        on = raise_permit(sim, child)
        if stream == "broken_pipe":
            pipe.close_reader()
        elif stream == "blocked_pipe":
            pipe.fill()
        broken_at = len(sim.write_log)
        assert all(p == 1 for _, p in permit_writes(sim, on)), (
            "the worker walked in before the log stream was broken; the test proves nothing"
        )
        assert wait_for(
            lambda: any(p == 0 for _, p in permit_writes(sim, broken_at)), WORKER_TIMEOUT_S
        ), f"the permit stayed ON (box exit code {child.poll()}, machine running: "
        f"{sim.machine_running})"
        off = next(i for i, p in permit_writes(sim, broken_at) if p == 0)
        # Stays dropped: the box keeps cycling (it writes on), and never raises it unasked.
        assert wait_for(lambda: len(list(permit_writes(sim, off))) >= 20, WORKER_TIMEOUT_S), (
            f"the box stopped writing after the trip (exit code {child.poll()})"
        )
        assert {p for _, p in permit_writes(sim, off)} == {0}
        assert child.poll() is None, "the box died"
    finally:
        end_box(child)
        pipe.close()


def test_drained_pipe_fill_blocks_a_blocking_writer(tmp_path: Path) -> None:
    """The test's 'blocked' stream really blocks: a blocking write to the filled pipe does not
    complete until the reader side goes away."""
    pipe = DrainedPipe()
    pipe.fill()
    done = threading.Event()

    def write() -> None:
        with contextlib.suppress(BrokenPipeError):
            os.write(pipe.w, b"y")
        done.set()

    threading.Thread(target=write, daemon=True).start()
    assert not done.wait(0.3), "a write to the full pipe went through"
    pipe.close()  # closes the reader: the blocked write fails with EPIPE and returns
    assert done.wait(10)
