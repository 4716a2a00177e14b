"""What the reject scheduler records for the people who trace a reject: a lost track, an
encoder jump and a late loss report each name the item, the ejector and the time; counters add
up over the shift; events go to the logger the shell bound; times are logged to the µs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from structlog.testing import capture_logs

from plantvision.conveyor import FirePlan, RejectScheduler
from plantvision.conveyor.actions import Alarm, MissedReject
from tests.conveyor.helpers import (
    FRAME_H,
    FRAME_W,
    MS,
    SimBelt,
    encoder_cfg,
    events,
    frame,
    make_cfg,
)


def test_a_reject_whose_track_is_lost_is_missed_with_its_id_ejector_and_reason() -> None:
    """Nothing drops a track before its item has passed the ejectors today, but should one go
    (a tracker change, a timeout), its reject is never dropped silently: the armed plan is
    withdrawn and the miss is a record, an alarm, a count and an error naming everything."""
    sched = RejectScheduler(make_cfg())
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    assert len(sched.update(1700 * MS, None).plans) == 1
    sched._tracker.forget_beyond(-np.inf)  # the tracker loses the item
    with capture_logs() as logs:
        acts = sched.update(1710 * MS, None)
    assert acts.cancels == (1,)
    assert acts.missed == (MissedReject(1, "ej1", "lost_track", 0.0),)
    assert acts.alarms == (Alarm("reject_missed", 1),)
    assert sched.counters.missed == 1
    assert events(logs, "reject_missed") == [
        {"item_id": 1, "ejector": "ej1", "reason": "lost_track", "late_ms": 0.0,
         "action": "alarm", "t_ns": 1710 * MS, "log_level": "error"}
    ]  # fmt: skip


@pytest.mark.parametrize("lost_at_ms", [1990, 2010, 3770])
def test_a_committed_reject_waits_for_its_switch_on_report_even_past_the_belt(
    lost_at_ms: int,
) -> None:
    """Committed at 1780 ms, the item's track is dropped once it is track_margin_mm (100 mm)
    past the last ejector (2000 ms); the reject itself waits for the timer's report (a starved
    timer reports late): a loss report up to REPORT_WAIT_NS (2 s) after the fire time still
    names its ejector."""
    sched = RejectScheduler(make_cfg())
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    for t in range(0, (lost_at_ms + 10) * MS, 10 * MS):
        assert sched.update(t, None).missed == ()
    sched.report_lost(1, lost_at_ms * MS, "coil_not_written")
    acts = sched.update((lost_at_ms + 10) * MS, None)
    assert acts.missed == (MissedReject(1, "ej1", "coil_not_written", 0.0),)


def test_a_switch_on_never_reported_is_a_missed_reject_then_forgotten() -> None:
    """No report REPORT_WAIT_NS after the fire time (a dead or stuck timer): a missed reject
    (`fire_unreported`), and the reject is forgotten (memory stays bounded): a report after
    that is a miss for no ejector, and a fire after that a stray."""
    sched = RejectScheduler(make_cfg())
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    missed = [m for t in range(0, 3800 * MS, 10 * MS) for m in sched.update(t, None).missed]
    assert missed == [MissedReject(1, "ej1", "fire_unreported", 0.0)]
    sched.report_fired(1, 3800 * MS)
    sched.report_lost(1, 3800 * MS, "coil_not_written")
    acts = sched.update(3810 * MS, None)
    assert acts.missed == (MissedReject(1, None, "coil_not_written", 0.0),)
    assert (sched.counters.fired, sched.counters.missed) == (0, 2)


def encoder_jump(sched: RejectScheduler, sim: SimBelt, t_ns: int, where: str) -> Any:
    """The PLC restarts at `t_ns`: its count starts again from 0, read in `observe` or `update`."""
    sim.advance_to(t_ns)
    sim.raw0 = -round(sim.travel_mm * sim.counts_per_mm)
    if where == "observe":
        sched.observe(t_ns, t_ns, frame([]), FRAME_W, FRAME_H, sim.count())
        return None
    return sched.update(t_ns, sim.count())


@pytest.mark.parametrize("where", ["observe", "update"])
def test_an_encoder_jump_misses_the_rejects_in_flight_at_the_cycle_it_is_read(where: str) -> None:
    """Item 2 (seen at 100 mm) fired at 1780 ms and waits for the bin sensor; item 1 (seen at
    -200 mm) is in flight. A jump at 1800 ms misses item 1 only, logged at 1800 ms."""
    sim = SimBelt(speed_mm_s=500.0)
    sched = RejectScheduler(encoder_cfg(confirm_window_ms=1000.0))
    items = frame([(-200, 240, "defect"), (100, 240, "defect")])
    sched.observe(0, 0, items, FRAME_W, FRAME_H, sim.count())
    for t in range(10 * MS, 1800 * MS, 10 * MS):
        sched.update(t, sim.count_at(t))
    with capture_logs() as logs:
        first = encoder_jump(sched, sim, 1800 * MS, where)
        acts = sched.update(1800 * MS, sim.count())
    missed = (first.missed if first else ()) + acts.missed
    assert missed == (MissedReject(1, "ej1", "encoder_discontinuity", 0.0),)
    assert [e["t_ns"] for e in events(logs, "reject_missed")] == [1800 * MS]
    assert events(logs, "encoder_discontinuity")[0]["rejects_in_flight"] == 1


def test_after_an_encoder_jump_an_item_seen_again_is_a_new_item_with_its_own_verdict() -> None:
    """Every track is dropped at the jump: the item in view is placed afresh, not merged with
    where the old numbering had it."""
    sim = SimBelt(speed_mm_s=500.0)
    sched = RejectScheduler(encoder_cfg())
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, sim.count())
    for t in range(10 * MS, 100 * MS, 10 * MS):
        sched.update(t, sim.count_at(t))
    encoder_jump(sched, sim, 100 * MS, "update")
    sched.observe(
        110 * MS, 110 * MS, frame([(155, 240, "defect")]), 640, 480, sim.count_at(110 * MS)
    )
    assert (sched.counters.seen, sched.counters.defective) == (2, 2)


def test_counters_add_up_over_the_shift() -> None:
    """Unplaced frames, encoder jumps and unconfirmed rejects each count every occurrence."""
    sim = SimBelt(speed_mm_s=500.0)
    sched = RejectScheduler(encoder_cfg(confirm_window_ms=100.0))
    sched.observe(0, 0, frame([]), FRAME_W, FRAME_H, None)
    sched.observe(5 * MS, 5 * MS, frame([]), FRAME_W, FRAME_H, None)
    sched.observe(10 * MS, 10 * MS, frame([(100, 100, "defect"), (100, 300, "defect")]), 640,
                  480, sim.count_at(10 * MS))  # fmt: skip
    for t in range(20 * MS, 2100 * MS, 10 * MS):
        sched.update(t, sim.count_at(t))
    encoder_jump(sched, sim, 2100 * MS, "update")
    for t in range(2110 * MS, 2200 * MS, 10 * MS):
        sched.update(t, sim.count_at(t))
    encoder_jump(sched, sim, 2200 * MS, "update")
    c = sched.counters
    assert (c.frames_unplaced, c.unconfirmed, c.discontinuities) == (2, 2, 2)


class RecordingLogger:
    """A bound logger double: records (level, event, fields)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Any:
        return lambda event, **fields: self.calls.append((level, event, fields))


def test_events_go_to_the_logger_the_shell_bound() -> None:
    logger = RecordingLogger()
    sched = RejectScheduler(make_cfg(), logger=logger)
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    sched.update(1700 * MS, None)
    # A defect box with no item box around it is an item of its own, and says so.
    assert [(lvl, ev) for lvl, ev, _ in logger.calls] == [
        ("info", "defect_without_item"),
        ("info", "reject_scheduled"),
    ]


def test_unexpected_reports_and_unplaced_frames_are_logged_with_what_they_were_about() -> None:
    sched = RejectScheduler(encoder_cfg())
    with capture_logs() as logs:
        sched.observe(5 * MS, 3 * MS, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
        sched.report_fired(7, 6 * MS)
        sched.report_confirm(8 * MS)
    assert events(logs, "belt_position_unknown") == [
        {"t_capture_ns": 3 * MS, "log_level": "warning"}
    ]
    assert events(logs, "reject_fired_unexpected") == [{"item_id": 7, "log_level": "warning"}]
    assert events(logs, "reject_confirm_unexpected") == [{"t_ns": 8 * MS, "log_level": "warning"}]


def test_the_confirm_delay_is_logged_in_ms_to_the_microsecond() -> None:
    """Fired at 1780 ms, confirmed 1234.5678 ms later: the log says 1234.568."""
    sched = RejectScheduler(make_cfg(confirm_window_ms=2000.0))
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    for t in range(0, 1790 * MS, 10 * MS):
        sched.update(t, None)
    with capture_logs() as logs:
        sched.report_confirm(1780 * MS + 1_234_567_800)
    assert [e["after_ms"] for e in events(logs, "reject_confirmed")] == [1234.568]


def test_a_camera_at_another_resolution_than_calibrated_places_items_as_calibrated() -> None:
    """Calibrated at 640 x 480, running at 1280 x 960: pixel (200, 480) is (100, 240) mm, in
    lane a (across 0-300 mm), firing at 1780 ms."""
    ejectors = [
        {"id": "a", "position_mm": 1000, "actuator_response_ms": 20, "pulse_ms": 30,
         "lane_max_mm": 300},
        {"id": "b", "position_mm": 1000, "actuator_response_ms": 20, "pulse_ms": 30,
         "lane_min_mm": 300},
    ]  # fmt: skip
    mapping = {"axis": "x", "mm_per_px": 1.0, "image_size_px": [640, 480]}
    sched = RejectScheduler(make_cfg(ejectors=ejectors, mapping=mapping))
    sched.observe(0, 0, frame([(200, 480, "defect")], size_px=80), 1280, 960, None)
    assert sched.update(1700 * MS, None).plans == (FirePlan("a", 1780 * MS, 30 * MS, 1),)
