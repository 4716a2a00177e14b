"""Review 5 hole: a stuck (bridged) reset input suspends the stop check (EDM) for as long as it
stays stuck, so a PLC that ignores the permit OFF keeps its machine running and the box never
raises `stop_unconfirmed` (no standstill input mapped, which the README allows).

StopMonitor._judge_latch (loop/edm.py) returns without judging while `inputs.reset` is high:
"held: its release says whether it was a press". That was the fix for review 3's press held
across a stop; it waits for a release that a stuck input never gives. A reset input held beyond
the window is itself a fault (`reset_stuck`, the box trips on it: permit OFF), and that very OFF
arms the latch check, which then waits for ever.

Sequence (real Controller threads, real PlcLink over TCP, real PLC simulator):
1. the machine runs under the box's permit;
2. the PLC program goes deaf to the permit (the fault EDM exists for), and the reset input sticks
   high (a bridged contact or a jammed button);
3. after reset_max_ms (2 s) the box trips on reset_stuck: permit OFF, acknowledged;
4. the PLC neither latches nor stops; the latch bound (20 ms) passes many times over.
Consequence: the machine keeps running with the box's permit OFF; `edm.fault` stays None, no
`stop_unconfirmed` is logged and no lockout holds: the box's only check that its stop worked is
silently off while the input stays stuck. The control in tests/review3 (same deaf PLC, no held
input) locks out with `no_latch` within a poll or two.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from plantvision.loop.edm import stop_bounds
from plantvision.plc.config import DEFAULT_SIGNAL_MAP
from tests.review3.cell import OneCell, wait_for

NO_STANDSTILL = DEFAULT_SIGNAL_MAP.model_copy(update={"machine_stopped": None})


@pytest.fixture
def cell(tmp_path: Path) -> Iterator[OneCell]:
    c = OneCell(tmp_path, signals=NO_STANDSTILL, stop_check=stop_bounds(50, 10))  # latch 20 ms
    with c:
        yield c


def test_a_stuck_reset_input_does_not_switch_the_stop_check_off(cell: OneCell) -> None:
    cell.press_until_permit()
    assert wait_for(cell.sim.press_start, 2)
    edm = cell.ctl.edm
    assert edm is not None
    cell.sim.set_ignore_permit(True)
    with capture_logs() as logs:
        cell.sim.press_reset(60_000)  # the reset input sticks high
        assert wait_for(lambda: any(e["event"] == "reset_stuck" for e in logs), 4), "not stuck"
        assert wait_for(lambda: not cell.sim.permit_seen, 2), "box never dropped its permit"
        time.sleep(1.0)  # 50 x the latch bound
        stuck_still = bool(cell.ctl.latest_inputs and cell.ctl.latest_inputs.reset)
    assert stuck_still
    assert cell.sim.machine_running  # deaf PLC: the machine runs on with the permit OFF
    assert not cell.sim.machine.latched
    assert edm.fault == "no_latch", (
        "permit OFF acknowledged 1 s ago, PLC never latched, machine running, yet no "
        f"stop_unconfirmed (edm.fault={edm.fault!r}): the stuck reset input suspends the check"
    )
