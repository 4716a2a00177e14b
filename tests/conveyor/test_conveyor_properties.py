"""Invariants over random belts and items: a reject fires at most once per item, every
defective item gets exactly one outcome (fired, or reported missed), no good item is fired."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from plantvision.conveyor import RejectScheduler
from tests.conveyor.helpers import MS, FakeTimer, SimBelt, encoder_cfg, frame, make_cfg

CYCLE_NS = 10 * MS
FRAME_EVERY = 4  # a frame each 40 ms
VIEW_MM = 640.0


@dataclass(frozen=True)
class Item:
    x_mm: float  # along position at t=0
    defective: bool
    defect_frames: frozenset[int]  # which of its frames show the defect box


@st.composite
def items(draw: st.DrawFn) -> list[Item]:
    # Up to 400 mm, an item stays in view for at least 6 frames even at 1000 mm/s.
    xs = draw(st.lists(st.floats(20, 400), min_size=1, max_size=6))
    xs = sorted(xs)
    assume(all(b - a >= 45 for a, b in itertools.pairwise(xs)))  # gaps beyond the gate
    out = []
    for x in xs:
        defective = draw(st.booleans())
        shown = draw(st.frozensets(st.integers(0, 3), min_size=1)) if defective else frozenset()
        out.append(Item(x, defective, shown))
    return out


def simulate(
    sched: RejectScheduler,
    belt: SimBelt,
    its: list[Item],
    speeds: list[tuple[int, float]],
    jitter_mm: float,
    encoder: bool,
) -> FakeTimer:
    """Run cycles to 7 s: frames of the items in view, speed changes at given cycles."""
    timer = FakeTimer(sched)
    seen = {i: 0 for i in range(len(its))}
    speed_at = dict(speeds)
    for k in range(700):
        t = k * CYCLE_NS
        timer.run_until(t)
        belt.advance_to(t)
        belt.speed_mm_s = speed_at.get(k, belt.speed_mm_s)
        count = belt.count() if encoder else None
        if k % FRAME_EVERY == 0:
            boxes = []
            for i, it in enumerate(its):
                along = it.x_mm + belt.travel_mm
                if along < VIEW_MM:
                    cls = "defect" if seen[i] in it.defect_frames else "item"
                    jitter = jitter_mm if (k // FRAME_EVERY) % 2 else -jitter_mm
                    boxes.append((along + jitter, 240.0, cls))
                    seen[i] += 1
            with capture_logs():  # events are asserted elsewhere; printing them is slow
                sched.observe(t, t, frame(boxes), 2000, 480, count)
        with capture_logs():
            timer.apply(sched.update(t, count))
    return timer


def outcomes(sched: RejectScheduler, timer: FakeTimer, its: list[Item]) -> None:
    """One switch-on at most per item, one outcome per defective item: fired (a switch-on
    judged to meet it) or missed (a switch-on at air is one of those, not both)."""
    fired = {i: len(v) for i, v in timer.fired.items()}
    assert all(n == 1 for n in fired.values()), f"an item fired more than once: {timer.fired}"
    n_defective = sum(it.defective for it in its)
    assert sched.counters.defective == n_defective
    assert sched.counters.fired <= len(fired)
    assert sched.counters.fired + sched.counters.missed == n_defective
    assert sched.counters.seen == len(its)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(its=items(), speed=st.floats(200, 1000), jitter=st.floats(0, 3))
def test_constant_belt_fires_every_defective_item_once_at_the_ejector(
    its: list[Item], speed: float, jitter: float
) -> None:
    """At constant speed every defective item is fired exactly once, with its pusher arriving
    at the item (within 1 mm plus the jitter), and nothing is missed."""
    sched = RejectScheduler(make_cfg(belt={"speed_mm_s": speed}))
    belt = SimBelt(speed)
    timer = simulate(sched, belt, its, [], jitter, encoder=False)
    outcomes(sched, timer, its)
    assert sched.counters.missed == 0
    defective_ids = {i + 1 for i, it in enumerate(its) if it.defective}
    assert set(timer.fired) == defective_ids  # ids follow the sorted x order
    for item_id, (fire_ns,) in timer.fired.items():
        x = its[item_id - 1].x_mm
        along_at_push_mm = x + speed * (fire_ns + 20 * MS) / 1e9
        assert abs(along_at_push_mm - 1000.0) <= 1.0 + jitter


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    its=items(),
    speeds=st.lists(
        st.tuples(st.integers(1, 500), st.sampled_from([0.0, 150.0, 400.0, 800.0])), max_size=6
    ),
    raw0=st.integers(0, 2**32 - 1),
)
def test_changing_belt_gives_each_defective_item_exactly_one_outcome(
    its: list[Item], speeds: list[tuple[int, float]], raw0: int
) -> None:
    """With an encoder that may wrap and a belt that changes speed and stops, no item fires
    twice, no good item fires, and every defective item is either fired or reported missed
    (a belt that stops inside the speed window before a fire: the push at air is missed)."""
    sched = RejectScheduler(encoder_cfg())
    belt = SimBelt(500.0, raw0=raw0)
    # The belt ends running, so every item has reached its ejector when the run ends.
    timer = simulate(sched, belt, its, [*speeds, (510, 800.0)], 0.0, encoder=True)
    outcomes(sched, timer, its)
    good_ids = {i + 1 for i, it in enumerate(its) if not it.defective}
    assert not good_ids & set(timer.fired)


@settings(max_examples=80, deadline=None)
@given(x_mm=st.floats(700, 1100), latency_ms=st.floats(0, 300), speed=st.floats(200, 1000))
def test_verdict_is_missed_exactly_when_its_fire_time_has_passed(
    x_mm: float, latency_ms: float, speed: float
) -> None:
    """A frame decided `latency_ms` after capture: missed iff the fire time (arrival minus
    the 20 ms response) is already past, otherwise planned; never both, never neither."""
    fire_after_ms = (1000.0 - x_mm) / speed * 1e3 - 20.0
    assume(abs(fire_after_ms - latency_ms) > 0.01)
    sched = RejectScheduler(make_cfg(belt={"speed_mm_s": speed}, horizon_ms=10_000))
    now = int(latency_ms * MS)
    sched.observe(0, 0, frame([]), 2000, 480, None)  # belt clock starts at capture
    sched.observe(now, 0, frame([(x_mm, 240, "defect")]), 2000, 480, None)
    acts = sched.update(now, None)
    late = fire_after_ms < latency_ms
    assert len(acts.missed) == int(late)
    assert len(acts.plans) == int(not late)
