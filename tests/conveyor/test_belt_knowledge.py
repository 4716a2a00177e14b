"""What the box knows about the belt (review 5): a PLC-timed verdict is booked fired only on a
real encoder reading, a PLC restart is judged on the first real reading after it, the belt is
projected at most `encoder.stale_ms` past its newest reading, and frames with items it cannot
place for that long are the fault `belt_unplaced`."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from plantvision.conveyor import PlcVerdict, RejectScheduler
from plantvision.conveyor.actions import Alarm, MissedReject
from tests.conveyor.helpers import MS, SimBelt, encoder_cfg, events, frame
from tests.conveyor.test_scheduler_plc_edges import sent_verdict

ITEM = frame([(300.0, 240.0, "item")])
DEFECT = frame([(300.0, 240.0, "item"), (300.0, 240.0, "defect")])
NOTHING = frame([])


def test_a_projection_past_the_fire_count_is_not_a_fire() -> None:
    """The last reading is at 100 ms; at 1900 ms the projected belt is past count 9400, but no
    reading says so: not fired. The first reading past it books the fire."""
    sched, sim = sent_verdict()
    for t in range(110 * MS, 2000 * MS, 10 * MS):
        sched.update(t, None)
    assert sched.counters.fired == 0
    sched.update(2000 * MS, sim.count_at(2000 * MS))
    assert sched.counters.fired == 1


def test_a_verdict_the_belt_passed_during_a_plc_restart_is_missed_not_fired() -> None:
    """Link down from 100 ms; the first reading after the PLC restart shows the belt past the
    count: whether it fired before the restart is unknown, so a missed reject, alarmed."""
    sched, sim = sent_verdict()
    sched.observe(2000 * MS, 2000 * MS, NOTHING, 640, 480, sim.count_at(2000 * MS))
    with capture_logs() as logs:
        sched.resend_ahead(2000 * MS)
        acts = sched.update(2000 * MS, None)
    assert acts.verdicts == ()
    assert acts.missed == (MissedReject(1, "ej1", "plc_restarted", 0.0),)
    assert Alarm("reject_missed", 1) in acts.alarms
    assert (sched.counters.fired, sched.counters.missed) == (0, 1)
    assert [e["reason"] for e in events(logs, "reject_missed")] == ["plc_restarted"]


def test_a_verdict_still_ahead_of_the_first_reading_after_a_restart_is_sent_again() -> None:
    """The belt stopped during the outage (1 s without readings): the projection says the count
    was passed long ago, the reading says it is 890 mm ahead: re-sent, not booked."""
    sched, sim = sent_verdict()
    sim.speed_mm_s = 0.0
    for t in range(110 * MS, 1100 * MS, 40 * MS):
        sched.update(t, None)
    sched.observe(1100 * MS, 1100 * MS, NOTHING, 640, 480, sim.count_at(1100 * MS))
    sched.resend_ahead(1100 * MS)
    [verdict] = sched.update(1100 * MS, None).verdicts
    assert (verdict.ejector_id, verdict.arrival_count, verdict.lead_ms) == ("ej1", 9500, 20.0)
    assert (sched.counters.fifo_resent, sched.counters.fired, sched.counters.missed) == (1, 0, 0)


def test_a_pending_plc_reject_waits_for_a_reading_instead_of_judging_a_projection() -> None:
    """A defect placed just before the link went quiet: 300 ms later (past stale_ms) the
    projection has it beyond the ejector, but nothing says so: neither sent nor missed, nor its
    track dropped; the next reading (the belt stood) decides: sent, for travel 950 mm with its
    lead (the PLC applies it at its own speed)."""
    sim = SimBelt(speed_mm_s=500.0)
    sched = RejectScheduler(encoder_cfg(timing_mode="plc"))
    for t in range(0, 100 * MS, 10 * MS):
        sched.update(t, sim.count_at(t))
    sched.observe(100 * MS, 100 * MS, frame([(100, 240, "defect")]), 640, 480, None)
    sim.speed_mm_s = 0.0
    for t in range(360 * MS, 5000 * MS, 40 * MS):
        acts = sched.update(t, None)
        assert (acts.verdicts, acts.missed) == ((), ())
    sched.observe(5000 * MS, 5000 * MS, NOTHING, 640, 480, sim.count_at(5000 * MS))
    verdict = PlcVerdict("ej1", 9500, 1, None, lead_ms=20.0)
    assert sched.update(5000 * MS, None).verdicts == (verdict,)


def _stale_belt(**over: Any) -> tuple[RejectScheduler, SimBelt]:
    """Readings up to 100 ms, then none (stale_ms 250 by default)."""
    sim = SimBelt(speed_mm_s=500.0)
    sched = RejectScheduler(encoder_cfg(**over))
    for t in range(0, 110 * MS, 10 * MS):
        sched.update(t, sim.count_at(t))
    return sched, sim


@pytest.mark.parametrize(("t_ms", "placed"), [(350, True), (351, False)])
def test_a_frame_is_placed_at_most_stale_ms_past_the_newest_reading(
    t_ms: int, placed: bool
) -> None:
    sched, _ = _stale_belt()
    sched.observe(t_ms * MS, t_ms * MS, ITEM, 640, 480, None)
    assert (sched.counters.seen, sched.counters.frames_unplaced) == (int(placed), int(not placed))


@pytest.mark.parametrize(
    ("missed_action", "stops"), [("alarm", False), ("stop_belt", True)]
)  # fmt: skip
def test_frames_with_items_unplaced_for_stale_ms_are_the_fault_belt_unplaced(
    missed_action: str, stops: bool
) -> None:
    """Unplaced from 400 ms on: frames without items raise nothing; one with items 250 ms into
    the spell raises belt_unplaced once (counted, logged, alarmed, the belt stopped as
    missed_action says), however many follow."""
    sched, _ = _stale_belt(missed_action=missed_action)
    with capture_logs() as logs:
        for t in range(400, 1000, 40):
            sched.observe(t * MS, t * MS, NOTHING, 640, 480, None)
        assert sched.update(1000 * MS, None).alarms == ()
        sched.observe(1000 * MS, 1000 * MS, ITEM, 640, 480, None)
        acts = sched.update(1000 * MS, None)
        for t in range(1040, 1500, 40):
            sched.observe(t * MS, t * MS, ITEM, 640, 480, None)
        assert sched.update(1500 * MS, None).alarms == ()
    assert acts.alarms == (Alarm("belt_unplaced", 0),)
    assert acts.stop_belt is stops
    assert sched.counters.belt_unplaced == 1
    assert events(logs, "belt_unplaced") == [
        {"unplaced_ms": 600.0, "defect": False, "action": missed_action, "t_ns": 1000 * MS,
         "log_level": "error"}
    ]  # fmt: skip


def test_a_defect_in_an_unplaced_frame_is_belt_unplaced_at_once_once_per_spell() -> None:
    """A defect seen in a frame the belt cannot place is a blind segment with a defect in it:
    the fault at once, not `stale_ms` into the spell (review 6: a defect seen only in a spell
    shorter than stale_ms passed silently); once per spell, however many follow."""
    sched, _ = _stale_belt(missed_action="stop_belt")
    with capture_logs() as logs:
        sched.observe(400 * MS, 400 * MS, DEFECT, 640, 480, None)  # 50 ms into the spell
        acts = sched.update(400 * MS, None)
        for t in range(440, 600, 40):
            sched.observe(t * MS, t * MS, DEFECT, 640, 480, None)
        assert sched.update(600 * MS, None).alarms == ()
    assert acts.alarms == (Alarm("belt_unplaced", 0),)
    assert acts.stop_belt
    assert sched.counters.belt_unplaced == 1
    assert [e["defect"] for e in events(logs, "belt_unplaced")] == [True]


def test_a_short_unplaced_spell_is_no_fault_and_a_placed_frame_ends_the_spell() -> None:
    """Unplaced before the first reading, with items, for less than stale_ms: counted frames
    only. A placed frame ends the spell, so the next one starts from zero."""
    sim = SimBelt(speed_mm_s=500.0)
    sched = RejectScheduler(encoder_cfg())
    for t in range(0, 240, 40):
        sched.observe(t * MS, t * MS, ITEM, 640, 480, None)
    sched.observe(240 * MS, 240 * MS, NOTHING, 640, 480, sim.count_at(240 * MS))
    sched.observe(250 * MS, 250 * MS, NOTHING, 640, 480, sim.count_at(250 * MS))
    for t in range(600, 800, 40):  # stale from 500 ms: a new spell from 600 ms
        sched.observe(t * MS, t * MS, ITEM, 640, 480, None)
    assert sched.update(800 * MS, None).alarms == ()
    assert (sched.counters.frames_unplaced, sched.counters.belt_unplaced) == (11, 0)
