"""Box-timed re-timing, to the nanosecond: a plan follows the item's predicted fire time, is
re-sent only when that moves more than `retime_tolerance_ms`, belongs to the timer once within
the tolerance of firing, is withdrawn when the item leaves the horizon or the belt stops, and
a reject decided after its fire time is missed rather than fired late.

The item is moved by sighting it again: the track sits at the mean of its sightings, so a
second sighting `s` mm upstream of the first moves the fire time `s` ms later (500 mm/s belt).
"""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from plantvision.conveyor import FirePlan, RejectScheduler
from plantvision.conveyor.actions import Alarm, MissedReject
from tests.conveyor.helpers import (
    FRAME_H,
    FRAME_W,
    MS,
    FakeTimer,
    SimBelt,
    encoder_cfg,
    events,
    frame,
    make_cfg,
)

TOL_MS = 10.0  # retime_tolerance_ms of these tests
FIRE_NS = 1780 * MS  # the first sighting's fire time: 900 mm at 500 mm/s, less 20 ms response


def armed_item(**over: object) -> tuple[RejectScheduler, FakeTimer]:
    """A defect seen at 100 mm at 0 ms on the fixed 500 mm/s belt, stepped in 10 ms cycles to
    1680 ms: its plan for 1780 ms is armed (horizon 100 ms); tolerance 10 ms, gate 200 mm."""
    sched = RejectScheduler(make_cfg(retime_tolerance_ms=TOL_MS, gate_mm=200.0, **over))
    timer = FakeTimer(sched)
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    for t in range(0, 1690 * MS, 10 * MS):
        timer.run_until(t)
        timer.apply(sched.update(t, None))
    assert timer.armed[1].fire_at_ns == FIRE_NS
    return sched, timer


def resight(sched: RejectScheduler, t_ns: int, u_mm: float) -> None:
    """The camera sees the item again at `t_ns`, at belt-fixed `u_mm` (its place at travel 0)."""
    along_px = u_mm + t_ns // MS // 2  # 0.5 mm of travel per ms
    sched.observe(t_ns, t_ns, frame([(along_px, 240, "defect")]), 4000, FRAME_H, None)


def plan(fire_at_ns: int) -> FirePlan:
    return FirePlan("ej1", fire_at_ns, 30 * MS, 1)


@pytest.mark.parametrize(
    ("later_ms", "sent"),
    [
        (4, ()),  # inside the tolerance: the armed plan stands
        (10, ()),  # exactly the tolerance: still stands
        (12, (plan(FIRE_NS + 12 * MS),)),  # beyond it: re-sent at the new time
        (-12, (plan(FIRE_NS - 12 * MS),)),  # earlier beyond it: re-sent too
    ],
)
def test_an_armed_plan_is_re_sent_only_when_its_fire_time_moves_more_than_the_tolerance(
    later_ms: int, sent: tuple[FirePlan, ...]
) -> None:
    sched, _ = armed_item()
    resight(sched, 1700 * MS, 100 - later_ms)
    assert sched.update(1700 * MS, None).plans == sent


@pytest.mark.parametrize(("before_window_ns", "sent"), [(1, True), (0, False)])
def test_within_the_tolerance_of_its_fire_time_a_plan_belongs_to_the_timer(
    before_window_ns: int, sent: bool
) -> None:
    """From `retime_tolerance_ms` before its fire time the timer may already be switching the
    coil: a new prediction then is not sent (it could arrive after the fire); one nanosecond
    earlier it still is."""
    sched, _ = armed_item()
    resight(sched, 1760 * MS, 100 - 20)  # now 20 ms later
    now_ns = FIRE_NS - int(TOL_MS * MS) - before_window_ns
    acts = sched.update(now_ns, None)
    assert acts.plans == ((plan(FIRE_NS + 20 * MS),) if sent else ())
    assert acts.cancels == ()


def test_an_armed_plan_re_predicted_a_little_in_the_past_fires_at_once() -> None:
    """The item turns out nearer: its new fire time is 5 ms gone at 1700 ms, inside the
    tolerance, so the coil fires now rather than the reject being given up."""
    sched, timer = armed_item()
    resight(sched, 1700 * MS, 100 + 85)  # 85 ms earlier: 1695 ms
    acts = sched.update(1700 * MS, None)
    assert (acts.plans, acts.missed) == ((plan(1700 * MS),), ())
    timer.apply(acts)
    timer.run_until(1700 * MS)
    assert timer.fired == {1: [1700 * MS]}


def test_an_armed_plan_re_predicted_beyond_the_tolerance_in_the_past_is_missed() -> None:
    """15 ms gone (tolerance 10 ms): withdrawn and missed, with how late it was."""
    sched, _ = armed_item()
    resight(sched, 1700 * MS, 100 + 95)  # 95 ms earlier: 1685 ms
    acts = sched.update(1700 * MS, None)
    assert acts.plans == ()
    assert acts.cancels == (1,)
    assert acts.missed == (MissedReject(1, "ej1", "late", 15.0),)


@pytest.mark.parametrize(
    ("decided_ns", "plans", "missed"),
    [
        (0, (FirePlan("ej1", 0, 30 * MS, 1),), ()),  # decided at its fire time: fires at once
        (1, (), (MissedReject(1, "ej1", "late", 0.0),)),  # a nanosecond after: missed
        (5 * MS, (), (MissedReject(1, "ej1", "late", 5.0),)),  # inside the tolerance: missed
    ],
)
def test_a_reject_decided_after_its_fire_time_is_missed_even_within_the_tolerance(
    decided_ns: int, plans: tuple[FirePlan, ...], missed: tuple[MissedReject, ...]
) -> None:
    """The tolerance covers re-timing a plan already armed, never a first decision that comes
    late: the item 10 mm before the ejector (20 ms at 500 mm/s, response 20 ms) fires at 0."""
    sched = RejectScheduler(make_cfg(retime_tolerance_ms=TOL_MS))
    sched.observe(0, 0, frame([(990, 240, "defect")]), 2000, FRAME_H, None)
    acts = sched.update(decided_ns, None)
    assert (acts.plans, acts.missed) == (plans, missed)


def test_a_plan_is_armed_horizon_ms_before_its_fire_time_and_not_50_ns_earlier() -> None:
    sched = RejectScheduler(make_cfg())
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    assert sched.update(FIRE_NS - 100 * MS - 50, None).plans == ()
    assert sched.update(FIRE_NS - 100 * MS, None).plans == (plan(FIRE_NS),)


def test_a_plan_leaving_the_horizon_is_withdrawn_and_re_armed_when_the_item_is_near_again() -> None:
    """The item turns out 60 mm further back (fire 150 ms away, horizon 100 ms): the plan is
    withdrawn and the event says why; sighted again where it first was, it gets its plan back
    at its old time, and fires once."""
    sched, timer = armed_item()
    with capture_logs() as logs:
        resight(sched, 1690 * MS, 100 - 60)  # track at 70 mm: fire 1840 ms
        acts = sched.update(1690 * MS, None)
    assert (acts.cancels, acts.plans) == ((1,), ())
    assert events(logs, "reject_unarmed") == [
        {"item_id": 1, "reason": "belt_slowed_or_stopped", "log_level": "info"}
    ]
    timer.apply(acts)
    resight(sched, 1700 * MS, 160)  # track at (100 + 40 + 160) / 3 = 100 mm: fire 1780 ms
    acts = sched.update(1700 * MS, None)
    assert acts.plans == (plan(FIRE_NS),)
    timer.apply(acts)
    for t in range(1710 * MS, 1900 * MS, 10 * MS):
        timer.run_until(t)
        timer.apply(sched.update(t, None))
    assert timer.fired == {1: [FIRE_NS]}
    assert (sched.counters.scheduled, sched.counters.fired) == (1, 1)


def test_a_coil_that_fired_while_its_cancel_was_under_way_is_the_reject() -> None:
    """The timer reports the fire of a plan the scheduler had just withdrawn (the cancel
    reached it after the switch-on, at the plan's time): the item was pushed, so it gets no
    second plan when it comes near again."""
    sched, _ = armed_item()
    resight(sched, 1765 * MS, 0)  # the mean 50 mm upstream: 100 ms later, past the horizon
    assert sched.update(1765 * MS, None).cancels == (1,)
    sched.report_fired(1, FIRE_NS)
    resight(sched, 1770 * MS, 200)  # the mean back at 100 mm: due at 1780 ms again
    later = [sched.update(t, None) for t in range(1770 * MS, 1900 * MS, 10 * MS)]
    assert [a.plans for a in later if a.plans] == []
    assert (sched.counters.fired, sched.counters.missed) == (1, 0)


def test_a_fire_report_after_the_bin_sensor_confirmed_opens_no_new_window() -> None:
    """The coil's report comes late (written once the link was back), after the bin sensor has
    already confirmed the item: it is counted, and no confirm window reopens to trip later."""
    sched = RejectScheduler(make_cfg(confirm_window_ms=200.0))
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    for t in range(0, 1790 * MS, 10 * MS):
        sched.update(t, None)  # committed at its planned 1780 ms
    sched.report_confirm(1790 * MS)
    sched.report_fired(1, 1780 * MS)  # the coil on at its time, its report taken after
    assert sched.update(2500 * MS, None).alarms == ()
    assert (sched.counters.fired, sched.counters.confirmed) == (1, 1)


def test_a_belt_that_stops_withdraws_the_armed_plan_and_says_why() -> None:
    """With a horizon long enough that the slowing belt keeps the item inside it, the plan is
    withdrawn when the belt is measured standing, not before it is given up."""
    sim = SimBelt(speed_mm_s=500.0)
    sched = RejectScheduler(encoder_cfg(horizon_ms=1000.0))
    timer = FakeTimer(sched)
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, sim.count())
    for t in range(10 * MS, 1700 * MS, 10 * MS):
        timer.apply(sched.update(t, sim.count_at(t)))
    assert 1 in timer.armed
    sim.advance_to(1700 * MS)
    sim.speed_mm_s = 0.0
    with capture_logs() as logs:
        acts = [sched.update(t, sim.count_at(t)) for t in range(1700 * MS, 2000 * MS, 10 * MS)]
    assert [c for a in acts for c in a.cancels] == [1]
    assert [m for a in acts for m in a.missed] == []
    assert events(logs, "reject_unarmed") == [
        {"item_id": 1, "reason": "belt_slowed_or_stopped", "log_level": "info"}
    ]


@pytest.mark.parametrize("mode", ["box", "plc"])
@pytest.mark.parametrize(("item_px", "passed"), [(999.5, False), (1000.0, False), (1000.5, True)])
def test_with_no_speed_an_item_is_given_up_only_once_it_is_past_its_ejector(
    mode: str, item_px: float, passed: bool
) -> None:
    """Standing belt (box: measured; PLC: one reading, no speed yet): an item short of its
    ejector, or exactly at it, is waited for; one half a mm past it is missed, with its
    ejector, at the time it was decided."""
    sim = SimBelt(speed_mm_s=0.0)
    sched = RejectScheduler(encoder_cfg(timing_mode=mode))
    with capture_logs() as logs:
        sched.observe(0, 0, frame([(item_px, 240, "defect")]), 2000, FRAME_H, sim.count())
        acts = sched.update(0 if mode == "plc" else 10 * MS, sim.count())
    missed = MissedReject(1, "ej1", "passed_while_stopped", 0.0)
    assert acts.missed == ((missed,) if passed else ())
    assert acts.alarms == ((Alarm("reject_missed", 1),) if passed else ())
    assert (acts.plans, acts.verdicts) == ((), ())
    t_ns = 0 if mode == "plc" else 10 * MS
    assert [e["t_ns"] for e in events(logs, "reject_missed")] == ([t_ns] if passed else [])
