"""What the reject scheduler tells and counts: every event carries the item, the ejector and
the time a person needs to trace a reject; a missed reject is always a record, an alarm and a
count; a verdict the PLC lost goes out again; the confirmation window runs from the real fire."""

from __future__ import annotations

from structlog.testing import capture_logs

from plantvision.conveyor import Actions, PlcVerdict, RejectScheduler
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


def cycles(sched: RejectScheduler, timer: FakeTimer, t0_ms: int, t1_ms: int) -> list[Actions]:
    out = []
    for t in range(t0_ms * MS, t1_ms * MS, 10 * MS):
        timer.run_until(t)
        acts = sched.update(t, None)
        timer.apply(acts)
        out.append(acts)
    return out


def test_a_box_timed_reject_logs_item_ejector_and_times() -> None:
    sched = RejectScheduler(make_cfg())
    timer = FakeTimer(sched)
    with capture_logs() as logs:
        sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
        cycles(sched, timer, 0, 2000)
    assert events(logs, "reject_scheduled") == [
        {"item_id": 1, "ejector": "ej1", "mode": "box", "fire_at_ns": 1780 * MS,
         "retimed": False, "log_level": "info"}
    ]  # fmt: skip
    assert events(logs, "reject_fired") == [
        {"item_id": 1, "ejector": "ej1", "t_ns": 1780 * MS, "off_mm": 0.0, "log_level": "info"}
    ]


def test_counters_count_every_item_not_just_the_first() -> None:
    sched = RejectScheduler(make_cfg())
    timer = FakeTimer(sched)
    sched.observe(0, 0, frame([(100, 240, "defect"), (300, 240, "defect")]), 640, 480, None)
    cycles(sched, timer, 0, 2000)
    c = sched.counters
    assert (c.seen, c.defective, c.scheduled, c.fired) == (2, 2, 2, 2)


def test_a_late_reject_is_a_record_an_alarm_and_an_error_naming_everything() -> None:
    sched = RejectScheduler(make_cfg())
    with capture_logs() as logs:
        sched.observe(5 * MS, 0, frame([(990, 240, "defect"), (992, 100, "defect")]), 2000, 480,
                      None)  # fmt: skip
        acts = sched.update(5 * MS, None)
    assert acts.missed[0] == MissedReject(1, "ej1", "late", 5.0)
    assert acts.alarms[0] == Alarm("reject_missed", 1)
    assert sched.counters.missed == 2
    assert events(logs, "reject_missed")[0] == {
        "item_id": 1, "ejector": "ej1", "reason": "late", "late_ms": 5.0, "action": "alarm",
        "t_ns": 5 * MS, "due_ns": 20 * MS, "log_level": "error",  # due: at the line, 10 mm on
    }  # fmt: skip


def test_an_armed_plan_is_withdrawn_when_its_reject_is_missed() -> None:
    """After an encoder jump nobody knows where the item is: its armed coil plan is cancelled,
    so the coil never fires on whatever passes at the old time."""
    sim = SimBelt(speed_mm_s=500.0, raw0=5_000_000)
    sched = RejectScheduler(encoder_cfg())
    timer = FakeTimer(sched)
    for t in range(0, 1800 * MS, 10 * MS):
        if t == 100 * MS:
            sched.observe(t, t, frame([(100, 240, "defect")]), 640, 480, sim.count_at(t))
        timer.apply(sched.update(t, sim.count_at(t)))
    assert 1 in timer.armed
    sim.raw0 = -round(sim.travel_mm * sim.counts_per_mm)
    with capture_logs() as logs:
        acts = sched.update(1800 * MS, sim.count_at(1800 * MS))
    assert acts.cancels == (1,)
    assert acts.missed == (MissedReject(1, "ej1", "encoder_discontinuity", 0.0),)
    assert Alarm("encoder_discontinuity", 0) in acts.alarms
    [jump] = events(logs, "encoder_discontinuity")
    assert (jump["t_ns"], jump["rejects_in_flight"]) == (1800 * MS, 1)
    assert jump["count_before"] > 5_000_000 > jump["count_after"]


def test_a_reject_lost_on_the_way_to_the_plc_is_missed_with_its_ejector() -> None:
    sched = RejectScheduler(make_cfg(missed_action="stop_belt"))
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    sched.update(1700 * MS, None)  # armed for ej1
    with capture_logs() as logs:
        sched.report_lost(1, 1780 * MS, "coil_not_written")
        sched.report_lost(9, 1790 * MS, "verdict_not_delivered")  # long forgotten
    acts = sched.update(1800 * MS, None)
    assert acts.missed == (
        MissedReject(1, "ej1", "coil_not_written", 0.0),
        MissedReject(9, None, "verdict_not_delivered", 0.0),
    )
    assert acts.cancels == (1,)
    assert acts.stop_belt
    assert [e["t_ns"] for e in events(logs, "reject_missed")] == [1780 * MS, 1790 * MS]


def test_verdicts_the_plc_refused_or_lost_to_overflow_are_counted_and_missed() -> None:
    """Each echo adds to the shift's counts; each verdict is a miss logged when reported."""
    sched = RejectScheduler(make_cfg())
    with capture_logs() as logs:
        sched.report_fifo_loss(5 * MS, "fifo_overflow", 2)
        sched.report_fifo_loss(6 * MS, "verdict_refused", 1)
        sched.report_fifo_loss(7 * MS, "fifo_overflow", 1)
        sched.report_fifo_loss(8 * MS, "verdict_refused", 3)
    acts = sched.update(10 * MS, None)
    reasons = ["fifo_overflow"] * 2 + ["verdict_refused", "fifo_overflow"] + ["verdict_refused"] * 3
    assert acts.missed == tuple(MissedReject(0, None, r, 0.0) for r in reasons)
    assert [a.kind for a in acts.alarms] == ["reject_missed"] * 7
    assert [e["t_ns"] for e in events(logs, "reject_missed")] == [
        t * MS for t in (5, 5, 6, 7, 8, 8, 8)
    ]
    c = sched.counters
    assert (c.fifo_overflow, c.fifo_refused, c.missed) == (3, 4, 7)


def plc_sent() -> tuple[RejectScheduler, SimBelt, PlcVerdict]:
    """PLC-timed, one verdict sent at 100 ms for the arrival at travel 950 mm with a 20 ms lead:
    the fire point at travel 940 mm (1880 ms)."""
    sim = SimBelt(speed_mm_s=500.0)
    sched = RejectScheduler(encoder_cfg(timing_mode="plc"))
    for t in range(0, 100 * MS, 10 * MS):
        sched.update(t, sim.count_at(t))
    sched.observe(
        100 * MS, 100 * MS, frame([(100, 240, "defect")]), 640, 480, sim.count_at(100 * MS)
    )
    with capture_logs() as logs:
        [verdict] = sched.update(100 * MS, sim.count()).verdicts
    assert events(logs, "reject_scheduled") == [
        {
            "item_id": 1,
            "ejector": "ej1",
            "mode": "plc",
            "arrival_count": 9500,
            "lead_ms": 20.0,
            "log_level": "info",
        }
    ]
    return sched, sim, verdict


def test_a_plc_verdict_carries_its_item_and_the_time_it_is_still_worth_writing() -> None:
    sched, _, verdict = plc_sent()
    assert verdict == PlcVerdict("ej1", 9500, 1, 1880 * MS, lead_ms=20.0)
    assert sched.counters.scheduled == 1


def test_a_restarted_plc_gets_every_verdict_still_ahead_again() -> None:
    sched, sim, _ = plc_sent()
    with capture_logs() as logs:
        sched.resend_ahead(1000 * MS)
    sched.resend_ahead(1000 * MS)
    acts = sched.update(1000 * MS, sim.count_at(1000 * MS))
    assert acts.verdicts == (PlcVerdict("ej1", 9500, 1, 1880 * MS, lead_ms=20.0),) * 2
    assert sched.counters.fifo_resent == 2
    assert events(logs, "reject_resent") == [
        {"item_id": 1, "arrival_count": 9500, "log_level": "warning"}
    ]
    sched.update(1900 * MS, sim.count_at(1900 * MS))  # fired: passed its count
    sched.resend_ahead(1900 * MS)
    assert sched.update(1910 * MS, sim.count_at(1910 * MS)).verdicts == ()


def test_a_plc_verdict_fires_when_the_belt_passes_its_count_and_is_counted_once() -> None:
    sched, sim, _ = plc_sent()
    sched.update(1870 * MS, sim.count_at(1870 * MS))
    assert sched.counters.fired == 0
    for t in (1890, 1900, 1910):
        sched.update(t * MS, sim.count_at(t * MS))
    assert sched.counters.fired == 1


def test_the_confirm_window_runs_from_its_planned_fire_to_the_nanosecond() -> None:
    sched = RejectScheduler(make_cfg(confirm_window_ms=200.0))
    timer = FakeTimer(sched)
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    cycles(sched, timer, 0, 1800)  # fired at 1780 ms: the window closes at 1980 ms
    assert sched.update(1980 * MS, None).alarms == ()
    with capture_logs() as logs:
        acts = sched.update(1980 * MS + 1, None)
    assert acts.alarms == (Alarm("reject_unconfirmed", 1),)
    assert events(logs, "reject_unconfirmed") == [
        {"item_id": 1, "window_ms": 200.0, "cause": "no_pulse", "log_level": "error"}
    ]


def test_a_late_fire_opens_the_confirm_window_from_when_it_really_fired() -> None:
    """The timer reports the coil on at 1850 ms, 70 ms after the plan (35 mm past the line,
    inside the paddle's 40 mm reach): the bin sensor has until 2050 ms, not 1980 ms."""
    ejector = {"id": "ej1", "position_mm": 1000.0, "actuator_response_ms": 20.0,
               "pulse_ms": 30.0, "reach_mm": 40.0}  # fmt: skip
    sched = RejectScheduler(make_cfg(confirm_window_ms=200.0, ejectors=[ejector]))
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    for t in range(0, 1850 * MS, 10 * MS):
        sched.update(t, None)  # committed at its planned 1780 ms; the coil not yet on
    sched.report_fired(1, 1850 * MS)
    assert sched.update(2050 * MS, None).alarms == ()
    assert sched.update(2051 * MS, None).alarms == (Alarm("reject_unconfirmed", 1),)


def test_a_confirm_settles_the_oldest_fired_reject_and_says_how_long_after() -> None:
    sched = RejectScheduler(make_cfg(confirm_window_ms=500.0))
    timer = FakeTimer(sched)
    sched.observe(0, 0, frame([(300, 240, "defect"), (100, 240, "defect")]), 640, 480, None)
    cycles(sched, timer, 0, 1800)  # item 2 (at 100 mm) fired at 1780, item 1 at 1380 ms
    with capture_logs() as logs:
        sched.report_confirm(1500 * MS)
        sched.report_confirm(1900 * MS)
    assert [(e["item_id"], e["after_ms"]) for e in events(logs, "reject_confirmed")] == [
        (1, 120.0),
        (2, 120.0),
    ]
    assert sched.counters.confirmed == 2


def test_lanes_include_their_edges_and_exclude_what_is_outside() -> None:
    ejectors = [
        {"id": "a", "position_mm": 1000, "pulse_ms": 30, "lane_min_mm": 50, "lane_max_mm": 200},
        {"id": "b", "position_mm": 1200, "pulse_ms": 30, "lane_min_mm": 200, "lane_max_mm": 400},
    ]
    sched = RejectScheduler(make_cfg(ejectors=ejectors))
    timer = FakeTimer(sched)
    items = [(100, 50, "defect"), (300, 200, "defect"), (500, 20, "defect")]
    sched.observe(0, 0, frame(items, size_px=10), 640, 480, None)
    with capture_logs() as logs:
        acts = cycles(sched, timer, 0, 2500)
    plans = {p.item_id: p.ejector_id for a in acts for p in a.plans}
    assert plans == {1: "a", 2: "a"}
    missed = MissedReject(3, None, "no_ejector_for_lane", 0.0)
    assert [m for a in acts for m in a.missed] == [missed]
    assert [e["t_ns"] for e in events(logs, "reject_missed")] == [0]


def test_a_re_timed_plan_is_scheduled_once_and_its_re_times_are_debug_lines() -> None:
    """Since the input poller re-times armed plans on every encoder reading, a jittery speed
    estimate re-sends a plan every poll: each was a `reject_scheduled` info line, which the
    metrics page counts as `scheduled` (a reject counted tens of times) and which floods the
    log from the poller. One `reject_scheduled` per reject; re-times are `reject_retimed`,
    debug."""
    from tests.conveyor.test_conveyor_scheduler import plans_of, run

    sim = SimBelt(speed_mm_s=500.0)
    sched = RejectScheduler(encoder_cfg(horizon_ms=300.0))
    timer = FakeTimer(sched)
    with capture_logs() as logs:
        sched.observe(0, 0, frame([(100, 240, "defect")]), 640, 480, sim.count())
        plans_of(run(sched, timer, sim, 10 * MS, 1500 * MS))
        sim.advance_to(1500 * MS)
        sim.speed_mm_s = 1000.0
        plans_of(run(sched, timer, sim, 1500 * MS, 1900 * MS))
    assert [e["retimed"] for e in events(logs, "reject_scheduled")] == [False]
    retimes = events(logs, "reject_retimed")
    assert retimes
    assert {e["log_level"] for e in retimes} == {"debug"}
    assert retimes[-1]["fire_at_ns"] == 1630 * MS
