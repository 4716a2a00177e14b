"""The reset button over real TCP: the box counts a press on its release, inside its window."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from tests.loop.live import wait_for
from tests.loop.test_faults_live import Cell

MS = 1_000_000


@pytest.fixture
def cell(tmp_path: Path) -> Iterator[Cell]:
    c = Cell(tmp_path)
    c.link.start()
    c.ctl.start()
    try:
        yield c
    finally:
        c.ctl.stop()
        c.link.stop()
        c.sim.stop()


def _ready(cell: Cell) -> bool:
    out = cell.cam.last_output
    return out is not None and out.state == "ready_to_reset"


def _events(logs: list[dict[str, object]], name: str) -> list[dict[str, object]]:
    return [e for e in logs if e["event"] == name]


def test_short_press_is_refused_and_a_press_counts_on_release(cell: Cell) -> None:
    """A 100 ms tap at the machine is refused as too short (logged); a 600 ms press raises the
    permit only after the button is released at the simulator."""
    assert wait_for(lambda: _ready(cell), 10)
    with capture_logs() as logs:
        cell.sim.press_reset(100)
        assert wait_for(lambda: bool(_events(logs, "reset_press_refused")), 5)
        assert not cell.sim.permit_seen
        refused = _events(logs, "reset_press_refused")[0]
        assert refused["reason"] == "too_short"
        assert wait_for(lambda: _ready(cell), 10)
        t_press = cell.sim.machine._t_ns  # the simulator's clock at the press
        cell.sim.press_reset(600)
        assert wait_for(lambda: cell.sim.permit_seen, 10)
    t_on = min(
        e["t_mono_ns"]
        for e in cell.sim.write_log
        if e["signals"].get("permit") and e["t_mono_ns"] >= t_press
    )
    assert t_on >= t_press + 600 * MS  # not on the rising edge: after the release
    accepted = _events(logs, "reset_press_accepted")
    assert len(accepted) == 1


def test_a_held_reset_is_a_stuck_input_fault(cell: Cell) -> None:
    """A reset held beyond the window (2 s) trips with fault code reset_stuck; its release is
    refused as too long, and only a new press in the window brings the permit back."""
    from plantvision.loop.outputs import FAULT_CODES

    assert wait_for(lambda: _ready(cell), 10)
    cell.sim.press_reset(600)
    assert wait_for(lambda: cell.sim.permit_seen, 10)
    with capture_logs() as logs:
        cell.sim.press_reset(3000)
        stuck_code = FAULT_CODES["reset_stuck"]
        assert wait_for(lambda: cell.sim.values.get("fault_code") == stuck_code, 10)
        assert not cell.sim.permit_seen
        assert wait_for(lambda: bool(_events(logs, "reset_press_refused")), 10)
        assert _events(logs, "reset_press_refused")[0]["reason"] == "too_long"
        assert _events(logs, "reset_stuck")
        assert wait_for(lambda: _ready(cell), 10)
        cell.sim.press_reset(600)
        assert wait_for(lambda: cell.sim.permit_seen, 10)
