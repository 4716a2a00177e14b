"""Push checks: what a planned push may do besides hit its defect. Pure.

Each push is checked when it is first planned (box: armed; PLC: sent), its blast window again
every cycle until it fires (`recheck_blast`): a good item inside its blast window
(`reject_hits_neighbour`) or a start closer than the actuator's cycle to another push on the same
ejector, or inside its pulse (`ejector_cycle_short`), is counted, logged and alarmed, once per
push, and the push still fires (see `check`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from plantvision.conveyor.actions import Alarm, PushConflict
from plantvision.conveyor.belt import Belt
from plantvision.conveyor.config import EjectorModel
from plantvision.conveyor.ejector import Push, blast_hits, cycle_conflict, pulse_ns
from plantvision.conveyor.rejects import Reject, RejectBook, ms
from plantvision.conveyor.tracker import ItemTracker


class PushChecks:
    """Checks one belt's pushes against its tracked items and the pushes planned before."""

    def __init__(self, belt: Belt, tracker: ItemTracker, book: RejectBook) -> None:
        self._belt, self._tracker, self._book = belt, tracker, book

    def check(
        self, r: Reject, now_ns: int, push_ns: int, coil_ns: int, v: float, offset_mm: float
    ) -> None:
        """A push being planned for the first time (coil on at `push_ns` for `coil_ns`): good
        items inside its blast window, and another push on the ejector closer than its cycle.

        Either is counted, logged and alarmed, and the push still fires: a defect must be
        rejected if it can be. A good neighbour in the bin costs one good item and the alarm
        says which; a push that is skipped lets the defect through for certain. A push inside
        the cycle may be weak or merged with the other; it may still hit, while none cannot."""
        e = r.ejector
        assert e is not None
        other = cycle_conflict(push_ns, coil_ns, self._book.pushes.pushes(e.id, r.item_id),
                               int(e.min_cycle_ms * 1e6))  # fmt: skip
        self._book.pushes.put(e.id, Push(r.item_id, push_ns, coil_ns))
        if other is not None:
            gap_ms = ms(abs(push_ns - other.t_ns))
            self._book.counters.cycle_short += 1
            conflict = PushConflict(r.item_id, e.id, "cycle", (other.item_id,), gap_ms)
            self._conflict(conflict, "ejector_cycle_short", other_item_id=other.item_id,
                           gap_ms=gap_ms, min_cycle_ms=e.min_cycle_ms, pulse_ms=ms(coil_ns),
                           t_ns=now_ns)  # fmt: skip
        r.push_offset_mm = offset_mm
        self._check_blast(r, now_ns, v, coil_ns)

    def recheck_blast(self, r: Reject, now_ns: int) -> None:
        """Until the push, items that enter the view behind a planned push are checked too (a
        PLC verdict goes out when its defect is first seen, before the next item is)."""
        v = self._belt.speed_mm_per_ns()
        if r.ejector is not None and v is not None and v > 0:
            self._check_blast(r, now_ns, v, pulse_ns(r.ejector, v))

    def _check_blast(self, r: Reject, now_ns: int, v: float, coil_ns: int) -> None:
        """Good items inside the push's blast window: one alarm per push, naming them."""
        e = r.ejector
        assert e is not None
        neighbours = self._good_in_blast(r.item_id, e, max(v, 0.0) * coil_ns, r.push_offset_mm)
        if neighbours:
            r.neighbours_told = True
            self._book.counters.neighbour_hits += 1
            self._conflict(PushConflict(r.item_id, e.id, "neighbour", neighbours, None),
                           "reject_hits_neighbour", neighbour_ids=list(neighbours),
                           blast_mm=round(max(v, 0.0) * coil_ns, 1), reach_mm=e.reach_mm,
                           pulse_ms=ms(coil_ns), t_ns=now_ns)  # fmt: skip

    def _good_in_blast(
        self, item_id: int, e: EjectorModel, blast_mm: float, offset_mm: float
    ) -> tuple[int, ...]:
        """Ids of good items in `e`'s lane that a push aimed at `item_id` meets."""
        tr = self._tracker
        pos = tr.position(item_id)
        if pos is None:
            return ()
        lo = -np.inf if e.lane_min_mm is None else e.lane_min_mm
        hi = np.inf if e.lane_max_mm is None else e.lane_max_mm
        good = (tr.ids != item_id) & ~tr.defective & (tr.across_mm >= lo) & (tr.across_mm <= hi)
        hit = blast_hits(pos[0], tr.u_mm[good], e.reach_mm, blast_mm, offset_mm)
        return tuple(tr.ids[good][hit].tolist())

    def _conflict(self, c: PushConflict, event: str, **fields: Any) -> None:
        """A record, an alarm (named as the event) and a warning line; never a belt stop."""
        self._book.buf.conflicts.append(c)
        self._book.buf.alarms.append(Alarm(event, c.item_id))
        self._book.log.warning(event, item_id=c.item_id, ejector=c.ejector_id, **fields)
