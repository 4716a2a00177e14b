"""Stop monitoring (EDM) at the seam: a real controller and link against the PLC simulator over
TCP, whose machine coasts far longer than the deployment's stopping time after a trip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from plantvision.loop.outputs import FAULT_CODES
from tests.loop.test_expiry_live import run_until_permit
from tests.loop.twocams import INSIDE, TwoCameraCell
from tests.waiting import wait_for


@pytest.fixture
def cell(tmp_path: Path) -> Iterator[TwoCameraCell]:
    c = TwoCameraCell(tmp_path)
    with c:
        yield c


def _events(logs: list[dict[str, object]], name: str) -> list[dict[str, object]]:
    return [e for e in logs if e["event"] == name]


def test_a_stop_that_overruns_locks_out_until_a_maintenance_reset(cell: TwoCameraCell) -> None:
    """The machine coasts 1.5 s past its 200 ms stopping time: the box reports
    `stop_unconfirmed` (fault code 21 at the PLC), refuses plain resets, and runs again only after
    the maintenance reset, a reset and a start."""
    run_until_permit(cell)
    assert wait_for(cell.sim.press_start, 2)
    cell.sim.set_coast_extra_ms(1500)
    with capture_logs() as logs:
        cell.det["a"].boxes = [INSIDE]  # a person walks in: trip
        assert wait_for(lambda: bool(_events(logs, "stop_unconfirmed")), 5), "overrun unseen"
        assert wait_for(lambda: cell.fault_code_at_plc() == FAULT_CODES["stop_unconfirmed"], 2)
        cell.det["a"].boxes = []
        assert wait_for(lambda: not cell.sim.machine_running and cell.sim.machine.phase.value
                        == "stopped", 5)  # fmt: skip
        cell.sim.set_coast_extra_ms(0)
        # A plain reset, once the guards would otherwise accept it: refused, permit stays off.
        assert wait_for(lambda: all(c.last_output is not None and c.last_output.state == "tripped"
                                    for c in cell.cameras), 5)  # fmt: skip
        n = len(_events(logs, "reset_refused"))
        cell.sim.press_reset()
        assert wait_for(lambda: len(_events(logs, "reset_refused")) > n, 3)
        assert not cell.permit_at_plc()
        cell.sim.press_maintenance_reset()
        assert wait_for(lambda: bool(_events(logs, "maintenance_reset")), 3)
    assert _events(logs, "stop_unconfirmed")[0]["reason"] == "no_standstill"
    run_until_permit(cell)
    assert wait_for(cell.sim.press_start, 2)


def test_every_trip_logs_the_measured_stop_time(cell: TwoCameraCell) -> None:
    """A stop within the stopping time: `stop_measured` with the time from the permit OFF write
    to the first sample at standstill, no fault."""
    run_until_permit(cell)
    assert wait_for(cell.sim.press_start, 2)
    with capture_logs() as logs:
        cell.det["b"].boxes = [INSIDE]
        assert wait_for(lambda: bool(_events(logs, "stop_measured")), 5)
    (measured,) = _events(logs, "stop_measured")
    assert measured["exceeds_stopping_time"] is False
    assert not _events(logs, "stop_unconfirmed")
