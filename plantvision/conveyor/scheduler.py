"""Reject scheduling: defective items to ejector fire plans or PLC verdicts, never lost. Pure.

`RejectScheduler` is the one public entry. Call `observe` with each frame's detections and
`update` every cycle (after `observe` when there is a frame). Fire times follow the belt, not
the wall clock: every `update` re-predicts them from the current belt position and speed. In box
mode a plan is armed only `horizon_ms` before its fire time and re-sent (same item id) or
cancelled when the prediction moves, so a stopped belt does not fire at an empty spot; `retime`
does that for armed plans on each encoder reading between cycles. In PLC mode the verdict
carries the encoder count at which the item arrives at the ejector line and the ejector's lead,
which stay right whatever the belt does afterwards: the PLC leads the arrival by the lead at its
own speed.

Items are placed where the belt was when their frame was exposed (the stamp less the camera's
capture latency; the belt dates encoder readings back by the encoder's latency), and a fire
time leads the arrival by the ejector's output latency plus its actuator response (box mode:
here, at the speed of each update; PLC mode: at the PLC, every scan).

A reject is a missed reject when, decided, its item will be beyond its ejector's reach by the
time the push can happen (box: the coil on now; PLC: the verdict at the PLC after the transport
margin); without a reach, when its fire time (arrival minus output latency and actuator
response) has passed. It is counted, logged as `reject_missed`, raised as an alarm, and, if
configured, the belt is stopped. A reject decided late but within reach fires at once. A fired
push is judged by where the belt's real readings say it landed (`fired_short`, `fired_late`,
`fired_unplaced` are missed rejects); a box-timed reject is kept until its switch-on is
reported and judged, so a late report is judged, never taken for a stray. Each push is checked
for good items in its blast window and for the ejector's cycle, and with `confirm_window_ms` it
must be seen in the bin.

This module tracks the items, picks each reject's ejector, handles encoder jumps, hands blind
segments' pushes on and forgets settled rejects; the rest lives in modules of one concern each,
sharing one `RejectBook`:

    rejects.py      Reject (the record) and RejectBook: rejects in flight, the cycle's actions,
                    counters, the latched belt stop, `miss`
    placing.py      a frame's boxes on the belt at its exposure; the `belt_unplaced` spell
    box_timed.py    box mode: plans armed within the horizon, re-timed, withdrawn, committed
    plc_timed.py    PLC mode: verdicts sent, followed until fired, resent after a PLC restart
    landing.py      where a fired push landed, judged on real readings
    push_checks.py  a planned push's blast window and the ejector's cycle
    bin_windows.py  the bin window each fired push opens, and the pulses that close them
    blind.py        blind segments (with `longest_item_mm`) and the pushes that cover them
"""

from __future__ import annotations

from typing import Any

import numpy as np

from plantvision import log
from plantvision.conveyor.actions import Actions, Alarm, FirePlan
from plantvision.conveyor.belt import Belt
from plantvision.conveyor.bin_windows import BinWindows
from plantvision.conveyor.blind import BlindSegments
from plantvision.conveyor.box_timed import BoxTiming
from plantvision.conveyor.config import ConveyorConfig, EjectorModel
from plantvision.conveyor.landing import Landing
from plantvision.conveyor.placing import FramePlacer, UnplacedSpell
from plantvision.conveyor.plc_timed import PlcTiming
from plantvision.conveyor.push_checks import PushChecks
from plantvision.conveyor.rejects import Reject, RejectBook
from plantvision.conveyor.tracker import ItemTracker
from plantvision.types import Detections

# Box mode: a committed plan whose switch-on the timer has not reported this long after its fire
# time is a missed reject (the timer thread is stuck or dead; a starved one reports late).
REPORT_WAIT_NS = 2_000_000_000


class RejectScheduler:
    """Tracks items on one belt and decides, per defective item, when its ejector fires."""

    def __init__(
        self,
        cfg: ConveyorConfig,
        logger: Any = None,
        encoder_bits: int = 32,
        *,
        capture_latency_ms: float = 0.0,
        transport_margin_ms: float = 0.0,
    ) -> None:
        """`encoder_bits`: width of the PLC's encoder register (plc.signals.encoder.width);
        `capture_latency_ms`: how long before its stamp a frame was exposed (the camera's
        source.capture_latency_ms): its items are placed where the belt was then.
        `transport_margin_ms`: PLC mode, from a verdict's decision to the PLC acting on it (the
        write and a scan); it narrows the reach of ejectors that give `reach_mm`."""
        self._cfg = cfg
        self._belt = Belt(cfg.belt, encoder_bits)
        self._placer = FramePlacer(cfg, self._belt, int(capture_latency_ms * 1e6))
        self._tracker = ItemTracker(cfg.gate_mm)
        self._ejectors = sorted(cfg.ejectors, key=lambda e: e.position_mm)
        self._book = RejectBook(cfg, logger if logger is not None else log.get(room="conveyor"))
        self._jumps_seen = 0
        self._log = self._book.log
        self._landing = Landing(cfg, self._belt, self._book)
        self._checks = PushChecks(self._belt, self._tracker, self._book)
        self._bins = BinWindows(cfg, self._belt, self._book)
        margin_ns = int(transport_margin_ms * 1e6)
        self._plc = PlcTiming(cfg, self._belt, self._book, self._checks, self._bins,
                              self._landing, margin_ns)  # fmt: skip
        self._box = BoxTiming(cfg, self._belt, self._book, self._checks, self._bins)
        self.counters = self._book.counters
        self._blind = (
            None
            if cfg.longest_item_mm is None
            else BlindSegments(cfg, self._belt, self.counters, self._log)
        )
        self._spell = UnplacedSpell(cfg, self._belt, self._book, self._blind)
        self._next_blind_id = -1  # pushes over blind segments count down from -1

    @property
    def belt(self) -> Belt:
        return self._belt

    def observe(
        self,
        now_ns: int,
        t_capture_ns: int,
        detections: Detections,
        frame_w: int,
        frame_h: int,
        encoder_count: int | None,
        longest_seen_mm: float = 0.0,
    ) -> None:
        """Track one frame's items. `encoder_count` is the count read at `now_ns` (None: none
        read this cycle, or a fixed-speed belt); the belt position at capture is interpolated.
        `longest_seen_mm`: the longest box the frame showed along the belt (cut ones included):
        an item longer than `longest_item_mm` is whole in less of the view, so the frame proves
        that much less belt (review 7: a 560 mm defect declared 40 mm passed unjudged)."""
        self._belt.sample(now_ns, encoder_count)
        self._check_jump(now_ns)
        if not self._belt.placed(self._placer.exposed_ns(t_capture_ns)):
            self._spell.frame(t_capture_ns, detections)
            return
        self._spell.end()
        if self._blind is not None:
            t_place_ns = self._placer.exposed_ns(t_capture_ns)
            self._blind.prove(t_place_ns, frame_w, frame_h, longest_seen_mm)
        upd = self._tracker.observe(
            self._placer.on_belt(t_capture_ns, detections, frame_w, frame_h)
        )
        self.counters.seen += len(upd.new_ids)
        self.counters.defective += len(upd.newly_defective_ids)
        for item_id in upd.newly_defective_ids:
            self._book.rejects[item_id] = Reject(item_id)
        for item_id in upd.orphan_ids:  # aimed at the defect: off by up to half an item
            u_mm, across_mm = self._tracker.position(item_id) or (np.nan, np.nan)
            self._log.info("defect_without_item", item_id=item_id, u_mm=round(u_mm, 1),
                           across_mm=round(across_mm, 1))  # fmt: skip

    def longest_box_mm(self, detections: Detections, frame_w: int, frame_h: int) -> float:
        """The longest box along the belt in this frame, whole or cut by the border (0 with
        none): the coverage map rests on `longest_item_mm`, and an item longer than declared is
        whole in fewer frames than it assumes."""
        return self._placer.longest_box_mm(detections, frame_w, frame_h)

    def overlong(self, length_mm: float) -> bool:
        """A box this long shows an item longer than declared (placing.OVERLONG_SLACK for the
        detector's loose boxes): worth telling the integrator."""
        return self._placer.overlong(length_mm)

    def undecided(self, cause: str) -> None:
        """A frame was not decided (`model_error`, `frozen_frame`, `black_frame`, unplaced):
        a blind segment that opens before the next decided frame names it as its cause."""
        if self._blind is not None:
            self._blind.undecided(cause)

    def update(self, now_ns: int, encoder_count: int | None) -> Actions:
        """Re-predict every open reject at `now_ns` and return what the loop must do now."""
        self._belt.sample(now_ns, encoder_count)
        self._check_jump(now_ns)
        for r in [r for r in self._book.rejects.values() if r.on_ns is not None or r.plc_unjudged]:
            if self._cfg.timing_mode == "plc":
                self._landing.plc(r, now_ns)
            else:
                self._landing.box(r, now_ns)
        if self._blind is not None:
            self._judge_blind(now_ns)
        if self._belt.ready:
            travel_mm = self._belt.position_mm(now_ns)
            for r in list(self._book.rejects.values()):
                self._advance(r, now_ns, travel_mm)
            if self._belt.placed(now_ns):  # a stale projection would drop tracks still in view
                self._forget(travel_mm, now_ns)
        return self._book.take()

    def _judge_blind(self, now_ns: int) -> None:
        """Blind segments as the belt passes the camera; with `reject`, their pushes become
        rejects aimed at belt-fixed points (no track), advanced like any other."""
        assert self._blind is not None
        self._blind.judge(now_ns, self._tracker, self._book.buf)
        for p in self._blind.pieces(now_ns, self._cfg.timing_mode == "plc", self._book.buf):
            r = Reject(self._next_blind_id, ejector=p.ejector, u_mm=p.hi_u_mm, span_mm=p.span_mm)
            self._book.rejects[r.item_id] = r
            self._next_blind_id -= 1
        if any(a.stops for a in self._book.buf.alarms):
            self._book.stop_belt = True

    def retime(self, now_ns: int) -> tuple[tuple[FirePlan, ...], tuple[int, ...]]:
        """Box-timed, between camera cycles (each encoder reading, from the input poller): the
        armed plans re-timed or withdrawn on the freshest reading, as `update` would, returned
        as (plans, cancels) for the timer. In camera cycles alone (every budget / 4 while the
        camera hangs) a belt the PLC stopped on the stale verdict was seen standing only after
        plans armed before the stop had fired at air (issue 15). Nothing is armed here, and
        what else the pass decides (a miss, an alarm, the belt stop) waits for `update`."""
        if self._cfg.timing_mode != "box" or not self._belt.ready:
            return (), ()
        self._check_jump(now_ns)
        travel_mm = self._belt.position_mm(now_ns)
        for r in [r for r in self._book.rejects.values() if r.state == "armed"]:
            self._advance(r, now_ns, travel_mm)
        plans, cancels = tuple(self._book.buf.plans), tuple(self._book.buf.cancels)
        self._book.buf.plans.clear()
        self._book.buf.cancels.clear()
        return plans, cancels

    @property
    def blind_held(self) -> bool:
        """A blind segment that stops the belt goes on (no decided frame has proven the belt
        behind it): its cause is present, so no reset press can clear it."""
        return self._blind is not None and self._blind.held

    def report_fired(self, item_id: int, now_ns: int) -> None:
        """The ejector coil went on for `item_id` at `now_ns` (box: the timer's switch-on).
        Judged by where the belt was at the push (landing.py), not by the plan's time: now,
        or at the first update with a reading at or after the push."""
        r = self._book.rejects.get(item_id)
        if r is None or r.fired_reported:
            self._log.warning("reject_fired_unexpected", item_id=item_id)
            return
        r.fired_reported, r.on_ns = True, now_ns
        if r.state != "committed":
            # The timer fired while this cycle was re-timing or cancelling: it did fire.
            self._bins.commit(r, now_ns)
        self._landing.box(r, now_ns)

    def report_lost(self, item_id: int, now_ns: int, reason: str) -> None:
        """The coil (box-timed) or the verdict (PLC-timed) for `item_id` did not reach the PLC,
        so nothing pushes the item: a missed reject, counted and alarmed with its action, even
        when the reject was already settled and forgotten."""
        self._book.miss(self._book.rejects.get(item_id) or Reject(item_id), now_ns, reason, 0.0)

    def verdicts_in_transit(self, item_ids: list[int]) -> None:
        """PLC-timed: these verdicts are being written; until the write comes back the PLC may
        not have them, so passing their fire count is not a fire (it tripped reject_unconfirmed
        for a verdict that then failed, whatever missed_action said)."""
        self._plc.in_transit.update(item_ids)

    def verdict_settled(self, item_id: int) -> None:
        """The write of `item_id`'s verdict came back (delivered, or reported lost)."""
        self._plc.in_transit.discard(item_id)

    def report_confirm(
        self, now_ns: int, ejector_id: str | None = None, since_ns: int | None = None
    ) -> None:
        """The bin sensor saw an item at `now_ns` (or somewhere in [`since_ns`, `now_ns`]).

        With `ejector_id` (a bin counter of that ejector): it belongs to a fired push of that
        ejector whose window (fire time .. confirm deadline) holds the pulse, the earliest
        deadline first, and never to another ejector's. Without (the shared level input, which
        cannot tell ejectors apart): to the oldest fired push still waiting, as before. Either
        way a push over blind belt whose window holds it, and that can still explain a pulse,
        takes it first (confirm.py): a real reject is confirmed only by a pulse no blind push
        can explain."""
        self._plc.fired_by(now_ns)
        self._bins.confirm(now_ns, ejector_id, since_ns)

    def _check_jump(self, now_ns: int) -> None:
        """An encoder discontinuity (the belt re-anchored itself): where the items in flight
        are is unknown, so every reject not yet fired is missed (its verdict, at a count of the
        old numbering, would fire on another item), every track is dropped, and the fault
        latches the belt stop like an unconfirmed reject."""
        jumps = self._belt.discontinuities
        if jumps == self._jumps_seen:
            return
        self._jumps_seen = jumps
        self.counters.discontinuities += 1
        t_ns, before, after = self._belt.last_jump or (now_ns, 0, 0)
        self._book.buf.alarms.append(Alarm("encoder_discontinuity", 0))
        self._book.stop_belt = True
        in_flight = [r for r in self._book.rejects.values() if r.state != "committed"]
        self._log.error(
            "encoder_discontinuity",
            count_before=before,
            count_after=after,
            t_ns=t_ns,
            rejects_in_flight=len(in_flight),
        )
        for r in in_flight:
            self._book.miss(r, now_ns, "encoder_discontinuity", 0.0)
        self._tracker.forget_beyond(-np.inf)
        if self._blind is not None:  # the belt up to the last ejector is blind again
            self._blind.restart("encoder_discontinuity")

    def resend_ahead(self, now_ns: int) -> None:
        """The PLC restarted and lost its pending verdicts. Judged on the newest real reading
        (the first after the restart), not on a projection across the outage: every verdict
        sent whose fire position is still ahead of it goes out again (a new FIFO entry, same
        count); one whose position the belt passed while the link was down may have fired
        before the restart or been lost in it: a missed reject (`plc_restarted`), never
        booked as fired. An encoder jump in the same reading is handled first (its rejects
        are missed: a count of the old numbering would fire on another item)."""
        self._check_jump(now_ns)
        self._plc.resend_ahead(now_ns)

    def report_fifo_loss(self, now_ns: int, reason: str, n: int) -> None:
        """The PLC's echo counts `n` verdicts it refused or lost to overflow: each is a missed
        reject (which item, the echo does not say; the counts and the alarm are what matter)."""
        self._plc.fifo_loss(now_ns, reason, n)

    @property
    def unplaced_held(self) -> bool:
        """The spell that raised `belt_unplaced` goes on (no frame placed since): the cause is
        still present, so no reset press can clear it (review 6: a press mid-spell cleared it,
        the fault is raised once per spell, and defects passed with the permit on)."""
        return self._spell.told

    def clear_stop_belt(self) -> None:
        """Release the latched belt stop (after a person has dealt with the cause), unless its
        cause is still present: a belt still unplaced with `missed_action: stop_belt`, or a
        blind segment still open with `no_decision_action: stop_belt`."""
        if self._blind is not None:
            self._blind.clear_stop()
        unplaced = self.unplaced_held and self._cfg.missed_action == "stop_belt"
        self._book.stop_belt = unplaced or self.blind_held

    def _advance(self, r: Reject, now_ns: int, travel_mm: float) -> None:
        if r.state == "committed":
            self._bins.check(r, now_ns)
            return
        if r.state in ("armed", "sent") and not r.neighbours_told:
            self._checks.recheck_blast(r, now_ns)
        if r.state == "sent":  # at the PLC: its count holds wherever the track is now
            self._plc.follow(r, now_ns)
            return
        pos = (r.u_mm, 0.0) if r.u_mm is not None else self._tracker.position(r.item_id)
        if pos is None:  # cannot happen before the item passes its ejector; never drop silently
            self._book.miss(r, now_ns, "lost_track", 0.0)
            return
        if r.ejector is None:
            r.ejector = self._ejector_for(pos[1])
            if r.ejector is None:
                self._book.miss(r, now_ns, "no_ejector_for_lane", 0.0)
                return
        remaining_mm = r.ejector.position_mm - pos[0] - travel_mm
        if self._cfg.timing_mode == "plc":
            if not self._belt.placed(now_ns):  # lateness from a stale projection: wait
                return
            self._plc.send(r, now_ns, travel_mm, remaining_mm)
        else:
            self._box.advance(r, now_ns, travel_mm, remaining_mm)

    def _ejector_for(self, across_mm: float) -> EjectorModel | None:
        for e in self._ejectors:
            lo = -np.inf if e.lane_min_mm is None else e.lane_min_mm
            hi = np.inf if e.lane_max_mm is None else e.lane_max_mm
            if lo <= across_mm <= hi:
                return e
        return None

    def _forget(self, travel_mm: float, now_ns: int) -> None:
        """Drop tracks well past the last ejector, and rejects that are settled. Box mode, a
        reject is settled once the timer has reported its switch-on (a starved timer reports
        it late, and it is judged then); one never reported within `REPORT_WAIT_NS` of its fire
        time is a missed reject (`fire_unreported`), never dropped silently."""
        limit_mm = self._ejectors[-1].position_mm + self._cfg.track_margin_mm
        self._tracker.forget_beyond(limit_mm - travel_mm)
        box = self._cfg.timing_mode == "box"
        for item_id, r in list(self._book.rejects.items()):
            if (
                r.state != "committed" or r.on_ns is not None or r.plc_unjudged
            ):  # unjudged: landing.py decides
                continue
            if self._tracker.position(item_id) is not None:
                continue
            if box and not r.fired_reported:
                if now_ns - r.fire_at_ns > REPORT_WAIT_NS:
                    self._book.miss(r, now_ns, "fire_unreported", 0.0)
            elif r.confirm_deadline_ns is None:
                del self._book.rejects[item_id]


# The name the defect-rejection issue uses for the same object.
ConveyorTracker = RejectScheduler
