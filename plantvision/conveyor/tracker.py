"""Items tracked across frames in belt-fixed coordinates, so one item gives one verdict. Pure.

A detection at `along_mm` in a frame captured when the belt had travelled `P` sits at belt-fixed
`u_mm = along_mm - P`, which stays put while the belt carries the item. Association compares
these predicted positions: a detection joins the nearest track within `gate_mm`; detections
that join none are grouped (any chain of detections within the gate is one item) into new
tracks. A defect seen in any frame marks its item defective for good.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.int64]

# Item boxes place an item; a defect box lies somewhere on it, so it places a track only when no
# item box was ever seen for it (its weight is negligible beside an item box's).
_DEFECT_WEIGHT = 1e-3


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    """What one frame changed: items first seen, items first marked defective."""

    new_ids: tuple[int, ...]
    newly_defective_ids: tuple[int, ...]


def _components(adjacent: Bool) -> I64:
    """Label of each node = smallest node index in its connected component (symmetric input)."""
    reach = adjacent | np.eye(len(adjacent), dtype=np.bool_)
    while True:  # squaring doubles path length: log2(N) rounds
        wider = (reach.astype(np.int64) @ reach.astype(np.int64)) > 0
        if np.array_equal(wider, reach):
            labels: I64 = np.argmax(reach, axis=1).astype(np.int64)
            return labels
        reach = wider


class ItemTracker:
    """Open tracks as parallel arrays; ids count up from 1 and are never reused."""

    def __init__(self, gate_mm: float) -> None:
        self._gate_mm = gate_mm
        self._next_id = 1
        self.ids: I64 = np.zeros(0, np.int64)
        self.u_mm: F64 = np.zeros(0, np.float64)
        self.across_mm: F64 = np.zeros(0, np.float64)
        self.weight: F64 = np.zeros(0, np.float64)
        self.defective: Bool = np.zeros(0, np.bool_)

    def __len__(self) -> int:
        return len(self.ids)

    def observe(self, u_mm: F64, across_mm: F64, is_defect: Bool) -> TrackUpdate:
        """Associate one frame's detections (belt-fixed mm) with tracks; open new ones."""
        before = self.defective.copy()
        w = np.where(is_defect, _DEFECT_WEIGHT, 1.0)
        matched = np.zeros(len(u_mm), np.bool_)
        if len(self.ids) and len(u_mm):
            dist = np.hypot(u_mm[:, None] - self.u_mm[None, :], across_mm[:, None] - self.across_mm)
            nearest = np.argmin(dist, axis=1)
            matched = dist[np.arange(len(u_mm)), nearest] <= self._gate_mm
            self._merge(nearest[matched], u_mm[matched], across_mm[matched], w[matched])
            np.logical_or.at(self.defective, nearest[matched], is_defect[matched])
        new_ids = self._open(u_mm[~matched], across_mm[~matched], w[~matched], is_defect[~matched])
        before = np.concatenate([before, np.zeros(len(new_ids), np.bool_)])
        newly = self.ids[self.defective & ~before]
        return TrackUpdate(new_ids, tuple(newly.tolist()))

    def _merge(self, rows: I64, u_mm: F64, across_mm: F64, w: F64) -> None:
        """Weighted running means of the matched tracks' positions."""
        k = len(self.ids)
        wsum = np.bincount(rows, weights=w, minlength=k)
        usum = np.bincount(rows, weights=w * u_mm, minlength=k)
        csum = np.bincount(rows, weights=w * across_mm, minlength=k)
        total = self.weight + wsum
        self.u_mm = (self.u_mm * self.weight + usum) / total
        self.across_mm = (self.across_mm * self.weight + csum) / total
        self.weight = total

    def _open(self, u_mm: F64, across_mm: F64, w: F64, is_defect: Bool) -> tuple[int, ...]:
        """Group unmatched detections into new items; returns the new ids."""
        if len(u_mm) == 0:
            return ()
        dist = np.hypot(u_mm[:, None] - u_mm[None, :], across_mm[:, None] - across_mm[None, :])
        _, group = np.unique(_components(dist <= self._gate_mm), return_inverse=True)
        n = int(group.max()) + 1
        wsum = np.bincount(group, weights=w, minlength=n)
        ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        self.ids = np.concatenate([self.ids, ids])
        self.u_mm = np.concatenate([self.u_mm, np.bincount(group, w * u_mm, n) / wsum])
        self.across_mm = np.concatenate(
            [self.across_mm, np.bincount(group, w * across_mm, n) / wsum]
        )
        self.weight = np.concatenate([self.weight, wsum])
        self.defective = np.concatenate(
            [self.defective, np.bincount(group, is_defect.astype(np.float64), n) > 0]
        )
        return tuple(ids.tolist())

    def position(self, item_id: int) -> tuple[float, float] | None:
        """(u_mm, across_mm) of an open track, or None once forgotten."""
        rows = np.flatnonzero(self.ids == item_id)
        if len(rows) == 0:
            return None
        r = int(rows[0])
        return float(self.u_mm[r]), float(self.across_mm[r])

    def forget_beyond(self, max_u_mm: float) -> int:
        """Drop tracks whose belt-fixed position is past `max_u_mm`; returns how many."""
        keep = self.u_mm <= max_u_mm
        dropped = int(np.count_nonzero(~keep))
        if dropped:
            self.ids, self.u_mm, self.across_mm = (
                self.ids[keep],
                self.u_mm[keep],
                self.across_mm[keep],
            )
            self.weight, self.defective = self.weight[keep], self.defective[keep]
        return dropped
