"""Ground truth for one rendered frame, struct-of-arrays like `Detections`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from plantvision.types import Detections, FloatArray, IntArray

CLASS_NAMES: tuple[str, ...] = ("person", "item", "defect")
PERSON, ITEM, DEFECT = 0, 1, 2


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """What a frame shows. Row i of every array describes one visible object.

    `xyxy` (N x 4 float32) is the tight box of the object's visible pixels (x1, y1 exclusive
    pixel edges); `class_id` indexes CLASS_NAMES (an item with a defect is class `defect`, the
    box covering the whole item); `object_id` is the worker index for persons and the item
    number k for items (the same item keeps its k in every frame); `item_belt_mm` is the item
    centre's belt position in mm from the frame's left edge (nan for persons); `defect` flags
    defective items; `visible_fraction` is visible pixels over drawn pixels (occlusion and
    frame edges lower it). `t_s` is the scene time and `t_capture_ns` the same in ns.
    """

    t_s: float
    t_capture_ns: int
    xyxy: FloatArray
    class_id: IntArray
    object_id: npt.NDArray[np.int64]
    item_belt_mm: FloatArray
    defect: npt.NDArray[np.bool_]
    visible_fraction: FloatArray

    def __post_init__(self) -> None:
        n = len(self.class_id)
        shapes = (self.object_id, self.item_belt_mm, self.defect, self.visible_fraction)
        if self.xyxy.shape != (n, 4) or any(a.shape != (n,) for a in shapes):
            raise ValueError("GroundTruth arrays disagree in length")
        for arr in (self.xyxy, self.class_id, self.object_id, self.item_belt_mm, *shapes[2:]):
            arr.flags.writeable = False

    def __len__(self) -> int:
        return int(self.class_id.shape[0])

    @property
    def class_names(self) -> tuple[str, ...]:
        """The class name of each row."""
        return tuple(CLASS_NAMES[int(c)] for c in self.class_id)

    @property
    def worker_ids(self) -> npt.NDArray[np.int64]:
        ids: npt.NDArray[np.int64] = self.object_id[self.class_id == PERSON]
        return ids

    @property
    def item_ids(self) -> npt.NDArray[np.int64]:
        ids: npt.NDArray[np.int64] = self.object_id[self.class_id != PERSON]
        return ids

    def anchor_points(self) -> FloatArray:
        """(P x 2) bottom-centre (x, y) px of each person box, in the order of `worker_ids`.

        This is the anchor a detector-based pipeline computes, so zone truth made from it is
        the truth that pipeline should reproduce.
        """
        b = self.xyxy[self.class_id == PERSON]
        return np.stack([(b[:, 0] + b[:, 2]) / 2, b[:, 3]], axis=1).astype(np.float32)

    def workers_in(self, polygon_px: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Ids of workers whose anchor lies inside `polygon_px` (K x 2 vertices, even-odd rule).

        A plain point-in-polygon so the simulator needs no zone logic of the product's; a
        point exactly on an edge may fall either way.
        """
        poly = np.asarray(polygon_px, np.float64).reshape(-1, 2)
        pts = self.anchor_points().astype(np.float64)
        x, y = pts[:, 0:1], pts[:, 1:2]
        x0, y0 = poly[:, 0], poly[:, 1]
        x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside = np.count_nonzero(crosses & (x < x_at), axis=1) % 2 == 1
        ids: npt.NDArray[np.int64] = self.worker_ids[inside]
        return ids

    def hard_mask(
        self, min_visible: float = 0.5, min_side_px: float = 6.0
    ) -> npt.NDArray[np.bool_]:
        """Rows too occluded or too small to demand of a detector (evaluation ignores them)."""
        side = np.minimum(self.xyxy[:, 2] - self.xyxy[:, 0], self.xyxy[:, 3] - self.xyxy[:, 1])
        hard: npt.NDArray[np.bool_] = (self.visible_fraction < min_visible) | (side < min_side_px)
        return hard

    def to_detections(self) -> Detections:
        """The truth as Detections with confidence 1: a perfect detector for loop tests."""
        return Detections.from_arrays(
            self.xyxy, np.ones(len(self), np.float32), self.class_id, CLASS_NAMES
        )
