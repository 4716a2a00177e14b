"""Shutdown is a trip: SIGTERM, SIGINT and the end of `--duration` write permit OFF with fault
code 10 (`shutdown`) before the box winds down, and nothing after it raises the permit again.
The real process against the PLC simulator over TCP; judged by the simulator's write log."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plantvision.loop.outputs import FAULT_CODES
from simulators.plc import PlcSimulator, SimConfig
from tests.loop.boxproc import cell_deployment, end_box, permit_writes, raise_permit, start_box

SHUTDOWN = FAULT_CODES["shutdown"]
EMPTY_CELL: dict[str, Any] = {"seed": 3, "fps": 15, "duration_s": 600, "workers": []}


@pytest.fixture
def sim() -> Iterator[PlcSimulator]:
    s = PlcSimulator(SimConfig(watchdog_ms=400, stopping_ms=20))
    s.start()
    yield s
    s.stop()


def _outputs_after(sim: PlcSimulator, index: int) -> list[tuple[str, int]]:
    """(signal, value) of every permit and fault_code write after write `index`, in order."""
    return [
        (name, int(value))
        for e in sim.write_log[index + 1 :]
        for name, value in e["signals"].items()
        if name in ("permit", "fault_code")
    ]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "duration"])
def test_stop_writes_permit_off_with_the_shutdown_code_first(
    tmp_path: Path, sim: PlcSimulator, how: str
) -> None:
    """The first change the PLC sees after the stop is permit OFF with fault code 10; no later
    write raises the permit; the box exits 0 with its report.

    A cycle's write already under way when the signal arrives may still repeat the running image;
    so the test starts from the last permit-ON write, not from the instant of the signal."""
    dep = cell_deployment(tmp_path, sim.port, EMPTY_CELL)
    args = ("--duration", "20") if how == "duration" else ()
    out_path, err_path = tmp_path / "out", tmp_path / "err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        child = start_box(dep, err, out, *args)
    try:
        raise_permit(sim, child)
        if how != "duration":
            child.send_signal(getattr(signal, how))
        assert child.wait(60) == 0, err_path.read_text()[-2000:]
    finally:
        end_box(child)
    last_on = max(i for i, p in permit_writes(sim) if p == 1)
    after = _outputs_after(sim, last_on)
    assert ("permit", 1) not in after
    off = after.index(("permit", 0))
    assert set(after[:off]) <= {("fault_code", 0)}, after  # the running image's own code
    assert after[off + 1] == ("fault_code", SHUTDOWN), after
    assert {v for s, v in after[off:] if s == "fault_code"} == {SHUTDOWN}
    assert "frame capture -> permit write acknowledged" in out_path.read_text()
