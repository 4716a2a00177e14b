"""Detections become items by their boxes: a defect belongs to the item box that contains it in
the same frame, and item boxes meet tracks one to one (issue 15, item 6).

Geometry of every test: 1 px = 1 mm along image x, a 500 mm/s belt, the ejector 1000 mm
downstream with a 20 ms actuator response: an item whose centre is at x mm at t = 0 is fired
at (1000 - x) / 0.5 - 20 ms.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from structlog.testing import capture_logs

from plantvision.conveyor import RejectScheduler
from plantvision.types import Detections
from tests.conveyor.helpers import FRAME_H, FRAME_W, MS, NAMES, FakeTimer, make_cfg
from tests.conveyor.test_conveyor_scheduler import plans_of, run


def boxes(rows: Sequence[tuple[float, float, float, str]]) -> Detections:
    """Square boxes (centre x px, centre y px, side px, class name)."""
    xyxy = [[x - s / 2, y - s / 2, x + s / 2, y + s / 2] for x, y, s, _ in rows]
    ids = [NAMES.index(c) for *_, c in rows]
    return Detections.from_arrays(xyxy, [0.9] * len(rows), ids, NAMES)


def fire_ms(centre_mm: float) -> int:
    return round((1000 - centre_mm) / 0.5 - 20)


def fires(sched: RejectScheduler, t_from_ns: int = 0) -> list[tuple[int, int]]:
    """(item id, fire time ms) of every plan armed over the next two seconds."""
    acts = run(sched, FakeTimer(sched), None, t_from_ns, 2000 * MS)
    return sorted({(p.item_id, round(p.fire_at_ns / MS)) for p in plans_of(acts)})


def test_a_corner_defect_marks_its_item_and_aims_at_the_item_centre() -> None:
    """A 60 mm item at 100 mm with a defect in its corner, 35 mm from its centre (gate 20 mm):
    one item, defective, fired for the item's centre, not the defect's."""
    sched = RejectScheduler(make_cfg(gate_mm=20.0))
    det = boxes([(100, 240, 60, "item"), (125, 265, 8, "defect")])
    sched.observe(0, 0, det, FRAME_W, FRAME_H, None)
    assert fires(sched) == [(1, fire_ms(100))]
    assert (sched.counters.seen, sched.counters.defective) == (1, 1)


def test_items_at_a_25_mm_pitch_stay_two_tracks() -> None:
    """Two 20 mm items 25 mm apart under a 30 mm gate, seen in two frames: two items, and only
    the one with the defect is fired, at its own centre."""
    sched = RejectScheduler(make_cfg(gate_mm=30.0))
    first = boxes([(100, 240, 20, "item"), (125, 240, 20, "item"), (128, 243, 4, "defect")])
    sched.observe(0, 0, first, FRAME_W, FRAME_H, None)
    # 20 ms later the belt has moved both 10 mm on
    again = boxes([(110, 240, 20, "item"), (135, 240, 20, "item"), (138, 243, 4, "defect")])
    sched.observe(20 * MS, 20 * MS, again, FRAME_W, FRAME_H, None)
    assert sched.counters.seen == 2
    assert fires(sched, 20 * MS) == [(2, fire_ms(125))]


def test_a_defect_with_no_item_is_its_own_item_with_a_logged_reason() -> None:
    """A defect box that no item box contains is rejected as an item of its own, aimed at its
    centre (reject unless proven good), and the reason is logged."""
    sched = RejectScheduler(make_cfg())
    with capture_logs() as logs:
        sched.observe(0, 0, boxes([(300, 240, 8, "defect")]), FRAME_W, FRAME_H, None)
    assert fires(sched) == [(1, fire_ms(300))]
    orphans = [e for e in logs if e["event"] == "defect_without_item"]
    assert [(e["item_id"], e["u_mm"]) for e in orphans] == [(1, pytest.approx(300.0))]


def test_a_defect_seen_before_its_item_joins_the_item_that_contains_it() -> None:
    """The item's box is cut by the frame edge in the first frame (so left out) while its
    corner defect is seen; the next frame's whole item box contains that defect: one item,
    fired for the item's centre."""
    sched = RejectScheduler(make_cfg(gate_mm=20.0))
    sched.observe(0, 0, boxes([(125, 265, 8, "defect")]), FRAME_W, FRAME_H, None)
    again = boxes([(110, 240, 60, "item"), (135, 265, 8, "defect")])
    sched.observe(20 * MS, 20 * MS, again, FRAME_W, FRAME_H, None)
    assert sched.counters.seen == 1
    assert fires(sched, 20 * MS) == [(1, fire_ms(100))]


def test_a_defect_seen_alone_after_its_item_marks_that_item() -> None:
    """The item was seen whole, then only its corner defect (the item box cut by the edge):
    the defect lies within the item's footprint on the belt and marks that item."""
    sched = RejectScheduler(make_cfg(gate_mm=20.0))
    sched.observe(0, 0, boxes([(100, 240, 60, "item")]), FRAME_W, FRAME_H, None)
    sched.observe(20 * MS, 20 * MS, boxes([(135, 265, 8, "defect")]), FRAME_W, FRAME_H, None)
    assert (sched.counters.seen, sched.counters.defective) == (1, 1)
    assert fires(sched, 20 * MS) == [(1, fire_ms(100))]
