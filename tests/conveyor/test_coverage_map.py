"""The coverage map at its edges: what decided frames prove, and what passes the judging frontier
unproven (belt-fixed mm; the frontier moves upstream, towards smaller u, as the belt runs)."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plantvision.conveyor.coverage import CoverageMap, Stretch


def spans(stretches: list[Stretch]) -> list[tuple[float, float]]:
    return [(round(s.lo_u_mm, 6), round(s.hi_u_mm, 6)) for s in stretches]


def test_frames_that_overlap_leave_nothing_blind() -> None:
    """Frames 100 mm apart on a belt, each proving 140 mm: every judged centre is proven."""
    cov = CoverageMap()
    cov.judge(0.0)
    for k in range(10):
        travel = 100.0 * k
        cov.add(-140.0 - travel, 0.0 - travel)
        assert cov.judge(-travel) == []


def test_a_dropped_frame_leaves_no_gap_when_its_neighbours_overlap() -> None:
    """Frames every 50 mm proving 140 mm: one dropped frame is covered by the next two."""
    cov = CoverageMap()
    cov.judge(0.0)
    for k in range(12):
        travel = 50.0 * k
        if k != 5:
            cov.add(-140.0 - travel, -travel)
        assert cov.judge(-travel) == []


def test_a_gap_between_frames_is_blind_exactly_from_one_proof_to_the_next() -> None:
    """Frames at travel 0 and 300 proving 140 mm each: centres in (-300, -140) are blind."""
    cov = CoverageMap()
    cov.judge(0.0)
    cov.add(-140.0, 0.0)
    assert cov.judge(-100.0) == []
    cov.add(-440.0, -300.0)
    assert spans(cov.judge(-300.0)) == [(-300.0, -140.0)]
    assert cov.judge(-440.0) == []


def test_a_stall_is_judged_as_the_belt_moves_not_when_frames_return() -> None:
    """No frame after the first: each step of the frontier returns its own blind stretch."""
    cov = CoverageMap()
    cov.judge(0.0)
    cov.add(-140.0, 0.0)
    assert spans(cov.judge(-200.0)) == [(-200.0, -140.0)]
    assert spans(cov.judge(-260.0)) == [(-260.0, -200.0)]


def test_a_stopped_belt_judges_nothing_and_many_frames_cost_one_piece() -> None:
    """A thousand frames of a standing belt: nothing new is judged, the map stays one piece."""
    cov = CoverageMap()
    cov.judge(0.0)
    for _ in range(1000):
        cov.add(-140.0, 0.0)
        assert cov.judge(0.0) == []
    assert len(cov._pieces) == 1


def test_a_belt_running_backwards_takes_nothing_back() -> None:
    """Jitter and reversal move the frontier downstream: ignored; judged blind stays judged,
    and the belt judged again later is not reported twice."""
    cov = CoverageMap()
    cov.judge(0.0)
    assert spans(cov.judge(-50.0)) == [(-50.0, 0.0)]
    assert cov.judge(-20.0) == []  # back 30 mm
    cov.add(-200.0, -20.0)  # a frame while backwards proves what is still ahead
    assert cov.judge(-49.0) == []
    assert cov.judge(-60.0) == []


def test_start_up_judges_the_belt_up_to_the_last_ejector() -> None:
    """Started at the last ejector's reach (u 1020): at the first frame's frontier, everything
    between is blind, the frame's own view is not."""
    cov = CoverageMap()
    cov.start(1020.0)
    cov.add(30.0, 610.0)
    assert spans(cov.judge(610.0)) == [(610.0, 1020.0)]


def test_min_views_two_wants_two_proofs() -> None:
    """Frames 100 mm apart proving 140 mm: only the 40 mm overlaps are proven twice."""
    cov = CoverageMap(min_views=2)
    cov.judge(0.0)
    cov.add(-140.0, 0.0)
    cov.add(-240.0, -100.0)
    assert spans(cov.judge(-100.0)) == [(-100.0, 0.0)]
    assert cov.proven(-120.0)
    assert not cov.proven(-200.0)


@pytest.mark.parametrize("edge", [-140.0, 0.0])
def test_a_centre_on_the_frame_boundary_is_proven(edge: float) -> None:
    """The interval is closed: an item whose centre lies exactly on the edge of what a frame
    holds whole was held whole."""
    cov = CoverageMap()
    cov.add(-140.0, 0.0)
    assert cov.proven(edge)
    assert not cov.proven(edge - 1e-3 if edge < 0 else 1e-3)


def test_min_views_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="min_views 0"):
        CoverageMap(min_views=0)


@given(
    frames=st.lists(st.tuples(st.floats(0, 2000), st.floats(1, 400)), max_size=30),
    steps=st.lists(st.floats(-100, 400), min_size=1, max_size=30),
)
def test_blind_and_proven_partition_what_was_judged(
    frames: list[tuple[float, float]], steps: list[float]
) -> None:
    """Whatever the frames and the belt do: no blind stretch holds a proven centre, blind
    stretches never overlap, and every centre judged and unproven is in one."""
    cov = CoverageMap()
    cov.judge(0.0)
    for lo, width in frames:
        cov.add(-lo - width, -lo)
    proven = [(-lo - width, -lo) for lo, width in frames]
    frontier, blind = 0.0, []
    for step in steps:
        frontier -= step
        blind += cov.judge(frontier)
    for b in blind:
        assert b.lo_u_mm <= b.hi_u_mm
        mid = (b.lo_u_mm + b.hi_u_mm) / 2
        if b.hi_u_mm - b.lo_u_mm > 1e-3:
            assert not any(lo < mid < hi for lo, hi in proven)
    ordered = sorted((b.lo_u_mm, b.hi_u_mm) for b in blind)
    assert all(a[1] <= b[0] + 1e-6 for a, b in pairwise(ordered))
    judged_to = min(0.0, frontier, *(-sum(steps[: i + 1]) for i in range(len(steps))))
    for k in range(50 if judged_to < -1e-3 else 0):  # (float noise: 1e-6 mm is one point)
        u = judged_to * (k + 0.5) / 50  # a centre the frontier has passed
        if not any(lo - 1e-5 <= u <= hi + 1e-5 for lo, hi in proven):
            assert any(b.lo_u_mm - 1e-6 <= u <= b.hi_u_mm + 1e-6 for b in blind), u
