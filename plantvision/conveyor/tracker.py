"""Items tracked across frames in belt-fixed coordinates, so one item gives one verdict. Pure.

A detection at `along_mm` in a frame captured when the belt had travelled `P` sits at belt-fixed
`u_mm = along_mm - P`, which stays put while the belt carries the item. Per frame (`BeltFrame`):
- a defect box inside an item box of its frame marks that item (`BeltFrame.defect_item`), so the
  item is aimed at its own centre, never at the defect;
- a defect box no item box of its frame contains (its item's box cut by the frame edge, missed,
  or a detector that labels a defective item's whole box as the defect class) marks the open
  item whose footprint (its boxes' mean extent) holds its centre; failing that it stands for
  its item: reject unless proven good, aimed at its own centre (`TrackUpdate.orphan_ids`);
- item boxes and those stand-in defect boxes meet tracks one to one, nearest first, within
  `gate_mm` (`greedy_pairs`); a track opened by a stand-in is also taken by a box that holds its
  centre, and an item box puts the track at its own centre. A box that meets no track is a new
  item: two boxes of one frame are two items (the detector's NMS has merged duplicates), so
  neighbours closer than the gate never chain into one.
A defect seen in any frame marks its item defective for good. Defects never move an item.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from plantvision.conveyor.association import greedy_pairs

F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class BeltFrame:
    """One frame's item and defect boxes in belt-fixed mm, in detection order: centres, half
    extents (along, across), which are defects, and for a defect the row of the item box that
    contains it in the frame (-1: none, and for every item box)."""

    u_mm: F64
    across_mm: F64
    half_mm: F64  # N x 2
    is_defect: Bool
    owner: I64


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    """What one frame changed: items first seen, items first marked defective, and the items
    opened by a defect box that no item box contained (aimed at the defect box's centre)."""

    new_ids: tuple[int, ...]
    newly_defective_ids: tuple[int, ...]
    orphan_ids: tuple[int, ...] = ()


class ItemTracker:
    """Open tracks as parallel arrays; ids count up from 1 and are never reused."""

    def __init__(self, gate_mm: float) -> None:
        self._gate_mm = gate_mm
        self._next_id = 1
        self.ids: I64 = np.zeros(0, np.int64)
        self.u_mm: F64 = np.zeros(0, np.float64)
        self.across_mm: F64 = np.zeros(0, np.float64)
        self.half_mm: F64 = np.zeros((0, 2), np.float64)
        self.weight: F64 = np.zeros(0, np.float64)  # boxes averaged into the position
        self.has_item: Bool = np.zeros(0, np.bool_)  # False: opened by a defect box alone
        self.defective: Bool = np.zeros(0, np.bool_)

    def __len__(self) -> int:
        return len(self.ids)

    def observe(self, f: BeltFrame) -> TrackUpdate:
        """Associate one frame's boxes with tracks; open new ones (in detection order)."""
        k0, before = len(self.ids), self.defective.copy()
        loose = f.is_defect & (f.owner < 0)
        held = np.where(loose, self._holding(f.u_mm, f.across_mm), -1)
        self.defective[held[held >= 0]] = True
        boxes = np.flatnonzero(~f.is_defect | (loose & (held < 0)))  # items and stand-ins
        stand_in = f.is_defect[boxes]
        rows = self._match(f.u_mm[boxes], f.across_mm[boxes], f.half_mm[boxes], ~stand_in)
        row = np.full(len(f.u_mm), -1, np.int64)
        row[boxes] = rows
        self.defective[rows[stand_in]] = True
        self.defective[row[f.owner[f.owner >= 0]]] = True
        before = np.concatenate([before, np.zeros(len(self.ids) - k0, np.bool_)])
        return TrackUpdate(
            tuple(self.ids[k0:].tolist()),
            tuple(self.ids[self.defective & ~before].tolist()),
            tuple(self.ids[rows[stand_in & (rows >= k0)]].tolist()),
        )

    def _holding(self, u_mm: F64, across_mm: F64) -> I64:
        """Row of the item track whose footprint holds each point (the nearest centre of
        several), or -1."""
        if len(u_mm) == 0 or len(self.ids) == 0:
            return np.full(len(u_mm), -1, np.int64)
        du = u_mm[:, None] - self.u_mm[None, :]
        da = across_mm[:, None] - self.across_mm[None, :]
        inside = (np.abs(du) <= self.half_mm[:, 0]) & (np.abs(da) <= self.half_mm[:, 1])
        cost = np.where(inside & self.has_item, np.hypot(du, da), np.inf)
        best = np.argmin(cost, axis=1)
        found = np.isfinite(cost[np.arange(len(u_mm)), best])
        return np.where(found, best, -1).astype(np.int64)

    def _match(self, u_mm: F64, across_mm: F64, half_mm: F64, is_item: Bool) -> I64:
        """Track row of each box: matched one to one, or opened."""
        row = np.full(len(u_mm), -1, np.int64)
        if len(row) and len(self.ids):
            du = u_mm[:, None] - self.u_mm[None, :]
            da = across_mm[:, None] - self.across_mm[None, :]
            dist = np.hypot(du, da)
            inside = (np.abs(du) <= half_mm[:, :1]) & (np.abs(da) <= half_mm[:, 1:])
            det, trk = greedy_pairs(dist, (dist <= self._gate_mm) | (inside & ~self.has_item))
            row[det] = trk
            item, had = is_item[det], self.has_item[trk]
            # An item box takes the place of a track opened by defects; a defect box never
            # moves an item's track.
            w = np.where(item & ~had, 0.0, self.weight[trk])
            move = item | ~had
            det, trk, w = det[move], trk[move], w[move]
            self.u_mm[trk] = (self.u_mm[trk] * w + u_mm[det]) / (w + 1)
            self.across_mm[trk] = (self.across_mm[trk] * w + across_mm[det]) / (w + 1)
            self.half_mm[trk] = (self.half_mm[trk] * w[:, None] + half_mm[det]) / (w[:, None] + 1)
            self.weight[trk] = w + 1
            self.has_item[trk] |= is_item[det]
        new = row < 0
        row[new] = self._append(u_mm[new], across_mm[new], half_mm[new], is_item[new])
        return row

    def _append(self, u_mm: F64, across_mm: F64, half_mm: F64, has_item: Bool) -> I64:
        """Open one track per row; returns their row indices."""
        n, k = len(u_mm), len(self.ids)
        self.ids = np.concatenate([self.ids, np.arange(self._next_id, self._next_id + n)])
        self._next_id += n
        self.u_mm = np.concatenate([self.u_mm, u_mm])
        self.across_mm = np.concatenate([self.across_mm, across_mm])
        self.half_mm = np.concatenate([self.half_mm, half_mm])
        self.weight = np.concatenate([self.weight, np.ones(n)])
        self.has_item = np.concatenate([self.has_item, has_item])
        self.defective = np.concatenate([self.defective, np.zeros(n, np.bool_)])
        return np.arange(k, k + n, dtype=np.int64)

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
            for name in ("ids", "u_mm", "across_mm", "half_mm", "weight", "has_item", "defective"):
                setattr(self, name, getattr(self, name)[keep])
        return dropped
