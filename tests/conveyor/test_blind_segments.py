"""Reject unless proven good: belt that no decided frame proved is a blind segment, rejected by
consecutive pushes (box), a range verdict (PLC) or a belt stop, never passed as good. The pure
scheduler, stepped by hand: 1 px = 1 mm, a 640 px view, items up to 40 mm, the belt at 500 mm/s,
one ejector 1000 mm downstream with a 20 ms actuator and a 30 ms pulse."""

from __future__ import annotations

from typing import Any

from structlog.testing import capture_logs

from plantvision.conveyor import Actions, EjectorModel, RejectScheduler
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

V_MM_PER_MS = 0.5
LEAD_MS = 20.0
# A 640 px frame less the 2 px cut at each border, less half a 40 mm item at each end.
VIEW_MM = (22.0, 618.0)


def cover_cfg(**over: Any) -> Any:
    return make_cfg(longest_item_mm=40.0, **over)


def run(
    sched: RejectScheduler,
    until_ms: int,
    stall_ms: tuple[int, int] = (0, 0),
    step_ms: int = 50,
    items: Any = None,
) -> list[Actions]:
    """A frame every `step_ms` (none while stalled), an update every 10 ms, and a timer that
    switches each armed plan on at its time and reports it, as the runtime's does; returns the
    actions of every update. `items(t_ms)` gives a frame's boxes (default: none)."""
    out = []
    timer = FakeTimer(sched)
    for t_ms in range(0, until_ms + 1, 10):
        timer.run_until(t_ms * MS)
        stalled = stall_ms[0] <= t_ms < stall_ms[1]
        if t_ms % step_ms == 0 and not stalled:
            boxes = items(t_ms) if items is not None else []
            sched.observe(t_ms * MS, t_ms * MS, frame(boxes), FRAME_W, FRAME_H, None)
        acts = sched.update(t_ms * MS, None)
        timer.apply(acts)
        out.append(acts)
    return out


def pushed(u_mm: float, plans: list[Any], reach_mm: float = 0.0) -> bool:
    """Whether a centre at belt-fixed `u_mm` is at the ejector line (within reach) while some
    planned coil is on, after the actuator's response."""
    for p in plans:
        on_mm = (p.fire_at_ns / MS + LEAD_MS) * V_MM_PER_MS
        off_mm = on_mm + p.pulse_ns / MS * V_MM_PER_MS
        if on_mm - reach_mm <= 1000.0 - u_mm <= off_mm + reach_mm + 1e-6:
            return True
    return False


def final_plans(actions: list[Actions]) -> list[Any]:
    """The last plan of every item (a re-timed plan replaces the earlier one)."""
    last: dict[int, Any] = {}
    for a in actions:
        for p in a.plans:
            last[p.item_id] = p
        for c in a.cancels:
            last.pop(c, None)
    return list(last.values())


def test_overlapping_frames_prove_the_belt_and_nothing_but_start_up_is_blind() -> None:
    """A healthy camera (frames 25 mm apart, each proving 596 mm): the start-up segment (the
    belt between the view and the ejector) and no other; no push after it."""
    sched = RejectScheduler(cover_cfg())
    with capture_logs() as logs:
        acts = run(sched, 4000)
    (seg,) = events(logs, "blind_segment")
    assert seg["cause"] == "startup"
    assert sched.counters.blind_segments == 1
    # Start-up pushes reach from the view's judging line (618 mm) to the ejector: all armed
    # within the first 800 ms; none after.
    late = [p for a in acts[100:] for p in a.plans]
    assert late == []
    assert sched.counters.missed == 0


def test_a_three_second_stall_rejects_every_centre_that_passed_unseen() -> None:
    """No frame from 0.5 s to 3.5 s: 1.5 m of belt passes, 904 mm of it proven by no frame;
    consecutive 30 ms pushes, none missed, cover every centre in it at the ejector."""
    sched = RejectScheduler(cover_cfg())
    timer = FakeTimer(sched)
    with capture_logs() as logs:
        acts = run(sched, 5500, stall_ms=(510, 3500))
    segs = events(logs, "blind_segment")
    assert [s["cause"] for s in segs] == ["startup", "no_decided_frame"]
    closed = events(logs, "blind_segment_closed")[-1]
    # The last frame before the stall (travel 250 mm) proved up to u = 22 - 250; the first
    # after (travel 1750 mm) from 618 - 1750: in travel at the camera line, 228 to 1132 mm.
    assert (closed["start_mm"], closed["end_mm"]) == (228.0, 1132.0)
    plans = final_plans(acts)
    for k in range(0, 905, 5):
        assert pushed(-228.0 - k, plans), -228.0 - k
    for a in acts:
        timer.apply(a)
    assert sched.counters.missed == 0
    assert sched.counters.blind_pushes >= 904 / 15  # 15 mm of belt per 30 ms pulse


def test_stop_belt_stops_at_once_and_holds_until_a_frame_proves_the_belt_again() -> None:
    """stop_belt: the stall's segment stops the belt as soon as it is judged; a clear while
    the camera is still blind keeps the stop; once frames prove the belt again it releases."""
    sched = RejectScheduler(cover_cfg(no_decision_action="stop_belt"))
    run(sched, 400)
    sched.clear_stop_belt()  # the start-up segment, dealt with
    assert not sched.update(400 * MS, None).stop_belt
    stopped = [t for t in range(410, 2000, 10) if sched.update(t * MS, None).stop_belt]
    # Judged blind once the last frame's proof has passed the judging line: 596 mm later.
    assert stopped
    assert stopped[0] <= 400 + 596 / V_MM_PER_MS + 20
    assert sched.blind_held
    sched.clear_stop_belt()
    assert sched.update(2000 * MS, None).stop_belt
    for t_ms in (2010, 2020):  # the belt between the last judgement and the frame, then proof
        sched.observe(t_ms * MS, t_ms * MS, frame([]), FRAME_W, FRAME_H, None)
        sched.update(t_ms * MS, None)
    assert not sched.blind_held
    sched.clear_stop_belt()
    assert not sched.update(2030 * MS, None).stop_belt
    assert sched.counters.blind_pushes == 0


def test_an_actuator_too_slow_for_the_segment_stops_the_belt_and_says_why() -> None:
    """A 100 ms cycle after 30 ms pulses leaves 35 mm of belt between pushes at 0.5 m/s: wider
    than twice a 10 mm reach, so no run of pushes can cover a segment."""
    ejector = {"id": "ej1", "position_mm": 1000.0, "actuator_response_ms": 20.0,
               "pulse_ms": 30.0, "min_cycle_ms": 100.0, "reach_mm": 10.0}  # fmt: skip
    sched = RejectScheduler(cover_cfg(ejectors=[ejector]))
    with capture_logs() as logs:
        acts = run(sched, 1500)
    (why,) = events(logs, "blind_segment_unrejectable")
    assert why["fix"].startswith("lower min_cycle_ms")
    assert any(a.stop_belt for a in acts)


def test_an_item_seen_in_too_few_frames_is_pushed_like_a_blind_point() -> None:
    """min_views 2 with frames 25 mm apart: the belt is proven twice over, but an item the
    detector saw in one frame only is blind, and the ejector fires at it."""
    sched = RejectScheduler(cover_cfg(min_views=2))

    def items(t_ms: int) -> list[tuple[float, float, str]]:
        return [(300.0, 240.0, "item")] if t_ms == 1000 else []

    with capture_logs() as logs:
        acts = run(sched, 3000, items=items)
    thin = [s for s in events(logs, "blind_segment") if s["cause"] != "startup"]
    assert len(thin) == 1
    u_mm = 300.0 - 1000 * V_MM_PER_MS
    assert pushed(u_mm, final_plans(acts))
    assert sched.counters.seen == 1


def test_a_plc_timed_segment_is_one_range_verdict_from_start_to_end_count() -> None:
    """PLC-timed: the stall's segment goes out as one verdict with a start and an end count
    (10 counts/mm) at which its ends arrive at the ejector line, and the actuator's 20 ms as
    lead (the PLC applies it), end - start = its length."""
    cfg = encoder_cfg(timing_mode="plc", longest_item_mm=40.0)
    sched = RejectScheduler(cfg)
    belt = SimBelt(500.0)
    verdicts = []
    for t_ms in range(0, 5001, 10):
        count = belt.count_at(t_ms * MS)
        if t_ms % 50 == 0 and not 510 <= t_ms < 3500:
            sched.observe(t_ms * MS, t_ms * MS, frame([]), FRAME_W, FRAME_H, count)
        verdicts += sched.update(t_ms * MS, count).verdicts
    # (The start-up range begins at the first count or before it: wrapped, above 2**31.)
    ranges = [v for v in verdicts if v.end_count and 10_000 < v.arrival_count < 1 << 31]
    # The segment [-1132, -228] belt-fixed: its top reaches 1000 mm at travel 1228, its
    # bottom at travel 2132.
    starts = sorted(v.arrival_count for v in ranges)
    ends = sorted(v.end_count or 0 for v in ranges)
    assert abs(starts[0] - 12280) <= 2
    assert abs(ends[-1] - 21320) <= 2
    assert {v.lead_ms for v in ranges} == {20.0}
    covered = sum((e or 0) - s for s, e in zip(starts, ends, strict=True))
    assert abs(covered - 9040) <= 2 * len(ranges)


def test_an_encoder_discontinuity_judges_the_belt_up_to_the_ejector_again() -> None:
    """A count jump (a PLC restart) re-anchors the belt: nothing proven holds, and the next
    frame opens a segment from its judging line to the ejector, cause encoder_discontinuity."""
    sched = RejectScheduler(encoder_cfg(longest_item_mm=40.0))
    belt = SimBelt(500.0)
    with capture_logs() as logs:
        for t_ms in range(0, 1001, 50):
            count = belt.count_at(t_ms * MS)
            if t_ms == 500:
                belt.raw0 -= 4_000_000  # preset: the count jumps back
                count = belt.count()
            sched.observe(t_ms * MS, t_ms * MS, frame([]), FRAME_W, FRAME_H, count)
            sched.update(t_ms * MS, count)
    causes = [s["cause"] for s in events(logs, "blind_segment")]
    assert causes == ["startup", "encoder_discontinuity"]
    assert sched.counters.discontinuities == 1


def test_the_first_ejector_of_each_lane_pushes_a_blind_segment() -> None:
    """An ejector downstream of one whose lane holds its own never meets blind belt first; a
    lane-less ejector covers every lane, so only upstream lane-less ones shadow it."""
    from plantvision.conveyor.blind import needed_ejectors

    def ej(name: str, at: float, lo: float | None = None, hi: float | None = None) -> Any:
        return EjectorModel(id=name, position_mm=at, pulse_ms=30.0, lane_min_mm=lo,
                            lane_max_mm=hi)  # fmt: skip

    ejectors = [ej("d", 800, 0, 50), ej("a", 500, 0, 100), ej("b", 600, 100, 200), ej("c", 700)]
    assert [e.id for e in needed_ejectors(ejectors)] == ["a", "b", "c"]
    assert [e.id for e in needed_ejectors([ej("x", 900, 0, 10), ej("all", 500)])] == ["all"]


def test_consecutive_pushes_leave_no_gap_wider_than_twice_the_reach() -> None:
    """The belt between two full pushes keeps their starts min_cycle_ms apart; wider than twice
    the reach, no run of pushes can cover the belt (None)."""
    from plantvision.conveyor.blind import piece_gap_mm

    v = V_MM_PER_MS / MS  # 0.5 m/s in mm/ns
    fast = EjectorModel(id="f", position_mm=900, pulse_ms=30.0)
    slow = EjectorModel(id="s", position_mm=900, pulse_ms=30.0, min_cycle_ms=70.0, reach_mm=10.0)
    slower = EjectorModel(id="t", position_mm=900, pulse_ms=30.0, min_cycle_ms=80.0,
                          reach_mm=10.0)  # fmt: skip
    assert piece_gap_mm(fast, v) == 0.0  # back to back: the coil stays on
    assert piece_gap_mm(slow, v) == 20.0  # 35 mm cycle less a 15 mm pulse: twice the reach
    assert piece_gap_mm(slower, v) is None  # 25 mm: a centre there meets neither push


def _start_before_the_first_reading(first_reading_ms: int) -> tuple[RejectScheduler, Any, Any]:
    """The box starts while a defect (belt-fixed u = 100 mm) is in view and the belt runs at
    500 mm/s; the first encoder reading comes `first_reading_ms` in (the first input poll).
    A frame every 20 ms, an update every 10 ms; returns scheduler, logs, every plan's last."""
    sched = RejectScheduler(encoder_cfg(longest_item_mm=40.0))
    belt, timer, acts = SimBelt(500.0), FakeTimer(sched), []
    with capture_logs() as logs:
        for t_ms in range(0, 3001, 10):
            timer.run_until(t_ms * MS)
            count = belt.count_at(t_ms * MS) if t_ms >= first_reading_ms else None
            if t_ms % 20 == 0:
                x = 100.0 + belt.travel_mm
                boxes = [(x, 240.0, "item"), (x, 240.0, "defect")] if x < 620 else []
                sched.observe(t_ms * MS, t_ms * MS, frame(boxes), FRAME_W, FRAME_H, count)
            a = sched.update(t_ms * MS, count)
            timer.apply(a)
            acts.append(a)
    return sched, logs, final_plans(acts)


def test_a_defect_in_view_before_the_first_reading_is_no_alarm_and_is_still_rejected() -> None:
    """Every box start with a defect in view raised `belt_unplaced` (an alarm latched on the
    warning light at each power-up): the first frames come before the first input poll. The
    coverage map already makes that belt blind (start-up), so the defect is rejected either
    way; only a spell of stale_ms with items is the fault before the first reading."""
    sched, logs, plans = _start_before_the_first_reading(30)
    assert events(logs, "belt_unplaced") == []
    assert sched.counters.belt_unplaced == 0
    assert sched.counters.frames_unplaced == 2
    assert sched.counters.missed == 0
    assert any(p.item_id >= 0 for p in plans)  # its own reject, once placed frames show it


def test_a_defect_that_leaves_the_view_before_the_first_reading_is_pushed_as_blind_belt() -> None:
    """No reading until the defect has left the view (1.1 s at 500 mm/s): never placed, it is
    pushed by the start-up segment's pushes; the unplaced spell with items is the fault."""
    sched, logs, plans = _start_before_the_first_reading(1100)
    assert sched.counters.belt_unplaced == 1
    assert [e["unplaced_ms"] for e in events(logs, "belt_unplaced")] == [260.0]  # > stale_ms
    assert sched.counters.missed == 0
    # The defect is at the ejector line at travel 900 mm; the plans are in time from t = 0,
    # the belt's travel at 500 mm/s: pushed() takes belt-fixed u and the 0.5 mm/ms belt.
    assert pushed(100.0, [p for p in plans if p.item_id < 0])
