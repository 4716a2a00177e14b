"""Reject scheduling: fire at the ejector, not before, not after; late verdicts never lost."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from plantvision.conveyor import COUNT_MODULUS, Actions, RejectScheduler
from tests.conveyor.helpers import (
    FRAME_H,
    FRAME_W,
    MS,
    FakeTimer,
    SimBelt,
    encoder_cfg,
    frame,
    make_cfg,
)

CYCLE_NS = 10 * MS


def run(
    sched: RejectScheduler,
    timer: FakeTimer,
    belt: SimBelt | None,
    t_from_ns: int,
    t_to_ns: int,
) -> list[Actions]:
    """Step cycles of 10 ms: the timer fires what is due, then the scheduler updates."""
    out = []
    for t in range(t_from_ns, t_to_ns, CYCLE_NS):
        timer.run_until(t)
        count = None
        if belt is not None:
            belt.advance_to(t)
            count = belt.count()
        actions = sched.update(t, count)
        timer.apply(actions)
        out.append(actions)
    return out


def plans_of(actions: list[Actions]) -> list[Any]:
    return [p for a in actions for p in a.plans]


def test_defective_item_fires_at_arrival_minus_response() -> None:
    """An item seen at 100 mm on a 500 mm/s belt reaches the 1000 mm ejector 1800 ms later;
    the coil goes on 20 ms (the actuator response) before that, once, for 30 ms."""
    sched = RejectScheduler(make_cfg())
    timer = FakeTimer(sched)
    with capture_logs() as logs:
        sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
        acts = run(sched, timer, None, 0, 2000 * MS)
    plans = plans_of(acts)
    assert [(p.ejector_id, p.fire_at_ns, p.pulse_ns) for p in plans] == [
        ("ej1", 1780 * MS, 30 * MS)
    ]
    assert timer.fired == {1: [1780 * MS]}
    events = [e["event"] for e in logs]
    assert events == ["defect_without_item", "reject_scheduled", "reject_fired"]
    assert sched.counters.as_dict() | {} == {
        "seen": 1,
        "defective": 1,
        "scheduled": 1,
        "fired": 1,
        "missed": 0,
        "confirmed": 0,
        "unconfirmed": 0,
        "unconfirmed_ambiguous": 0,
        "frames_unplaced": 0,
        "belt_unplaced": 0,
        "discontinuities": 0,
        "fifo_resent": 0,
        "fifo_refused": 0,
        "fifo_overflow": 0,
        "neighbour_hits": 0,
        "cycle_short": 0,
        "blind_segments": 0,
        "blind_pushes": 0,
    }


def test_plan_is_armed_only_inside_the_horizon() -> None:
    """No plan leaves the scheduler earlier than horizon_ms before its fire time."""
    sched = RejectScheduler(make_cfg())
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    assert sched.update(1670 * MS, None).plans == ()
    assert len(sched.update(1680 * MS, None).plans) == 1


def test_good_item_gets_no_plan() -> None:
    """An item never seen with a defect is tracked and counted, and never fired."""
    sched = RejectScheduler(make_cfg())
    timer = FakeTimer(sched)
    sched.observe(0, 0, frame([(100, 240, "item")]), FRAME_W, FRAME_H, None)
    acts = run(sched, timer, None, 0, 2500 * MS)
    assert plans_of(acts) == []
    assert sched.counters.seen == 1
    assert sched.counters.defective == 0


def test_same_item_in_several_frames_gives_one_verdict() -> None:
    """Five frames of one item moving with the belt (defect seen in two of them) fire once."""
    sched = RejectScheduler(make_cfg())
    timer = FakeTimer(sched)
    for k in range(5):
        t = k * 40 * MS
        x = 100 + 20 * k  # 500 mm/s x 40 ms = 20 mm per frame
        # an item box in every frame, the defect box on it in two of them (a frame holds one
        # box per item: two item boxes 3 px apart do not survive the detector's NMS)
        dets = [(x, 240, "item"), (x + 3, 241, "defect")] if k in (1, 3) else [(x, 240, "item")]
        sched.observe(t + 5 * MS, t, frame(dets), 640, 480, None)
    acts = run(sched, timer, None, 200 * MS, 2500 * MS)
    assert len(plans_of(acts)) == 1
    assert sched.counters.seen == 1
    assert sched.counters.defective == 1
    assert list(timer.fired) == [1]


def test_defect_seen_in_a_later_frame_marks_the_item() -> None:
    """An item first seen good and later with a defect is rejected."""
    sched = RejectScheduler(make_cfg())
    sched.observe(0, 0, frame([(100, 240, "item")]), FRAME_W, FRAME_H, None)
    sched.observe(100 * MS, 100 * MS, frame([(150, 240, "defect")]), FRAME_W, FRAME_H, None)
    assert sched.counters.seen == 1
    assert sched.counters.defective == 1


def test_two_items_close_together_fire_separately() -> None:
    """Two defective items 30 mm apart (gate 20 mm) fire 60 ms apart, each once."""
    sched = RejectScheduler(make_cfg())
    timer = FakeTimer(sched)
    sched.observe(0, 0, frame([(100, 240, "defect"), (130, 240, "defect")]), 640, 480, None)
    run(sched, timer, None, 0, 2000 * MS)
    assert timer.fired == {2: [1720 * MS], 1: [1780 * MS]}


def test_late_verdict_is_a_missed_reject_with_alarm() -> None:
    """A frame processed after the item's fire time gives reject_missed, an alarm, no plan."""
    sched = RejectScheduler(make_cfg())
    with capture_logs() as logs:
        # Captured at 0 at 990 mm: fire time was 20 ms - 20 ms = 0; decided 5 ms later.
        sched.observe(5 * MS, 0, frame([(990, 240, "defect")]), 2000, FRAME_H, None)
        acts = sched.update(5 * MS, None)
    assert acts.plans == ()
    assert [(m.item_id, m.reason, m.late_ms) for m in acts.missed] == [(1, "late", 5.0)]
    assert [a.kind for a in acts.alarms] == ["reject_missed"]
    assert acts.stop_belt is False
    missed = [e for e in logs if e["event"] == "reject_missed"]
    assert missed[0]["action"] == "alarm"
    assert sched.counters.missed == 1
    assert sched.update(10 * MS, None).missed == ()  # reported once


@pytest.mark.parametrize(("missed_action", "stop_belt"), [("alarm", False), ("stop_belt", True)])
def test_missed_action_decides_belt_stop(missed_action: str, stop_belt: bool) -> None:
    """missed_action stop_belt latches the stop flag until cleared; alarm leaves the belt."""
    sched = RejectScheduler(make_cfg(missed_action=missed_action))
    sched.observe(5 * MS, 0, frame([(995, 240, "defect")]), 2000, FRAME_H, None)
    assert sched.update(5 * MS, None).stop_belt is stop_belt
    assert sched.update(50 * MS, None).stop_belt is stop_belt  # latched
    sched.clear_stop_belt()
    assert sched.update(60 * MS, None).stop_belt is False


def test_item_outside_every_lane_is_missed() -> None:
    """A defective item in no ejector's lane is a missed reject, not silently dropped."""
    ejectors = [
        {"id": "a", "position_mm": 1000, "pulse_ms": 30, "lane_min_mm": 0, "lane_max_mm": 200},
        {"id": "b", "position_mm": 1200, "pulse_ms": 30, "lane_min_mm": 200, "lane_max_mm": 400},
    ]
    sched = RejectScheduler(make_cfg(ejectors=ejectors))
    timer = FakeTimer(sched)
    sched.observe(0, 0, frame([(100, 300, "defect"), (100, 450, "defect")]), 640, 480, None)
    acts = run(sched, timer, None, 0, 2500 * MS)
    assert [(p.ejector_id, p.fire_at_ns) for p in plans_of(acts)] == [("b", 2200 * MS)]
    assert [(m.item_id, m.reason) for a in acts for m in a.missed] == [(2, "no_ejector_for_lane")]


def test_encoder_wrap_at_2_pow_32_keeps_the_fire_time() -> None:
    """The encoder passes 2^32 while the item travels: the plan is as without a wrap."""
    sim = SimBelt(speed_mm_s=500.0, raw0=COUNT_MODULUS - 3000)  # wraps after 300 mm
    sched = RejectScheduler(encoder_cfg())
    timer = FakeTimer(sched)
    run(sched, timer, sim, 0, 100 * MS)
    sched.observe(
        100 * MS, 100 * MS, frame([(100, 240, "defect")]), 640, 480, sim.count_at(100 * MS)
    )
    run(sched, timer, sim, 110 * MS, 2200 * MS)
    assert timer.fired == {1: [1880 * MS]}


def test_speed_change_retimes_an_armed_plan() -> None:
    """The belt doubles its speed after the plan was armed: it is re-sent, earlier, same item,
    and fires once at the new arrival time (once the speed estimate has settled)."""
    sim = SimBelt(speed_mm_s=500.0)
    sched = RejectScheduler(encoder_cfg(horizon_ms=300.0))
    timer = FakeTimer(sched)
    sched.observe(0, 0, frame([(100, 240, "defect")]), 640, 480, sim.count())
    first = plans_of(run(sched, timer, sim, 10 * MS, 1500 * MS))
    assert [p.fire_at_ns for p in first] == [1780 * MS]
    sim.advance_to(1500 * MS)
    sim.speed_mm_s = 1000.0  # 150 mm left at 1500 ms: arrival 1650 ms, fire 1630 ms
    retimed = plans_of(run(sched, timer, sim, 1500 * MS, 1900 * MS))
    assert {p.item_id for p in retimed} == {1}
    assert retimed[-1].fire_at_ns == 1630 * MS
    assert timer.fired == {1: [1630 * MS]}
    assert sched.counters.scheduled == 1


def test_stopped_belt_cancels_the_plan_and_restart_re_arms_it() -> None:
    """A belt stop while the plan is armed withdraws it; the fire follows the belt's restart."""
    sim = SimBelt(speed_mm_s=500.0)
    sched = RejectScheduler(encoder_cfg())
    timer = FakeTimer(sched)
    sched.observe(0, 0, frame([(100, 240, "defect")]), 640, 480, sim.count())
    run(sched, timer, sim, 10 * MS, 1700 * MS)
    assert 1 in timer.armed
    sim.advance_to(1700 * MS)
    sim.speed_mm_s = 0.0  # stops with 50 mm to go (fire point 40 mm away) for 3 s
    stop_acts = run(sched, timer, sim, 1700 * MS, 4700 * MS)
    assert [c for a in stop_acts for c in a.cancels] == [1]
    assert timer.fired == {}
    sim.advance_to(4700 * MS)
    sim.speed_mm_s = 500.0  # 40 mm to the fire point: 80 ms
    run(sched, timer, sim, 4700 * MS, 5000 * MS)
    assert len(timer.fired[1]) == 1
    assert abs(timer.fired[1][0] - 4780 * MS) <= 2 * MS
    assert sched.counters.scheduled == 1


def test_item_passing_the_ejector_while_stopped_estimate_is_missed() -> None:
    """With no speed known, an item whose ejector lies behind it is missed, not waited for."""
    sim = SimBelt(speed_mm_s=0.0)
    sched = RejectScheduler(encoder_cfg())
    sched.observe(0, 0, frame([(1100, 240, "defect")]), 2000, 480, sim.count())
    acts = sched.update(10 * MS, sim.count_at(10 * MS))
    assert [m.reason for m in acts.missed] == ["passed_while_stopped"]


def test_plc_mode_writes_a_wrapped_encoder_count() -> None:
    """PLC-timed: the verdict is the count at arrival, wrapped, and the response as lead."""
    sim = SimBelt(speed_mm_s=500.0, raw0=COUNT_MODULUS - 100)
    sched = RejectScheduler(encoder_cfg(timing_mode="plc"))
    timer = FakeTimer(sched)
    run(sched, timer, sim, 0, 100 * MS)  # travel 50 mm
    with capture_logs() as logs:
        sched.observe(
            100 * MS, 100 * MS, frame([(100, 240, "defect")]), 640, 480, sim.count_at(100 * MS)
        )
        acts = sched.update(100 * MS, sim.count())
    # Arrival at travel 50 + 900 = 950 mm: 9500 counts past raw0; the PLC leads it by 20 ms.
    assert [(v.ejector_id, v.arrival_count, v.lead_ms) for v in acts.verdicts] == [
        ("ej1", 9400, 20.0)
    ]
    assert acts.plans == ()
    assert logs[-1]["event"] == "reject_scheduled"
    assert (logs[-1]["arrival_count"], logs[-1]["lead_ms"]) == (9400, 20.0)


def test_plc_mode_late_verdict_is_missed() -> None:
    """PLC-timed: a verdict whose fire count has passed is a missed reject, no verdict."""
    sim = SimBelt(speed_mm_s=500.0)
    sched = RejectScheduler(encoder_cfg(timing_mode="plc", missed_action="stop_belt"))
    run(sched, FakeTimer(sched), sim, 0, 30 * MS)
    sched.observe(30 * MS, 30 * MS, frame([(995, 240, "defect")]), 2000, 480, sim.count_at(30 * MS))
    acts = sched.update(30 * MS, sim.count())
    assert acts.verdicts == ()
    assert [m.reason for m in acts.missed] == ["late"]
    # At 30 ms: item at 995 mm, fire point 10 mm back (20 ms x 0.5 mm/ms): 5 mm = 10 ms late.
    assert acts.missed[0].late_ms == pytest.approx(10.0)
    assert acts.stop_belt is True


def confirm_setup() -> tuple[RejectScheduler, FakeTimer]:
    sched = RejectScheduler(make_cfg(confirm_window_ms=200.0))
    timer = FakeTimer(sched)
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    run(sched, timer, None, 0, 1800 * MS)  # fired at 1780 ms
    return sched, timer


def test_confirmation_inside_the_window_is_logged() -> None:
    """The bin sensor within the window confirms the reject: no alarm, belt runs."""
    sched, timer = confirm_setup()
    with capture_logs() as logs:
        sched.report_confirm(1900 * MS)
        acts = run(sched, timer, None, 1900 * MS, 2500 * MS)
    assert [e["event"] for e in logs] == ["reject_confirmed"]
    assert all(a.alarms == () and not a.stop_belt for a in acts)
    assert sched.counters.confirmed == 1


def test_missing_confirmation_alarms_and_stops_the_belt() -> None:
    """No bin sensor within the window: reject_unconfirmed, an alarm and a belt stop."""
    sched, timer = confirm_setup()
    with capture_logs() as logs:
        acts = run(sched, timer, None, 1800 * MS, 2100 * MS)
    alarms = [(a.kind, a.item_id) for x in acts for a in x.alarms]
    assert alarms == [("reject_unconfirmed", 1)]
    assert acts[-1].stop_belt is True
    assert [e["event"] for e in logs] == ["reject_unconfirmed"]
    assert sched.counters.unconfirmed == 1


def test_confirmation_with_nothing_fired_is_flagged() -> None:
    """A bin sensor pulse with no reject waiting is logged, not counted."""
    sched = RejectScheduler(make_cfg(confirm_window_ms=200.0))
    with capture_logs() as logs:
        sched.report_confirm(5 * MS)
    assert [e["event"] for e in logs] == ["reject_confirm_unexpected"]
    assert sched.counters.confirmed == 0


def test_fired_report_is_counted_once() -> None:
    """A second fired report for the same item is refused and logged."""
    sched = RejectScheduler(make_cfg())
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    sched.update(1700 * MS, None)
    with capture_logs() as logs:
        sched.report_fired(1, 1780 * MS)
        sched.report_fired(1, 1781 * MS)
    assert [e["event"] for e in logs] == ["reject_fired", "reject_fired_unexpected"]
    assert sched.counters.fired == 1


def test_encoder_belt_without_a_reading_counts_unplaced_frames() -> None:
    """A frame with no encoder reading yet cannot be placed: counted and logged, not guessed."""
    sched = RejectScheduler(encoder_cfg())
    with capture_logs() as logs:
        sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    assert sched.counters.frames_unplaced == 1
    assert logs[0]["event"] == "belt_position_unknown"


def test_plc_mode_confirm_before_the_next_update_confirms_the_fired_verdict() -> None:
    """PLC-timed: a bin sensor pulse that arrives after the PLC's fire count but before the
    next update confirms that reject (no reject_confirm_unexpected, no later trip)."""
    sim = SimBelt(speed_mm_s=500.0)
    sched = RejectScheduler(encoder_cfg(timing_mode="plc", confirm_window_ms=200.0))
    run(sched, FakeTimer(sched), sim, 0, 100 * MS)
    sched.observe(
        100 * MS, 100 * MS, frame([(100, 240, "defect")]), 640, 480, sim.count_at(100 * MS)
    )
    assert len(sched.update(100 * MS, sim.count()).verdicts) == 1
    # Fire point at travel 940 mm = 1880 ms; cycles run to 1870 ms, then the confirm comes
    # 50 ms after the fire, before the next cycle's update has noticed it.
    run(sched, FakeTimer(sched), sim, 110 * MS, 1880 * MS)
    with capture_logs() as logs:
        sched.report_confirm(1930 * MS)
    assert [e["event"] for e in logs] == ["reject_confirmed"]
    assert sched.counters.confirmed == 1
    acts = sched.update(2500 * MS, sim.count_at(2500 * MS))
    assert (acts.alarms, acts.stop_belt, sched.counters.unconfirmed) == ((), False, 0)
