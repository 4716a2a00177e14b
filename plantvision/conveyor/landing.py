"""Where a push landed: a fired reject judged by the belt's real readings at its push. Pure.

Box-timed (`box`): the timer's reported switch-on plus the lead, against the travel at which the
item is at the line (fixed when the plan was armed); beyond the reach short of it (the belt
slowed or stopped after the plan) or past it (a starved timer thread), a missed reject
(`fired_short`, `fired_late`; without a reach: beyond the re-time tolerance at the plan's speed).
PLC-timed (`plc`): the PLC's switch-on replayed on the readings, plus the lead, against the
arrival; only the short side is a miss. Never on a projection: with no reading at or after the
push yet a judgement waits, for at most `encoder.stale_ms`, then the reject is a missed reject
(`fired_unplaced`). Otherwise the push is booked fired (`reject_fired`).
"""

from __future__ import annotations

from plantvision.conveyor.belt import Belt
from plantvision.conveyor.config import ConveyorConfig
from plantvision.conveyor.ejector import PLC_SPEED_WINDOW_MS, push_miss
from plantvision.conveyor.rejects import Reject, RejectBook, lead_ms, ms


class Landing:
    """Judges the landing of one belt's fired pushes; a push not yet judgeable waits."""

    def __init__(self, cfg: ConveyorConfig, belt: Belt, book: RejectBook) -> None:
        self._cfg, self._belt, self._book = cfg, belt, book

    def box(self, r: Reject, now_ns: int) -> None:
        """A reported switch-on, judged by the encoder history at the push (switch-on plus the
        output latency and actuator response) against the travel at which the item is at the
        line (`line_mm`, fixed when the plan was armed): beyond the reach short of it (the belt
        slowed or stopped after the plan: a push at air) or past it (a starved timer thread),
        a missed reject (`fired_short`, `fired_late`); else a fire. Never on a projection: with
        no reading at or after the push yet it waits, for at most `encoder.stale_ms`, then it
        is a missed reject (`fired_unplaced`). Timing the plan from the speed at arming and
        judging only the timer's lateness booked a push at the planned time fired while the
        belt stood still (issue 15)."""
        e = r.ejector
        assert e is not None
        assert r.on_ns is not None
        at_mm = self._landed_mm(r, now_ns, r.on_ns + int(lead_ms(e) * 1e6))
        if at_mm is None:
            return
        on_ns, r.on_ns = r.on_ns, None
        tol_mm = self._cfg.retime_tolerance_ms * 1e6 * r.plan_mm_per_ns
        off_mm = at_mm - r.line_mm
        reason = push_miss(off_mm, e.reach_mm, tol_mm)
        if reason is not None:
            beyond_mm = abs(off_mm) - (tol_mm if e.reach_mm is None else e.reach_mm)
            v = r.plan_mm_per_ns  # > 0: a plan is armed only on a moving belt
            late_ns = beyond_mm / v if reason == "fired_late" and v > 0 else 0.0
            due_ns = (self._belt.time_at_mm(r.line_mm) or 0) if reason == "fired_late" else 0
            self._book.miss(r, now_ns, reason, ms(late_ns), due_ns, off_mm=round(off_mm, 1))
            return
        self._book.counters.fired += not r.blind
        if r.confirm_deadline_ns is not None and self._cfg.confirm_window_ms is not None:
            # The window runs from the real firing when that is later than planned.
            late_open = on_ns + int(self._cfg.confirm_window_ms * 1e6)
            r.confirm_deadline_ns = max(r.confirm_deadline_ns, late_open)
        self._book.log.info("reject_fired", item_id=r.item_id, ejector=e.id, t_ns=on_ns,
                            off_mm=round(off_mm, 1))  # fmt: skip

    def _landed_mm(self, r: Reject, now_ns: int, push_ns: int) -> float | None:
        """The belt's travel at `push_ns` from real readings, or None while none is in past it;
        with none within `encoder.stale_ms` of the push, a missed reject `fired_unplaced`."""
        at_mm = self._belt.read_at(push_ns)
        if at_mm is None and now_ns - push_ns > self._belt.stale_ns:
            self._book.miss(r, now_ns, "fired_unplaced", 0.0, push_ns=push_ns)
        return at_mm

    def plc(self, r: Reject, now_ns: int) -> None:
        """A PLC-timed push, judged where the belt was when its paddle landed (the switch-on
        plus the lead) against the arrival: beyond the reach short of it (the belt stopped or
        slowed inside the lead: a push at air, review 8), a missed reject `fired_short`; else a
        fire. Only the short side: the PLC's own late limit refuses a late one, and a lead
        taken at a rising speed lands a little past the line by design. Never on a projection:
        it waits for a reading past the landing, at most `stale_ms`, then `fired_unplaced`."""
        e = r.ejector
        assert e is not None
        lead_ns = int(lead_ms(e) * 1e6)
        if r.on_ns is None:
            # When the PLC switched on: its rule replayed on the readings (review 9: dated at
            # the box's fire point, taken with its own lagging speed, a good push on a slowing
            # belt was judged 4 mm shorter than it landed). Not reached yet: the PLC has not
            # fired (the box's fire point ran ahead of its), so wait for it.
            window_ns = int(PLC_SPEED_WINDOW_MS * 1e6)
            r.on_ns = self._belt.lead_reached_ns(r.arrival_mm, lead_ns, window_ns)
            if r.on_ns is None:
                return
        push_ns = r.on_ns + lead_ns
        at_mm = self._landed_mm(r, now_ns, push_ns)
        if at_mm is None:
            return
        r.on_ns, r.plc_unjudged = None, False
        off_mm = at_mm - r.arrival_mm
        v = self._belt.speed_mm_per_ns() or 0.0
        tol_mm = self._cfg.retime_tolerance_ms * 1e6 * v
        if push_miss(off_mm, e.reach_mm, tol_mm) == "fired_short":
            self._book.miss(r, now_ns, "fired_short", 0.0, off_mm=round(off_mm, 1))
            return
        self._book.counters.fired += 1
        self._book.log.info("reject_fired", item_id=r.item_id, ejector=e.id, t_ns=push_ns,
                            off_mm=round(off_mm, 1))  # fmt: skip
