"""How far a second model (INT8) decides like a reference model (FP32) on the same frames. Pure.

Detections are matched per class, greedily from the reference's best score, to the unmatched
candidate of the same class with the highest IoU at or above `iou_match` (0.5). Precision is the
share of the candidate's detections that match one of the reference's, recall the share of the
reference's that the candidate found. A zone verdict agrees on a frame when every zone's
occupied/clear state is the same under both models.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import numpy as np

from plantvision.detect.boxes import iou_matrix
from plantvision.types import Detections


@dataclass(frozen=True, slots=True)
class ClassCounts:
    """One class's tally: detections by each model, and how many the matching paired."""

    reference: int = 0
    candidate: int = 0
    matched: int = 0

    @property
    def precision(self) -> float:
        """Matched over the candidate's detections (1.0 when it found none)."""
        return self.matched / self.candidate if self.candidate else 1.0

    @property
    def recall(self) -> float:
        """Matched over the reference's detections (1.0 when there were none)."""
        return self.matched / self.reference if self.reference else 1.0


def match_count(ref: Detections, cand: Detections, iou_match: float = 0.5) -> int:
    """Pairs of one class matched at IoU >= iou_match (each detection used at most once)."""
    if len(ref) == 0 or len(cand) == 0:
        return 0
    iou = iou_matrix(ref.xyxy, cand.xyxy)
    used = np.zeros(len(cand), dtype=np.bool_)
    matched = 0
    for i in np.argsort(-ref.confidence, kind="stable"):
        row = np.where(used, -1.0, iou[i])
        j = int(np.argmax(row))
        if row[j] >= iou_match:
            used[j] = True
            matched += 1
    return matched


@dataclass(slots=True)
class AgreementTally:
    """Accumulates detection and zone-decision agreement frame by frame."""

    iou_match: float = 0.5
    classes: dict[str, ClassCounts] = field(default_factory=dict)
    frames: int = 0
    zone_frames_same: int = 0

    def add(
        self,
        ref: Detections,
        cand: Detections,
        ref_zones: Mapping[str, bool],
        cand_zones: Mapping[str, bool],
    ) -> None:
        """One frame: both models' detections and both zone verdicts (zone id -> occupied)."""
        self.frames += 1
        self.zone_frames_same += dict(ref_zones) == dict(cand_zones)
        ids = set(ref.class_id.tolist()) | set(cand.class_id.tolist())
        for cid in sorted(ids):
            r, c = ref.select(ref.class_id == cid), cand.select(cand.class_id == cid)
            name = r.name_of(0) if len(r) else c.name_of(0)
            old = self.classes.get(name, ClassCounts())
            self.classes[name] = ClassCounts(
                old.reference + len(r),
                old.candidate + len(c),
                old.matched + match_count(r, c, self.iou_match),
            )

    @property
    def zone_agreement_pct(self) -> float:
        """Share of frames (in %) where every zone's verdict is the same; 100 with no frames."""
        return 100.0 * self.zone_frames_same / self.frames if self.frames else 100.0

    def worst_class(self, judged: Collection[str] | None = None) -> float:
        """The lowest precision or recall over the classes the reference detected, of those in
        `judged` when given (the classes the zones watch); 1.0 when there are none."""
        figures = [
            min(c.precision, c.recall)
            for name, c in self.classes.items()
            if c.reference and (judged is None or name in judged)
        ]
        return min(figures, default=1.0)
