"""Review 4 holes in the `plc_latched` deferral (controller.py `_take_reset` / `_latched_after`).

1. A press waits, unjudged, until a sample taken after its release exists (controller.py:433-435);
   the guard then judges it against the zones *at that moment*. With a congested link (reads
   slow but within the request timeout) the wait lasts a whole slow read: a person who walks into
   the stop zone after the press and out again before that sample gets the permit raised behind
   them by the press made before they entered. Without the deferral the press is judged within a
   cycle of its release and refused (zone occupied / clear hold).
2. A PLC that clears its latch on the reset's falling edge (ISO 13849-1's manual reset; the PLCopen
   blocks act on the release) publishes the cleared latch a scan or two later. With a 30 ms scan
   the sample after the release still shows the latch: a good press at standstill is refused as
   `plc_latched` ("press again once the machine stands still") although the PLC took it; every
   restart needs two presses.

Real threads, real PlcLink over TCP, the real simulator (a subclass that slows reads for a while
after the reset input falls, or clears the latch on the release plus two scans).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from plantvision.loop.edm import stop_bounds
from simulators.plc import PlcSimulator
from simulators.plc.machine import Machine, Phase
from tests.loop.rig import INSIDE, OUTSIDE
from tests.review3.cell import OneCell, wait_for

READ_FCS = (1, 2, 3, 4)


class SlowReadsAfterRelease(PlcSimulator):
    """Read requests are answered `read_delay_s` late for `window_s` after the reset input falls
    (a congested link; every request still inside the box's timeout)."""

    read_delay_s = 0.25
    window_s = 0.0  # armed by the test

    async def _action(self, fc: int, start: int, address: int, count: int, registers: list[int],
                      values: Any) -> Any:  # fmt: skip
        if self.window_s and fc in READ_FCS:
            now = self._clock()
            fall = self.machine._reset_until_ns
            if fall <= now < fall + int(self.window_s * 1e9):
                await asyncio.sleep(self.read_delay_s)
        return await super()._action(fc, start, address, count, registers, values)


@pytest.fixture
def slow_cell(tmp_path: Path) -> Iterator[OneCell]:
    c = OneCell(
        tmp_path,
        sim_cls=SlowReadsAfterRelease,
        sim={"watchdog_ms": 5000},
        plc={"request_timeout_ms": 400},
        guard={"clear_hold_ms": 200},
    )
    with c:
        yield c


def test_a_press_is_not_carried_across_a_later_zone_entry(slow_cell: OneCell) -> None:
    cell, sim = slow_cell, slow_cell.sim
    assert isinstance(sim, SlowReadsAfterRelease)
    assert wait_for(cell.ready, 5)  # clear for clear_hold: a press now would be accepted
    sim.window_s = 2.0
    presses = cell.ctl.resets.presses
    sim.press_reset()  # 500 ms, at standstill: the PLC clears its latch
    assert wait_for(lambda: cell.ctl.resets.presses > presses, 3), "press not accepted"
    t_accepted = time.monotonic()
    # The press is released and accepted by the button; the next sample is slow. A person walks
    # into the stop zone and out again.
    cell.detector.boxes = [INSIDE]
    time.sleep(0.12)
    assert cell.cam.last_output is not None
    assert not cell.cam.last_output.permit
    cell.detector.boxes = [OUTSIDE]
    occupied_until = time.monotonic()
    assert wait_for(lambda: sim.permit_seen, 3) is False, (
        f"permit rose on a press accepted {occupied_until - t_accepted:.2f} s before a person "
        "left the stop zone (entered after the press)"
    )


class ReleaseClearMachine(Machine):
    """Clears the latch `clear_after_ns` after the reset input falls (seen on the falling edge,
    published a scan later), if the machine stands still then."""

    clear_after_ns = 60_000_000  # two 30 ms scans
    _clear_at: int | None = None

    def press_reset(self, now_ns: int, pulse_ns: int | None = None) -> bool:
        self.advance(now_ns)
        self._reset_until_ns = self._t_ns + (
            self.p.reset_pulse_ns if pulse_ns is None else pulse_ns
        )
        if self.phase is not Phase.STOPPED:
            return False
        self._clear_at = self._reset_until_ns + self.clear_after_ns
        return True

    def advance(self, now_ns: int) -> None:
        super().advance(now_ns)
        at = self._clear_at
        if at is not None and self._t_ns >= at:
            self._clear_at = None
            if self.latched and self.phase is Phase.STOPPED:
                self.latched, self._fresh_rise = False, False


class ReleaseClearSim(PlcSimulator):
    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.machine.__class__ = ReleaseClearMachine


def test_a_press_the_plc_took_on_its_release_is_not_refused(tmp_path: Path) -> None:
    # The box knows the PLC's scan (30 ms) from the deployment's safety.plc_scan_ms.
    cell = OneCell(tmp_path, sim_cls=ReleaseClearSim, stop_check=stop_bounds(50, 30))
    with cell, capture_logs() as logs:
        assert wait_for(cell.ready, 5)
        cell.sim.press_reset()  # at standstill: the PLC clears its latch 60 ms after the release
        assert wait_for(lambda: not cell.sim.machine.latched, 3), "PLC never cleared"
        time.sleep(0.5)
        refused = [e for e in logs if e["event"] == "reset_refused"]
        assert not refused, f"one press at standstill, which the PLC took: {refused}"
        assert cell.sim.permit_seen
