"""Review 3 hole: a permit ON write that timed out at the box but was applied by the PLC (the
link's docstring: 'a permit ON ... may land late') leaves the stop that follows unchecked.

StopMonitor.wrote (plantvision/loop/edm.py:110-113) sets `_lost_while_on` only when the last
*acknowledged* permit was ON; an unacknowledged ON counts as OFF. So after an ON that timed out
(link lost) and then applied, the machine can be started at the PLC; the reconnect's tripped
image and every OFF after it are 'OFF after unknown', which arms nothing. A PLC that then fails to
act on the OFF (the fault EDM is for) keeps the machine running with the box's permit OFF, and
the box never reports stop_unconfirmed.

Real threads, PlcLink over TCP, the real simulator; the only addition is a simulator whose
network delays one kind of request (a write that raises the permit coil) past the box's request
timeout, as a congested link would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plantvision.loop.edm import stop_bounds
from simulators.plc import PlcSimulator
from tests.review3.cell import OneCell, wait_for


class SlowRiseSim(PlcSimulator):
    """Delays a write_coils that sets the permit coil (address 0) to 1 while `slow_rise` is set."""

    slow_rise = False

    async def _action(self, fc: int, start: int, address: int, count: int, registers: list[int],
                      values: Any) -> Any:  # fmt: skip
        if self.slow_rise and fc == 15 and values and address == 0 and values[0]:
            self.slow_rise = False
            await asyncio.sleep(0.25)  # the box's request timeout is 100 ms
        return await super()._action(fc, start, address, count, registers, values)


@pytest.fixture
def cell(tmp_path: Path) -> Iterator[OneCell]:
    c = OneCell(
        tmp_path,
        sim_cls=SlowRiseSim,
        sim={"watchdog_ms": 5000},
        plc={"reconnect_backoff_ms": (600, 1200)},
        stop_check=stop_bounds(50, 10),
    )
    with c:
        yield c


def test_a_late_applied_permit_on_still_gets_its_stop_checked(cell: OneCell) -> None:
    sim = cell.sim
    assert isinstance(sim, SlowRiseSim)
    assert cell.ctl.edm is not None
    assert wait_for(cell.ready, 5)
    sim.slow_rise = True
    sim.press_reset()  # the box accepts it on release and writes permit ON: that write is slow
    assert wait_for(lambda: cell.link.losses > 0, 3), "the ON write did not time out"
    assert wait_for(lambda: sim.permit_seen, 1), "the late ON was not applied"
    assert wait_for(sim.press_start, 1), "machine not ready on the late ON"
    sim.set_ignore_permit(True)  # from now on the PLC does not act on the permit
    assert wait_for(lambda: cell.link.healthy, 3), "never healed"
    assert wait_for(lambda: not sim.permit_seen, 1)  # the box's OFF is at the PLC
    time.sleep(0.5)  # >> latch bound (20 ms) + polls
    assert sim.machine_running
    assert not sim.machine.latched
    assert cell.ctl.edm.fault is not None, (
        "machine running, PLC unlatched, box permit OFF for 500 ms: stop never checked"
    )
