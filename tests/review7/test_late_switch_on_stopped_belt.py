"""A starved timer's late switch-on, reported once the belt has stopped, is booked as a fire.

`RejectScheduler._switch_on_late` judges a reported switch-on with the belt's speed at the
moment of the report, not at the switch-on, and returns "not late" whenever that speed is 0 or
unknown. The very starvation that delays the timer thread (every thread of the box runnable and
not run for hundreds of ms) also freezes the heartbeat, so the PLC's watchdog stops the belt: by
the time the camera thread gets to `report_fired`, the encoder reads a standing belt. The item
passed the ejector long before the coil went on, yet it is counted `fired` and no missed reject
is raised. The switch-on's lateness is knowable from the encoder history (the belt's travel at
the switch-on instant), whatever the belt does afterwards.
"""

from __future__ import annotations

import pytest

from plantvision.conveyor import RejectScheduler
from tests.conveyor.helpers import FRAME_H, FRAME_W, MS, FakeTimer, SimBelt, encoder_cfg, frame

EJECTOR = {"id": "ej1", "position_mm": 1000.0, "actuator_response_ms": 20.0,
           "pulse_ms": 30.0, "reach_mm": 10.0}  # fmt: skip


def run(stop_at_ms: int | None, coast_mm_s: float = 0.0) -> RejectScheduler:
    """A defect at 100 mm at 0 ms on a 500 mm/s encoder belt; its plan is for ~1780 ms. The
    timer gets no CPU until 1930 ms (150 ms late: 75 mm past the line, 65 mm beyond the 10 mm
    reach). The belt stops at `stop_at_ms` (the PLC's watchdog, the box being starved), or
    coasts on at `coast_mm_s`. The
    box runs again from 2050 ms; the input poller's readings are in (fed, as `step` feeds
    them before it takes the timer's reports) when the camera thread reports the switch-on
    at 2100 ms."""
    sched = RejectScheduler(encoder_cfg(ejectors=[EJECTOR]))
    belt = SimBelt(500.0)
    timer = FakeTimer(sched)
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, belt.count_at(0))
    plan = None
    for t_ms in range(0, 2091, 10):
        if stop_at_ms is not None and t_ms == stop_at_ms:
            belt.advance_to(t_ms * MS)
            belt.speed_mm_s = coast_mm_s
        count = belt.count_at(t_ms * MS)
        if t_ms <= 1700 or t_ms >= 2050:  # the box is starved from 1700 to 2050 ms
            timer.apply(sched.update(t_ms * MS, count))
            plan = timer.armed.get(1, plan)
    assert plan is not None
    assert abs(plan.fire_at_ns - 1780 * MS) < 5 * MS
    sched.report_fired(1, plan.fire_at_ns + 150 * MS)
    sched.update(2100 * MS, belt.count_at(2100 * MS))
    return sched


def test_a_late_switch_on_on_a_running_belt_is_missed() -> None:
    """The existing behaviour, for contrast: the belt still runs at the report."""
    sched = run(stop_at_ms=None)
    assert (sched.counters.fired, sched.counters.missed) == (0, 1)


@pytest.mark.parametrize("coast_mm_s", [0.0, 20.0])
def test_a_late_switch_on_reported_after_the_belt_stopped_is_missed(coast_mm_s: float) -> None:
    """Stopped (v == 0: not judged at all) or coasting at 20 mm/s (the 10 mm reach then
    "lasts" 500 ms): either way the switch-on 65 mm beyond the reach is booked a fire."""
    sched = run(stop_at_ms=1960, coast_mm_s=coast_mm_s)
    assert (sched.counters.fired, sched.counters.missed) == (0, 1)
