"""Which belt displacement a moving frame shows: its item marks against the items seen standing.

Pure, numpy only. A mark is the centre of a whole item box on the belt (along_mm, across_mm,
through the camera's own mapping). While the belt stands, every frame shows each item at the same
place, whatever the camera's latency: those places are the references. Once it moves, a frame
exposed when the belt had travelled D past its standing position shows every item D further
along. `align` finds that D: the shift that lays the most marks on references, among the shifts
the caller allows (the travel between the latest and the earliest exposure the latency range
admits). Another shift that explains at least half as many marks makes the frame ambiguous
(evenly spaced items look alike one pitch later), and such a frame is not used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from plantvision.conveyor.association import assign_defects, greedy_pairs
from plantvision.conveyor.mapping import ImageToBelt, whole
from plantvision.types import Detections

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Marks:
    """One frame's whole item boxes on the belt: its stamp (monotonic ns) and their centres."""

    t_ns: int
    along_mm: F64
    across_mm: F64

    def __len__(self) -> int:
        return len(self.along_mm)


@dataclass(frozen=True, slots=True)
class References:
    """Items seen standing: mean centres, and the scatter of their marks about them (mm)."""

    along_mm: F64
    across_mm: F64
    scatter_mm: float

    def __len__(self) -> int:
        return len(self.along_mm)


@dataclass(frozen=True, slots=True)
class Alignment:
    """A frame's displacement past the standing belt (mm) and how many marks it explains;
    `ambiguous`: another displacement in the window explains at least half as many."""

    shift_mm: float
    matched: int
    ambiguous: bool


def marks_of(t_ns: int, dets: Detections, frame_w: int, frame_h: int, mapping: ImageToBelt,
             classes: tuple[str, str]) -> Marks:  # fmt: skip
    """A frame's marks: its whole boxes of the item class, and of the defect class where no item
    box holds them (a detector may box a defective item as the defect), through the mapping.
    `classes`: (item class, defect class)."""
    dets = dets.select(dets.class_mask(list(classes)))
    dets = dets.select(whole(dets.xyxy, frame_w, frame_h))
    xy = dets.xyxy.astype(np.float64)
    is_defect = dets.class_mask([classes[1]])
    keep = ~is_defect
    keep[np.flatnonzero(is_defect)[assign_defects(xy[~is_defect], xy[is_defect]) < 0]] = True
    along, across = mapping.map((xy[keep, :2] + xy[keep, 2:]) / 2, frame_w, frame_h)
    return Marks(t_ns, along, across)


def references(standing: list[Marks], gate_mm: float) -> References:
    """The items of the frames taken while the belt stood: the frame with the most marks (the
    latest of equals) seeds them, each other frame's marks meet them one to one within `gate_mm`,
    and an item seen in fewer than half the frames (a flickering box) is left out."""
    seed = max(reversed(standing), key=len)
    along: list[list[float]] = [[a] for a in seed.along_mm]
    across: list[list[float]] = [[c] for c in seed.across_mm]
    for f in standing:
        if f is seed or len(f) == 0:
            continue
        d = np.hypot(
            f.along_mm[:, None] - seed.along_mm[None, :],
            f.across_mm[:, None] - seed.across_mm[None, :],
        )
        rows, cols = greedy_pairs(d, d <= gate_mm)
        for r, c in zip(rows, cols, strict=True):
            along[c].append(float(f.along_mm[r]))
            across[c].append(float(f.across_mm[r]))
    keep = [i for i, a in enumerate(along) if 2 * len(a) >= len(standing)]
    # Means: the gate has kept stray boxes out, and a mean of n marks is 1.6 times finer than
    # their median for the boxes' even jitter; every moving frame shares these errors.
    ref_along = np.array([np.mean(along[i]) for i in keep], np.float64)
    ref_across = np.array([np.mean(across[i]) for i in keep], np.float64)
    residuals = [v - ref_along[k] for k, i in enumerate(keep) for v in along[i]]
    scatter = 1.4826 * float(np.median(np.abs(residuals))) if residuals else 0.0
    return References(ref_along, ref_across, scatter)


def align(frame: Marks, refs: References, lo_mm: float, hi_mm: float, tol_mm: float
          ) -> Alignment | None:  # fmt: skip
    """The displacement in [lo_mm, hi_mm] that lays the most marks within `tol_mm` of a
    reference (along and across), refined to the mean of those marks' offsets; None when no
    mark lies on a reference at any allowed displacement."""
    if len(frame) == 0 or len(refs) == 0:
        return None
    offset = frame.along_mm[:, None] - refs.along_mm[None, :]  # marks x references
    beside = np.abs(frame.across_mm[:, None] - refs.across_mm[None, :]) <= tol_mm
    allowed = beside & (offset >= lo_mm) & (offset <= hi_mm)
    candidates = np.sort(offset[allowed])
    if len(candidates) == 0:
        return None
    # Offsets within tol of each other are one displacement seen through several marks.
    breaks = np.flatnonzero(np.diff(candidates) > tol_mm) + 1
    shifts = np.array([np.median(g) for g in np.split(candidates, breaks)], np.float64)
    on = beside[None, :, :] & (np.abs(offset[None, :, :] - shifts[:, None, None]) <= tol_mm)
    scores = on.any(axis=2).sum(axis=1)  # marks explained, per displacement
    best = int(np.argmax(scores))
    rivals = np.abs(shifts - shifts[best]) > 2 * tol_mm
    ambiguous = bool(np.any(rivals & (2 * scores >= scores[best])))
    explained = np.where(on[best], np.abs(offset - shifts[best]), np.inf).min(axis=1)
    picked = on[best] & (np.abs(offset - shifts[best]) == explained[:, None])
    refined = float(np.mean(offset[picked]))
    return Alignment(refined, int(scores[best]), ambiguous)
