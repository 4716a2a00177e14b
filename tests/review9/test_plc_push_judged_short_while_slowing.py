"""PLC-timed: a push that lands on its item while the belt slows (not stops) is judged short.

The box judges a PLC-timed push where the belt was at the switch-on plus the lead, and takes the
switch-on as the moment the belt passed `fire_mm`: the arrival less the lead at the box's own
latest speed (`_commit_plc`). The PLC fires at the arrival less the lead at *its* speed at the
firing. While the belt decelerates the box's speed (a 30 ms window, read at the commit, up to a
cycle after the fire) is higher than the PLC's (a 10 ms window, at the fire): the box's fire point
lies upstream of the PLC's, so it dates the switch-on early and the landing short. Here the
reference PLC program's paddle meets the belt 7 mm short of the item (inside the 10 mm reach: the
item is pushed), and the box books it a missed reject `fired_short` at -11 mm: a false alarm (with
`missed_action: stop_belt`, a belt stop) on an ordinary ramp down, 1 m/s to 0.5 m/s at 5 m/s^2.

Truth here shares no code with the judgement: this file's travel profile and `FifoReader`, the
reference PLC program, scanning every 1 ms.

Fixed: the box dates the PLC's switch-on by the PLC's own rule replayed on its readings
(`Belt.lead_reached_ns`, the PLC's speed window `PLC_SPEED_WINDOW_MS`).
"""

from __future__ import annotations

import pytest

from plantvision.conveyor import RejectScheduler
from tests.conveyor.reference_plc import REACH_MM, run_cell

V0, V1, DECEL = 1.0, 0.5, 0.005  # mm/ms, mm/ms, mm/ms^2 (5 m/s^2)


def travel_mm(t_ms: float, slow_from_ms: float) -> float:
    """The belt's truth: V0, then a linear ramp down to V1 from `slow_from_ms`, then V1."""
    if t_ms <= slow_from_ms:
        return V0 * t_ms
    ramp_ms = (V0 - V1) / DECEL
    d = min(t_ms - slow_from_ms, ramp_ms)
    x = V0 * slow_from_ms + V0 * d - DECEL * d * d / 2
    return x + V1 * max(0.0, t_ms - slow_from_ms - ramp_ms)


def run(slow_from_ms: float) -> tuple[RejectScheduler, float]:
    """The cell of tests.conveyor.reference_plc over this file's belt."""
    return run_cell(lambda t_ms: travel_mm(t_ms, slow_from_ms), 1500)


@pytest.mark.parametrize("slow_from_ms", [800.0, 805.0])
def test_a_push_that_lands_within_the_reach_while_the_belt_slows_is_a_fire(
    slow_from_ms: float,
) -> None:
    """A paddle that meets the item within its reach while the belt ramps down (1 to 0.5 m/s)
    pushed it: booked fired, never a missed reject (a false alarm stops the belt)."""
    sched, off_mm = run(slow_from_ms)
    assert -REACH_MM < off_mm < 0  # the truth: short, but within the reach
    assert (sched.counters.fired, sched.counters.missed) == (1, 0)


def test_the_same_ramp_later_lands_on_the_item_and_is_a_fire() -> None:
    """Contrast: the ramp starts after the landing; the push is judged a fire."""
    sched, off_mm = run(slow_from_ms=2000.0)
    assert abs(off_mm) <= 1.0
    assert (sched.counters.fired, sched.counters.missed) == (1, 0)
