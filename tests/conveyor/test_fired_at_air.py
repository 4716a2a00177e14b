"""Box-timed: a switch-on is judged by where the belt says the item was at the push.

A box-timed plan's fire time is computed from the speed at arming. When the belt slows or stops
after that (the PLC's watchdog stopping it on stale verdicts while the camera hangs, an operator
stop, a jam) and no camera cycle re-times the plan first, the timer switches the coil on at the
planned time and the paddle meets the belt short of the item: a push at air. The scheduler
judges each reported switch-on by the encoder history at the push (switch-on plus output
latency and actuator response) against the belt travel at which the item is at the ejector
line: short of it by more than `reach_mm` is a missed reject (`fired_short`), beyond it
`fired_late`, inside it a fire. Never on a projection: until a real reading at or after the push
is in, the report waits; none within `encoder.stale_ms` is a missed reject (`fired_unplaced`).

A defect at 100 mm at 0 ms on a 500 mm/s encoder belt (10 counts/mm); ejector 1000 mm
downstream, 20 ms actuator response: the item is at the line at 900 mm of travel (1800 ms),
the plan switches on at ~1780 ms. The camera's last cycle is at 1700 ms (it hangs); the input
poller goes on reading the encoder every 10 ms (the runtime feeds the belt each reading).
"""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from plantvision.conveyor import Actions, FirePlan, RejectScheduler
from plantvision.conveyor.actions import Alarm
from tests.conveyor.helpers import FRAME_H, FRAME_W, MS, FakeTimer, SimBelt, encoder_cfg, frame

CHANGE_MS = 1720  # the belt changes speed here, after the plan was armed, before it fires


def ejector(reach_mm: float | None) -> dict[str, Any]:
    return {"id": "ej1", "position_mm": 1000.0, "actuator_response_ms": 20.0,
            "pulse_ms": 30.0, "reach_mm": reach_mm}  # fmt: skip


def armed(reach_mm: float | None = 10.0, **over: Any) -> tuple[RejectScheduler, SimBelt, FirePlan]:
    """Camera cycles every 10 ms to 1700 ms: the plan for ~1780 ms is armed."""
    sched = RejectScheduler(encoder_cfg(ejectors=[ejector(reach_mm)], **over))
    belt, timer = SimBelt(500.0), FakeTimer(sched)
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, belt.count_at(0))
    for t in range(10 * MS, 1710 * MS, 10 * MS):
        timer.apply(sched.update(t, belt.count_at(t)))
    plan = timer.armed[1]
    assert abs(plan.fire_at_ns - 1780 * MS) < MS
    return sched, belt, plan


def poll(sched: RejectScheduler, belt: SimBelt, from_ms: int, to_ms: int) -> None:
    """The input poller's encoder readings, fed to the belt (no camera cycle)."""
    for t_ms in range(from_ms, to_ms + 1, 10):
        if t_ms == CHANGE_MS:
            belt.advance_to(t_ms * MS)
        sched.belt.sample(t_ms * MS, belt.count_at(t_ms * MS))


def fire_after_change(speed_mm_s: float, reach_mm: float | None = 10.0) -> RejectScheduler:
    """The belt goes to `speed_mm_s` at 1720 ms; the timer switches on at the planned time; the
    camera thread takes the report at 1850 ms, the poller's readings to then in."""
    sched, belt, plan = armed(reach_mm)
    poll(sched, belt, 1710, CHANGE_MS - 10)
    belt.advance_to(CHANGE_MS * MS)
    belt.speed_mm_s = speed_mm_s
    poll(sched, belt, CHANGE_MS, 1850)
    sched.report_fired(1, plan.fire_at_ns)
    return sched


def test_a_push_at_the_planned_time_on_a_belt_stopped_after_arming_is_a_missed_reject() -> None:
    """Stopped at 1720 ms (860 mm): the push at ~1800 ms meets the belt 40 mm short of the item,
    beyond the 10 mm reach: a missed reject `fired_short`, counted and alarmed, not a fire (the
    defect would go on, uncounted, when the belt restarts)."""
    with capture_logs() as logs:
        sched = fire_after_change(0.0)
        acts = sched.update(1850 * MS, None)
    assert [(m.item_id, m.reason) for m in acts.missed] == [(1, "fired_short")]
    assert Alarm("reject_missed", 1) in acts.alarms
    assert (sched.counters.fired, sched.counters.missed) == (0, 1)
    (missed,) = [e for e in logs if e["event"] == "reject_missed"]
    assert missed["off_mm"] == pytest.approx(-40.0, abs=0.5)


@pytest.mark.parametrize(
    ("speed_mm_s", "outcome"),
    [
        (250.0, "fired_short"),  # 880 mm at the push: 20 mm short, beyond the reach
        (400.0, "fired"),  # 892 mm: 8 mm short, inside the 10 mm reach
        (600.0, "fired"),  # 908 mm: 8 mm past the line
        (700.0, "fired_late"),  # 916 mm: 16 mm past, beyond the reach
    ],
)
def test_a_belt_that_changes_speed_after_arming_is_judged_by_where_it_was(
    speed_mm_s: float, outcome: str
) -> None:
    sched = fire_after_change(speed_mm_s)
    acts = sched.update(1850 * MS, None)
    assert [m.reason for m in acts.missed] == ([] if outcome == "fired" else [outcome])
    assert sched.counters.fired == (outcome == "fired")


@pytest.mark.parametrize(("speed_mm_s", "fired"), [(500.0, True), (490.0, False)])
def test_without_a_reach_a_push_more_than_the_tolerance_off_the_item_is_missed(
    speed_mm_s: float, fired: bool
) -> None:
    """No reach: the re-time tolerance (0.5 ms, 0.25 mm at 500 mm/s) on the position. At
    490 mm/s the push is 0.8 mm short: missed; on the running belt: fired."""
    sched = fire_after_change(speed_mm_s, reach_mm=None)
    acts = sched.update(1850 * MS, None)
    assert [m.reason for m in acts.missed] == ([] if fired else ["fired_short"])
    assert sched.counters.fired == fired


@pytest.mark.parametrize(("speed_mm_s", "reason"), [(500.0, None), (0.0, "fired_short")])
def test_a_report_with_no_reading_at_the_push_waits_for_one(
    speed_mm_s: float, reason: str | None
) -> None:
    """The readings stop at 1770 ms (a slow link): the push at ~1800 ms is not judged on the
    projection at the last speed (that booked a fire at air). The report waits; the reading at
    2000 ms, the belt running or stopped since 1780 ms, decides it."""
    sched, belt, plan = armed()
    poll(sched, belt, 1710, 1770)
    sched.report_fired(1, plan.fire_at_ns)
    for t_ms in (1790, 1850, 1950):
        acts = sched.update(t_ms * MS, None)
        assert (acts.missed, sched.counters.fired) == ((), 0)
    belt.advance_to(1780 * MS)
    belt.speed_mm_s = speed_mm_s
    acts = sched.update(2000 * MS, belt.count_at(2000 * MS))
    assert [m.reason for m in acts.missed] == ([] if reason is None else [reason])
    assert (sched.counters.fired, sched.counters.missed) == (reason is None, reason is not None)


def test_a_report_no_reading_ever_places_is_a_missed_reject() -> None:
    """No reading for `encoder.stale_ms` (250 ms) after the push: where the paddle met the belt
    is unknown, so it is a missed reject (`fired_unplaced`), never a fire."""
    sched, belt, plan = armed()
    poll(sched, belt, 1710, 1770)
    sched.report_fired(1, plan.fire_at_ns)
    push_ns = plan.fire_at_ns + 20 * MS
    assert sched.update(push_ns + 250 * MS, None).missed == ()
    acts = sched.update(push_ns + 251 * MS, None)
    assert [(m.item_id, m.reason) for m in acts.missed] == [(1, "fired_unplaced")]
    assert (sched.counters.fired, sched.counters.missed) == (0, 1)


def test_plans_re_timed_on_each_reading_are_withdrawn_before_they_fire_at_air() -> None:
    """The input poller re-times armed plans on each reading (`retime`), not only the camera's
    cycles: the belt stopped at 1720 ms is seen standing and the plan is withdrawn before its
    ~1780 ms switch-on; when the belt runs again (2000 ms) the camera's cycle re-arms it and the
    push meets the item at the line: one fire, no miss."""
    sched, belt, plan = armed()
    timer = FakeTimer(sched)
    timer.armed[1] = plan
    poll(sched, belt, 1710, CHANGE_MS - 10)
    belt.advance_to(CHANGE_MS * MS)
    belt.speed_mm_s = 0.0
    for t_ms in range(CHANGE_MS, 2000, 10):
        timer.run_until(t_ms * MS)
        sched.belt.sample(t_ms * MS, belt.count_at(t_ms * MS))
        plans, cancels = sched.retime(t_ms * MS)
        timer.apply(Actions(plans, cancels, (), (), (), False, ()))
        if t_ms >= 1780:
            assert timer.armed == {}, "a plan for the standing belt"
    assert timer.fired == {}
    belt.advance_to(2000 * MS)
    belt.speed_mm_s = 500.0
    for t in range(2000 * MS, 2400 * MS, 10 * MS):
        timer.run_until(t)
        timer.apply(sched.update(t, belt.count_at(t)))
    assert list(timer.fired) == [1]
    assert (sched.counters.fired, sched.counters.missed) == (1, 0)


def test_re_timing_between_camera_cycles_arms_nothing_new() -> None:
    """A reject the camera's cycles have not armed yet stays for them: `retime` only moves or
    withdraws plans already armed."""
    sched = RejectScheduler(encoder_cfg(ejectors=[ejector(10.0)]))
    belt = SimBelt(500.0)
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, belt.count_at(0))
    for t in range(10 * MS, 1600 * MS, 10 * MS):
        assert sched.update(t, belt.count_at(t)).plans == ()  # beyond the 100 ms horizon
    for t in range(1600 * MS, 1800 * MS, 10 * MS):
        sched.belt.sample(t, belt.count_at(t))
        assert sched.retime(t) == ((), ())
