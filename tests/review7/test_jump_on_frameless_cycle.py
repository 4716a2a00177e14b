"""An encoder discontinuity noticed on a cycle without a frame is never re-judged.

`BlindSegments.restart` forgets the coverage map and drops the pushes an open segment had not
planned yet, on the promise that "the next decided frame judges the belt up to the last ejector
again" (cause encoder_discontinuity). That start is placed by `prove` only while the map is not
started. But `update` runs every cycle and `judge` starts a map that is not started at the
judging line (the line survives the restart): when the jump is noticed in `update` (a dropped
frame, a camera stalling: the cycle has no frame to observe), the map starts at the camera's
line, and the next frame finds it started. The belt between the camera and the ejectors, whose
position was just lost, is never judged blind: nothing pushes it, no segment or miss is counted.
"""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from plantvision.conveyor import RejectScheduler
from tests.conveyor.helpers import FRAME_H, FRAME_W, MS, SimBelt, encoder_cfg, events, frame


def rejudged_mm(jump_ms: int, frameless: bool) -> float:
    """The length of belt the jump's segment (cause encoder_discontinuity) judged blind."""
    sched = RejectScheduler(encoder_cfg(longest_item_mm=40.0))
    belt = SimBelt(500.0)
    with capture_logs() as logs:
        for t_ms in range(0, 1001, 50):
            count = belt.count_at(t_ms * MS)
            if t_ms == jump_ms:
                belt.raw0 -= 4_000_000  # a preset: the count jumps back
                count = belt.count()
            if not (frameless and t_ms == jump_ms):
                sched.observe(t_ms * MS, t_ms * MS, frame([]), FRAME_W, FRAME_H, count)
            sched.update(t_ms * MS, count)
    assert sched.counters.discontinuities == 1
    closed = events(logs, "blind_segment_closed")
    return sum(s["length_mm"] for s in closed if s["cause"] == "encoder_discontinuity")


def test_a_jump_seen_with_a_frame_is_judged_again() -> None:
    """The existing behaviour (tests/conveyor/test_blind_segments.py), for contrast: from the
    judging line (618 mm) to the ejector (1000 mm) is blind again."""
    assert rejudged_mm(500, frameless=False) == pytest.approx(382.0)


def test_a_jump_seen_on_a_frameless_cycle_is_judged_again() -> None:
    """Found: only the 25 mm the belt moved between two frames is judged blind."""
    assert rejudged_mm(500, frameless=True) >= 382.0
