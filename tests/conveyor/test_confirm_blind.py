"""A push over blind belt may meet an item or air: a bin pulse it could explain never confirms a
real reject whose window holds it too. The pure scheduler, stepped by hand: 1 px = 1 mm, the
belt at 500 mm/s, one ejector 1000 mm downstream (20 ms actuator, 30 ms pulse), items up to
40 mm, `min_views` 2, bin windows of 150 ms.

A defective item D at u = 250 mm is seen in every frame (fired at 1480 ms, window to 1630 ms);
a good item G at u = 300 mm in one frame only, a blind point pushed at its centre (fired at
1380 ms, its coil off at 1410 ms, its window to 1560 ms): the push may meet G, or air if G was
a false detection. Pulses between 1480 and 1560 ms fall in both windows."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from plantvision.conveyor import RejectScheduler
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

D_U_MM, G_U_MM = 250.0, 300.0


def run(
    sched: RejectScheduler, pulses_ms: dict[int, int], ejector: str | None = "ej1"
) -> tuple[FakeTimer, list[str]]:
    """A frame every 50 ms (D in each while in view, G in the first only), an update every
    10 ms, the timer firing each plan at its time; `pulses_ms` {reported at: seen since} are
    bin pulses reported before that cycle's update, as the runtime does (`ejector` None: the
    shared level input). Returns the timer and the alarms raised, as 'kind:item'."""
    timer, alarms = FakeTimer(sched), []
    for t_ms in range(0, 2000, 10):
        timer.run_until(t_ms * MS)
        if t_ms % 50 == 0 and t_ms <= 900:
            x = D_U_MM + 0.5 * t_ms
            boxes = [(x, 240, "item"), (x, 240, "defect")] if x < 600 else []
            boxes += [(G_U_MM, 240, "item")] if t_ms == 0 else []
            sched.observe(t_ms * MS, t_ms * MS, frame(boxes), FRAME_W, FRAME_H, None)
        if t_ms in pulses_ms:
            if ejector is None:
                sched.report_confirm(t_ms * MS)
            else:
                sched.report_confirm(t_ms * MS, ejector, pulses_ms[t_ms] * MS)
        acts = sched.update(t_ms * MS, None)
        timer.apply(acts)
        alarms += [f"{a.kind}:{a.item_id}" for a in acts.alarms if a.kind != "blind_segment"]
    return timer, alarms


def cell(**over: Any) -> RejectScheduler:
    cfg = make_cfg(longest_item_mm=40.0, min_views=2, confirm_window_ms=150.0, **over)
    return RejectScheduler(cfg)


def fired_at_ms(timer: FakeTimer) -> dict[int, int]:
    """Fire times of D (item id >= 0) and of the blind point's push (the one near 1380 ms)."""
    return {i: t[0] // MS for i, t in timer.fired.items() if i >= 0 or t[0] // MS > 1000}


def test_the_scenario_is_what_the_tests_assume() -> None:
    """D's push at 1480 ms and one blind push, at G, at 1380 ms (the start-up pushes are long
    over); nothing pulses, so D is unconfirmed and the blind push raises nothing."""
    sched = cell()
    with capture_logs() as logs:
        timer, alarms = run(sched, {})
    fired = fired_at_ms(timer)
    (d_id,) = [i for i in fired if i >= 0]
    assert sorted(fired.values()) == [1380, 1480]
    assert alarms == [f"reject_unconfirmed:{d_id}"]
    (unconfirmed,) = events(logs, "reject_unconfirmed")
    assert unconfirmed["cause"] == "no_pulse"
    assert sched.counters.unconfirmed_ambiguous == 0


def test_a_pulse_the_blind_push_can_explain_does_not_confirm_the_real_reject() -> None:
    """G was binned by the blind push, D's item missed the bin: the one pulse (1490..1500 ms)
    lies in both windows. The blind push explains it; D is unconfirmed (the belt stops), its
    cause ambiguous_with_blind_push, counted apart. Before, D was confirmed and its missed
    item went silent. (A pulse of D's own item at that time reads the same: the nuisance stop
    the safe side costs.)"""
    sched = cell()
    with capture_logs() as logs:
        timer, alarms = run(sched, {1500: 1490})
    (d_id,) = [i for i in timer.fired if i >= 0]
    assert events(logs, "reject_confirmed") == []
    (explained,) = events(logs, "reject_confirm_blind")
    assert explained["item_id"] < 0
    assert explained["ambiguous_ids"] == [d_id]
    assert alarms == [f"reject_unconfirmed:{d_id}"]
    (unconfirmed,) = events(logs, "reject_unconfirmed")
    assert unconfirmed["item_id"] == d_id
    assert unconfirmed["cause"] == "ambiguous_with_blind_push"
    assert unconfirmed["blind_ids"] == [explained["item_id"]]
    assert (sched.counters.unconfirmed, sched.counters.unconfirmed_ambiguous) == (1, 1)
    assert sched.counters.confirmed == 0


def test_a_blind_push_that_met_air_leaves_a_later_pulse_to_the_real_reject() -> None:
    """The blind push met air; D's item reaches the bin at 1590..1600 ms, after the blind
    push's window closed: only D's window holds it, so D is confirmed, and the blind push,
    which owes nothing, raises nothing."""
    sched = cell()
    with capture_logs() as logs:
        timer, alarms = run(sched, {1600: 1590})
    (d_id,) = [i for i in timer.fired if i >= 0]
    assert [e["item_id"] for e in events(logs, "reject_confirmed")] == [d_id]
    assert alarms == []
    assert events(logs, "reject_confirm_unexpected") == []
    assert sched.counters.unconfirmed == 0


def test_both_binned_each_pulse_is_explained_and_the_real_reject_is_confirmed() -> None:
    """G and D both in the bin, both pulses in both windows: the first is the blind push's (one
    item at most: its 30 ms pulse sweeps 15 mm of belt, closer than two items can lie), the
    second is beyond what it can explain, so it confirms D. Nothing unexpected, no stop. Before,
    the first confirmed D and the second was logged unexpected."""
    sched = cell()
    with capture_logs() as logs:
        timer, alarms = run(sched, {1500: 1490, 1550: 1540})
    (d_id,) = [i for i in timer.fired if i >= 0]
    assert len(events(logs, "reject_confirm_blind")) == 1
    assert [e["item_id"] for e in events(logs, "reject_confirmed")] == [d_id]
    assert events(logs, "reject_confirm_unexpected") == []
    assert alarms == []


def test_a_third_pulse_is_unexpected() -> None:
    """Three pulses where the two pushes can bin two items: the third is unexpected."""
    sched = cell()
    with capture_logs() as logs:
        run(sched, {1500: 1490, 1520: 1510, 1550: 1540})
    assert len(events(logs, "reject_confirm_unexpected")) == 1
    assert sched.counters.confirmed == 1


def test_the_shared_level_input_gives_an_edge_to_the_blind_push_first() -> None:
    """The shared level input cannot tell ejectors or windows apart: an edge while a blind
    push's window is open is the blind push's first, and D stays unconfirmed, ambiguous. Before,
    it went to D, the oldest real reject waiting."""
    sched = cell()
    with capture_logs() as logs:
        timer, alarms = run(sched, {1500: 1500}, ejector=None)
    (d_id,) = [i for i in timer.fired if i >= 0]
    assert events(logs, "reject_confirmed") == []
    assert alarms == [f"reject_unconfirmed:{d_id}"]
    assert events(logs, "reject_unconfirmed")[0]["cause"] == "ambiguous_with_blind_push"


def plc_start_up(pulses_ms: list[int], **over: Any) -> list[dict[str, Any]]:
    """PLC-timed, a healthy camera: the start-up segment (the 382 mm between the judging line
    and the ejector) goes out as one range, on from ~20 ms until the belt passes its end at
    744 ms (the first update to see it: 750 ms). Bin counter pulses at `pulses_ms` (each seen in
    the 10 ms before); returns the log."""
    cfg = encoder_cfg(timing_mode="plc", longest_item_mm=40.0, confirm_window_ms=100.0, **over)
    sched, belt = RejectScheduler(cfg), SimBelt(500.0)
    with capture_logs() as logs:
        for t_ms in range(0, 1200, 10):
            count = belt.count_at(t_ms * MS)
            if t_ms % 50 == 0:
                sched.observe(t_ms * MS, t_ms * MS, frame([]), FRAME_W, FRAME_H, count)
            if t_ms in pulses_ms:
                sched.report_confirm(t_ms * MS, "ej1", (t_ms - 10) * MS)
            sched.update(t_ms * MS, count)
    assert len(events(logs, "blind_segment")) == 1
    return logs


def test_a_plc_range_may_explain_pulses_until_a_window_after_its_end() -> None:
    """The range is on for 724 ms: an item it meets late reaches the bin long after its start
    plus a pulse plus the window (150 ms). Pulses at 400 ms (mid-range) and 840 ms (within the
    window after its end) are its own; one seen in 860..870 ms, past that, is unexpected."""
    logs = plc_start_up([400, 840, 870])
    assert [e["after_ms"] for e in events(logs, "reject_confirm_blind")] == [380.0, 820.0]
    assert [e["t_ns"] // MS for e in events(logs, "reject_confirm_unexpected")] == [870]


@pytest.mark.parametrize(
    ("over", "items"),
    [
        ({"min_item_pitch_mm": 100.0}, 4),  # 382 mm of belt, items 100 mm apart: 3 gaps, 4
        ({}, 10),  # no pitch given: twice gate_mm (20 mm), 40 mm apart
    ],
)
def test_a_plc_range_explains_at_most_the_items_its_belt_can_hold(
    over: dict[str, Any], items: int
) -> None:
    """13 pulses while the range is on: as many as items fit on the belt it sweeps are its
    own, the rest unexpected (no window, real or blind, can explain them)."""
    logs = plc_start_up(list(range(250, 750, 40)), **over)
    assert len(events(logs, "reject_confirm_blind")) == items
    assert len(events(logs, "reject_confirm_unexpected")) == 13 - items
