"""Which detections go together: defects to the item boxes that contain them, item boxes to
tracks one to one. Pure, numpy only.

Matching by centre distance alone failed both ways (issue 15): a defect in an item's corner lies
farther from the item's centre than any gate that keeps neighbours apart, so it became an item
of its own, fired 25 mm off; and a gate wide enough to reach it chained items at a 25 mm pitch
into one track. Containment in the same frame says which item a defect is on, whatever its
distance; one-to-one matching keeps two items two tracks, whatever the gate.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.int64]


def assign_defects(item_xyxy: F64, defect_xyxy: F64) -> I64:
    """For each defect box (M x 4), the row of the item box (N x 4, same frame, same units) that
    contains the defect's centre; of several, the one overlapping the defect box most; -1 where
    none does."""
    m = len(defect_xyxy)
    if m == 0 or len(item_xyxy) == 0:
        return np.full(m, -1, np.int64)
    d, it = defect_xyxy[:, None, :], item_xyxy[None, :, :]
    cx, cy = (d[..., 0] + d[..., 2]) / 2, (d[..., 1] + d[..., 3]) / 2
    inside = (cx >= it[..., 0]) & (cx <= it[..., 2]) & (cy >= it[..., 1]) & (cy <= it[..., 3])
    w = np.clip(np.minimum(d[..., 2], it[..., 2]) - np.maximum(d[..., 0], it[..., 0]), 0, None)
    h = np.clip(np.minimum(d[..., 3], it[..., 3]) - np.maximum(d[..., 1], it[..., 1]), 0, None)
    score = np.where(inside, w * h, -1.0)
    owner: I64 = np.where(inside.any(axis=1), np.argmax(score, axis=1), -1).astype(np.int64)
    return owner


def greedy_pairs(dist: F64, allowed: Bool) -> tuple[I64, I64]:
    """One-to-one pairs (row, column) of an N x K cost matrix: the cheapest allowed pair first,
    each row and each column taken at most once. Loops over the allowed pairs only (about one
    per box when the gate is below half the item pitch)."""
    rows, cols = np.nonzero(allowed)
    order = np.argsort(dist[rows, cols], kind="stable")
    row_taken = np.zeros(dist.shape[0], np.bool_)
    col_taken = np.zeros(dist.shape[1], np.bool_)
    keep = np.zeros(len(rows), np.bool_)
    for i in order:
        r, c = rows[i], cols[i]
        if not (row_taken[r] or col_taken[c]):
            row_taken[r] = col_taken[c] = keep[i] = True
    return rows[keep].astype(np.int64), cols[keep].astype(np.int64)


def components(adjacent: Bool) -> I64:
    """Label of each node = smallest node index in its connected component (symmetric input)."""
    reach = adjacent | np.eye(len(adjacent), dtype=np.bool_)
    while True:  # squaring doubles path length: log2(N) rounds
        wider = (reach.astype(np.int64) @ reach.astype(np.int64)) > 0
        if np.array_equal(wider, reach):
            labels: I64 = np.argmax(reach, axis=1).astype(np.int64)
            return labels
        reach = wider
