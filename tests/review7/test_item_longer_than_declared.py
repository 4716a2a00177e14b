"""An item longer than `longest_item_mm` passes unjudged, and nothing says so.

The coverage map proves a belt-fixed centre when a decided frame held it inside the view less
half of `longest_item_mm` at each end; the runtime drops every box the frame's border cuts (its
centre is not the item's). Both rest on the configured length being true at run time, and it
is never checked against what the detector measures (the scheduler computes every box's extent
along the belt). An item longer than declared is whole in far fewer frames than the map assumes:
a few frames dropped inside the budget are enough for every frame that showed it to show it cut,
while the map, built on the declared 40 mm, sees no gap at all. The defective item passes the
ejector with no reject, no missed reject and no blind segment.

The pure runtime (frames and detections by hand, the fixed 500 mm/s belt of tests/conveyor):
1 px = 1 mm, a 640 px view, one ejector 1000 mm downstream, a frame every 50 ms; the item is a
560 mm "defect" box (the detector marks the whole item), whole in view only while its centre
lies between 282 and 358 mm (1364..1516 ms), and the camera drops the 3 frames of 1400..1500 ms
(a 200 ms gap, inside the default stall_ms of 500 ms). Empty frames before it prove the belt, so
the start-up segment has closed before the item comes.
"""

from __future__ import annotations

import numpy as np

from plantvision.conveyor.runtime import RejectRuntime
from plantvision.log import get
from plantvision.types import Detections, Frame
from tests.conveyor.helpers import FRAME_H, FRAME_W, MS, NAMES, make_cfg

LENGTH_MM = 560.0
DROPPED_MS = (1400, 1450, 1500)


def centre_at(t_ms: int) -> float:
    """Upstream of the view at first (empty frames prove the belt, start-up closes), then in
    view: whole only while its centre lies between 282 and 358 mm (1364..1516 ms)."""
    return -400.0 + 0.5 * t_ms  # along_mm, 500 mm/s downstream


def run(length_mm: float) -> tuple[dict[str, int], list[int]]:
    """The counters, and the ids of tracked items (> 0; blind pushes count down from -1) that
    became missed rejects. No timer runs, so the start-up segment's pushes go unreported."""
    rt = RejectRuntime(make_cfg(longest_item_mm=40.0), {"ej1": 0}, get(room="conveyor"))
    image = np.zeros((FRAME_H, FRAME_W, 3), np.uint8)
    for t_ms in range(0, 4001, 10):
        if t_ms % 50 == 0 and t_ms not in DROPPED_MS:
            x = centre_at(t_ms)
            lo, hi = max(x - length_mm / 2, 0.0), min(x + length_mm / 2, FRAME_W)  # the border
            boxes = [[lo, 200.0, hi, 280.0]] if lo < FRAME_W and hi > 0 else []
            det = Detections.from_arrays(boxes, [0.9] * len(boxes), [1] * len(boxes), NAMES)
            rt.observe(t_ms * MS, Frame(image, t_ms // 50, t_ms * MS), det)
        rt.step(t_ms * MS, 0, False)
    return rt.counters, [m.item_id for m in rt.missed_log if m.item_id > 0]


def test_an_item_as_long_as_declared_is_rejected() -> None:
    """For contrast: a 40 mm defective item under the same dropped frames is seen and pushed."""
    counters, _ = run(40.0)
    assert (counters["defective"], counters["scheduled"]) == (1, 1)


def test_an_item_longer_than_declared_is_never_passed_silently() -> None:
    counters, missed = run(LENGTH_MM)
    # Rejected, or missed, or the belt it was on judged blind beyond the start-up segment.
    assert counters["defective"] or missed or counters["blind_segments"] > 1, counters
