"""Review 3 hole: a reset press held across a stop counts as 'latch seen', so stop monitoring
(EDM) passes a PLC that ignored the permit OFF (no standstill input mapped).

StopMonitor._judge_latch (plantvision/loop/edm.py) waits while the reset input is held, then
takes any press the reset button accepted since the arm (`presses != _presses_at_arm`) as
proof the PLC latched. The controller passes `self.resets.presses`, which counts every press the
*button* accepted, including one that began before the trip (the guard itself refuses that press
as `pressed_before_trip`). A press already down when the stop came cannot be the PLC's
reset-at-standstill, yet it waives the check: the machine keeps running, permit OFF, no
`stop_unconfirmed`, no lockout.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from plantvision.loop.edm import stop_bounds
from plantvision.plc.config import DEFAULT_SIGNAL_MAP
from tests.loop.rig import INSIDE, OUTSIDE
from tests.review3.cell import OneCell, wait_for

NO_STANDSTILL = DEFAULT_SIGNAL_MAP.model_copy(update={"machine_stopped": None})


@pytest.fixture
def cell(tmp_path: Path) -> Iterator[OneCell]:
    c = OneCell(tmp_path, signals=NO_STANDSTILL, stop_check=stop_bounds(50, 10))  # latch 20 ms
    with c:
        yield c


def test_a_press_held_across_the_stop_does_not_waive_the_latch_check(cell: OneCell) -> None:
    cell.press_until_permit()
    assert wait_for(cell.sim.press_start, 2)
    assert cell.ctl.edm is not None
    cell.sim.set_ignore_permit(True)  # the fault EDM exists for: the PLC never sees the OFF
    with capture_logs() as logs:
        cell.sim.press_reset(900)  # an operator's press on a running machine (reset_ignored)
        assert wait_for(lambda: bool(cell.ctl.latest_inputs and cell.ctl.latest_inputs.reset), 1)
        time.sleep(0.1)
        cell.detector.boxes = [INSIDE]  # a person walks in while the button is down: trip
        assert wait_for(lambda: not cell.sim.permit_seen, 1)
        cell.detector.boxes = [OUTSIDE]
        # The press is released 900 ms after it began; the button accepts it, the guard refuses
        # it (it began before the trip); EDM has 20 ms + one poll to see the latch it never got.
        assert wait_for(lambda: any(e["event"] == "reset_press_accepted" for e in logs), 2), (
            "the press was never released"
        )
        time.sleep(0.5)
        refusals = [e.get("reason") for e in logs if e["event"] == "reset_refused"]
    assert cell.sim.machine_running  # deaf PLC: still running
    assert not cell.sim.machine.latched
    # The box refuses the press itself: as pressed_before_trip, or (the lockout already set) as
    # a health fault.
    assert refusals
    assert set(refusals) <= {"pressed_before_trip", "health_fault"}, refusals
    assert cell.ctl.edm.fault == "no_latch", (
        "stop never confirmed (PLC unlatched, machine running) yet no stop_unconfirmed: "
        f"edm.fault={cell.ctl.edm.fault!r}"
    )


def test_control_the_same_stop_without_a_held_press_locks_out(cell: OneCell) -> None:
    """Control (passes): the same deaf PLC, no press held: no_latch within a poll or two."""
    cell.press_until_permit()
    assert wait_for(cell.sim.press_start, 2)
    assert cell.ctl.edm is not None
    cell.sim.set_ignore_permit(True)
    cell.detector.boxes = [INSIDE]
    assert wait_for(lambda: cell.ctl.edm is not None and cell.ctl.edm.fault == "no_latch", 2)
