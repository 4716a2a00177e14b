"""PLC-timed rejects: verdicts to the PLC's FIFO, followed until the belt passes them. Pure.

A reject is sent once its ejector is known (`send`): the verdict carries the encoder count at
which the item arrives at the ejector line and the ejector's lead, which stay right whatever the
belt does afterwards: the PLC leads the arrival by the lead at its own speed, every scan. A
reject decided when it will be beyond its ejector's reach by the time the PLC has the verdict
(the transport margin) is a missed reject (`late`). A sent verdict is booked fired once a real
reading passes its fire point (`follow`, or `fired_by` when a bin pulse comes first) and its
write came back (`in_transit`); where it landed is judged then (landing.py). After a PLC
restart the verdicts still ahead go out again (`resend_ahead`); the PLC's echo of refused or
overflowed verdicts makes missed rejects (`fifo_loss`).
"""

from __future__ import annotations

from plantvision.conveyor.actions import PlcVerdict
from plantvision.conveyor.belt import Belt
from plantvision.conveyor.bin_windows import BinWindows
from plantvision.conveyor.config import ConveyorConfig
from plantvision.conveyor.ejector import lateness_mm
from plantvision.conveyor.landing import Landing
from plantvision.conveyor.push_checks import PushChecks
from plantvision.conveyor.rejects import Reject, RejectBook, coil_on_ns, lead_mm, lead_ms, ms


class PlcTiming:
    """The PLC-timed path of one belt's rejects."""

    def __init__(self, cfg: ConveyorConfig, belt: Belt, book: RejectBook, checks: PushChecks,
                 bins: BinWindows, landing: Landing, transport_margin_ns: int) -> None:  # fmt: skip
        self._cfg, self._belt, self._book = cfg, belt, book
        self._checks, self._bins, self._landing = checks, bins, landing
        self._margin_ns = transport_margin_ns
        self.in_transit: set[int] = set()  # verdicts whose write has not come back

    def send(self, r: Reject, now_ns: int, travel_mm: float, remaining_mm: float) -> None:
        """A pending reject `remaining_mm` short of its ejector line on a placed belt: its
        verdict goes out, or it is a missed reject if it cannot be met any more."""
        assert r.ejector is not None
        e = r.ejector
        v = self._belt.speed_mm_per_ns()
        if v is None:
            if remaining_mm < -(e.reach_mm or 0.0):
                self._book.miss(r, now_ns, "passed_while_stopped", 0.0)
            return  # no speed yet to lead the actuator response: decide next cycle
        # The verdict carries the arrival and the lead; the PLC applies the lead at its own speed
        # every scan. The box's speed only judges, here, whether the push can still meet the item.
        arrival_mm = travel_mm + remaining_mm
        fire_mm = arrival_mm - lead_mm(e, v)
        # A blind range (its downstream end first) is on until its end passes: late past that.
        # A verdict acts only once written and scanned; without a reach, as before, not at all.
        margin_ns = self._margin_ns if e.reach_mm is not None else 0
        late_mm = lateness_mm(travel_mm, fire_mm + r.span_mm, e.reach_mm, v, margin_ns)
        if late_mm >= 0:
            due_ns = now_ns + int((arrival_mm - travel_mm) / v) if v > 0 else 0
            self._book.miss(r, now_ns, "late", ms(late_mm / v) if v > 0 else 0.0, due_ns)
            return
        r.state, r.arrival_mm, r.fire_mm = "sent", arrival_mm, fire_mm
        r.end_mm = fire_mm + r.span_mm if r.blind else None  # its bin window runs to there
        # Past this instant the verdict is not worth writing (the writer may be queued): the
        # item would be beyond the reach when the PLC has it (the PLC fires a count already
        # passed at once, and refuses one past its late limit, which must be the reach).
        deadline_ns = now_ns + int(-late_mm / v) if v > 0 else None
        verdict = self._verdict(r, deadline_ns)
        self._book.buf.verdicts.append(verdict)
        self._book.count_scheduled(r)
        push_ns = now_ns + int(max(fire_mm - travel_mm, v * margin_ns) / v) if v > 0 else now_ns
        offset_mm = max(travel_mm + v * margin_ns - fire_mm, 0.0)
        self._checks.check(r, now_ns, push_ns, coil_on_ns(r, v), v, offset_mm)
        self._book.log.info(
            "reject_scheduled",
            item_id=r.item_id,
            ejector=r.ejector.id,
            mode="plc",
            arrival_count=verdict.arrival_count,
            lead_ms=verdict.lead_ms,
            **({} if verdict.end_count is None else {"end_count": verdict.end_count}),
        )

    def _verdict(self, r: Reject, deadline_ns: int | None) -> PlcVerdict:
        """What the PLC gets for a sent reject: the counts at which its item (a range: its
        start and its end) arrives at the ejector line, and the ejector's lead."""
        assert r.ejector is not None
        count = self._belt.count_at_mm(r.arrival_mm)
        end = self._belt.count_at_mm(r.arrival_mm + r.span_mm) if r.blind else None
        return PlcVerdict(r.ejector.id, count, r.item_id, deadline_ns, end, lead_ms(r.ejector))

    def follow(self, r: Reject, now_ns: int) -> None:
        """A sent verdict, each cycle: its fire point follows the box's speed, and a real
        reading past it books it fired (`commit`)."""
        # The PLC fires at the arrival less the lead at its speed; the box follows that
        # point at its own (a verdict sent at standstill fires ahead of its arrival).
        r.fire_mm = r.arrival_mm - lead_mm(r.ejector, self._belt.speed_mm_per_ns())
        # Fired only when a real reading passed that point: a projection during an outage
        # booked verdicts fired that a PLC restart then lost (review 5).
        measured_mm = self._belt.measured_mm()
        passed = measured_mm is not None and measured_mm >= r.fire_mm
        if passed and r.item_id not in self.in_transit:
            self.commit(r, now_ns)

    def commit(self, r: Reject, now_ns: int) -> None:
        """The PLC fired a delivered verdict: the belt passed its count (the box's best
        knowledge; the bin sensor confirms it when configured). A single push is booked fired
        only once the belt is known where its paddle landed (landing.py)."""
        self._bins.commit(r, now_ns)
        if not r.blind:
            r.plc_unjudged = True
            self._landing.plc(r, now_ns)
        v = self._belt.speed_mm_per_ns()
        if v:  # the update notices the fire up to a cycle late: the window opens when it fired
            behind_ns = (self._belt.position_mm(now_ns) - r.fire_mm) / v
            r.confirm_open_ns = now_ns - int(min(max(behind_ns, 0.0), 1e9))

    def fired_by(self, now_ns: int) -> list[Reject]:
        """PLC-timed verdicts the PLC has fired by `now_ns` that no update has committed yet:
        the bin sensor can see the item before the next cycle notices the fire count passed
        (found by the verifier: the confirm was dropped and the window then tripped the belt)."""
        if self._cfg.timing_mode != "plc" or not self._belt.ready:
            return []
        # A bin pulse is evidence of a push: a projection up to `stale_ms` may back it.
        belt = self._belt
        travel_mm = belt.position_mm(now_ns) if belt.placed(now_ns) else belt.measured_mm()
        assert travel_mm is not None  # PLC-timed belts have an encoder, and it was read
        fired = [
            r
            for r in self._book.rejects.values()
            if r.state == "sent" and travel_mm >= r.fire_mm and r.item_id not in self.in_transit
        ]
        for r in fired:
            self.commit(r, now_ns)
        return fired

    def resend_ahead(self, now_ns: int) -> None:
        """After a PLC restart, on the newest real reading: see `RejectScheduler.resend_ahead`."""
        measured_mm = self._belt.measured_mm()
        if measured_mm is None:
            return
        travel_mm = self._belt.position_mm(now_ns)
        for r in list(self._book.rejects.values()):
            if r.state != "sent" or r.ejector is None:
                continue
            last_mm = r.fire_mm + r.span_mm  # a range: its end
            if last_mm <= measured_mm:
                self._book.miss(r, now_ns, "plc_restarted", 0.0)
            else:
                v = self._belt.speed_mm_per_ns()
                deadline_ns = now_ns + int((last_mm - travel_mm) / v) if v else None
                verdict = self._verdict(r, deadline_ns)
                self._book.buf.verdicts.append(verdict)
                self._book.counters.fifo_resent += 1
                self._book.log.warning("reject_resent", item_id=r.item_id,
                                       arrival_count=verdict.arrival_count)  # fmt: skip

    def fifo_loss(self, now_ns: int, reason: str, n: int) -> None:
        """`n` verdicts the PLC refused or lost to overflow: each a missed reject."""
        if reason == "fifo_overflow":
            self._book.counters.fifo_overflow += n
        else:
            self._book.counters.fifo_refused += n
        for _ in range(n):
            self._book.miss(Reject(0), now_ns, reason, 0.0)
