"""Blind segments: belt that no decided frame proved good, and the pushes that reject it. Pure.

`BlindSegments` keeps the camera's `CoverageMap` (coverage.py). Each placed, decided frame
proves the item centres it holds whole (`prove`); every cycle `judge` moves the judging frontier
with the belt and turns what passed it unproven (gaps, too few views, items seen in fewer than
`min_views` frames, and at start-up or after an encoder discontinuity the belt between the
camera and the last ejector) into segments: one per unbroken stretch, opened, extended while the
camera stays blind, closed at the first proof. Opening one counts it (`blind_segments`), logs
`blind_segment` and raises its alarm; with `no_decision_action: stop_belt` the alarm stops the
belt, and the cause stays present (`held`) while the segment is open.

With `reject`, `pieces` hands the scheduler the pushes that cover a segment at each ejector it
needs, lazily, as the belt brings them within `horizon_ms`: box-timed, consecutive coil pulses
of at most the actuator's longest (`pulse_max_ms`, or `pulse_ms` for a fixed pulse), apart by at
least `min_cycle_ms`, any gap between two within twice `reach_mm` so no centre slips between;
an actuator that cannot do that at the belt's speed stops the belt instead and says so
(`blind_segment_unrejectable`). PLC-timed, one range per piece: the PLC holds the coil from the
start count to the end count.

Belt-fixed `u_mm` as in tracker.py. A segment is logged in belt travel at the camera's
reference line (`start_mm` passed it first) and the encoder counts there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from plantvision.conveyor.actions import ActionBuffer, Alarm, RejectCounters
from plantvision.conveyor.belt import Belt
from plantvision.conveyor.config import ConveyorConfig, EjectorModel
from plantvision.conveyor.coverage import EPS_MM, CoverageMap, Stretch
from plantvision.conveyor.mapping import ImageToBelt
from plantvision.conveyor.tracker import ItemTracker

LOST_PAST = ("startup", "encoder_discontinuity")  # causes: nothing saw the belt up to the ejectors


@dataclass(slots=True)
class Segment:
    """One blind stretch of item centres [lo_u_mm, hi_u_mm]; `cursors`: per ejector, the
    highest centre no push covers yet (below `lo_u_mm`: done)."""

    seg_id: int
    lo_u_mm: float
    hi_u_mm: float
    cause: str
    open: bool = True
    cursors: dict[str, float] = field(default_factory=dict)

    @property
    def lost_past(self) -> bool:
        """Start-up or a re-anchored belt: nothing tracked what already reached an ejector
        (box-timed pushes start at what the coil can still reach, not at a certain miss)."""
        return self.cause in LOST_PAST


@dataclass(frozen=True, slots=True)
class Piece:
    """One push over a segment: the coil goes on as centre `hi_u_mm` reaches `ejector`'s line
    and stays on while `span_mm` of belt passes (PLC-timed: a range of that length)."""

    ejector: EjectorModel
    hi_u_mm: float
    span_mm: float
    seg_id: int


VIEW_FIX = "widen the camera's view along the belt, or correct longest_item_mm"


def view_problem(view_mm: float, longest_item_mm: float) -> str:
    """Why such a view cannot prove an item good."""
    return (
        f"the view along the belt is {view_mm:g} mm, not longer than longest_item_mm "
        f"{longest_item_mm:g} mm: no frame holds an item whole, so none is ever proven good"
    )


def coil_max_ns(e: EjectorModel) -> int:
    """The longest the actuator holds one push: `pulse_max_ms` with `pulse_mm`, else its
    fixed `pulse_ms` (repeated, never stretched)."""
    return int((e.pulse_max_ms if e.pulse_mm is not None else e.pulse_ms or 0.0) * 1e6)


def piece_gap_mm(e: EjectorModel, v_mm_per_ns: float) -> float | None:
    """Belt between two consecutive full pushes, so their starts are `min_cycle_ms` apart; None
    when that gap is wider than twice the reach (a centre in it would meet neither push)."""
    full_mm = v_mm_per_ns * coil_max_ns(e)
    gap_mm = max(0.0, v_mm_per_ns * e.min_cycle_ms * 1e6 - full_mm)
    return gap_mm if gap_mm <= 2 * (e.reach_mm or 0.0) + EPS_MM else None


def needed_ejectors(ejectors: list[EjectorModel]) -> list[EjectorModel]:
    """Ejectors (upstream first) that some lane reaches first: one downstream of an ejector
    whose lane holds its own lane never pushes first."""

    def lane(e: EjectorModel) -> tuple[float, float]:
        return (-np.inf if e.lane_min_mm is None else e.lane_min_mm,
                np.inf if e.lane_max_mm is None else e.lane_max_mm)  # fmt: skip

    out: list[EjectorModel] = []
    for e in sorted(ejectors, key=lambda x: x.position_mm):
        lo, hi = lane(e)
        if not any(lane(u)[0] <= lo and hi <= lane(u)[1] for u in out):
            out.append(e)
    return out


class BlindSegments:
    """The coverage map of one camera and the blind segments it finds."""

    def __init__(
        self,
        cfg: ConveyorConfig,
        belt: Belt,
        counters: RejectCounters,
        log: Any,
    ) -> None:
        assert cfg.longest_item_mm is not None
        self._cfg, self._belt, self._counters, self._log = cfg, belt, counters, log
        self._half_item_mm = cfg.longest_item_mm / 2
        self._mapping = ImageToBelt(cfg.mapping)
        self._map = CoverageMap(cfg.min_views)
        self._ejectors = needed_ejectors(cfg.ejectors)
        self._line_mm: float | None = None  # the judging line c1, along_mm
        self._cause = "startup"  # what the next segment is blamed on
        self._views: dict[tuple[int, int], tuple[float, float]] = {}
        self._told_short = False
        self._next_id = 1
        self.segments: list[Segment] = []
        self.stop = False  # latched: a segment stopped the belt

    @property
    def held(self) -> bool:
        """A segment that stops the belt is still open: its cause is present."""
        return self._cfg.no_decision_action == "stop_belt" and any(s.open for s in self.segments)

    def clear_stop(self) -> None:
        self.stop = self.held

    def undecided(self, cause: str) -> None:
        """A frame came but was not decided (`model_error`, `frozen_frame`, ...): a segment
        that opens before the next decided frame names it (start-up and a re-anchored belt
        keep their own cause)."""
        if self._cause not in LOST_PAST:
            self._cause = cause

    def restart(self, cause: str) -> None:
        """The belt's position was lost (an encoder discontinuity): nothing proven holds, and
        the next decided frame judges the belt up to the last ejector again."""
        self._map.restart()
        # No judging line until that frame: `judge` would start the map at the old line, and
        # the belt up to the ejectors would never be judged (a jump seen on a frameless cycle).
        self._line_mm = None
        self._cause = cause
        for s in self.segments:  # its pushes in flight are missed; the rest is judged again
            if s.open:
                self._close(s)
            s.cursors = dict.fromkeys(s.cursors, s.lo_u_mm - 2 * EPS_MM)

    def prove(
        self, t_place_ns: int, frame_w: int, frame_h: int, longest_seen_mm: float = 0.0
    ) -> None:
        """A placed, decided frame: its view less half the longest item at each end proves the
        centres in it; an open segment closes once the centre just upstream of it is proven.
        `longest_seen_mm`: the longest box the frame showed along the belt; an item longer than
        declared is whole in less of the view, so the frame proves that much less."""
        c0, c1 = self._view(frame_w, frame_h)
        extra = max(longest_seen_mm / 2 - self._half_item_mm, 0.0)
        c0, c1 = c0 + extra, c1 - extra
        travel_mm = self._belt.position_mm(t_place_ns)
        if not self._map.started:
            far = max(e.position_mm + (e.reach_mm or 0.0) for e in self._cfg.ejectors)
            self._map.start(far - travel_mm)
        elif self._cause not in LOST_PAST:
            self._cause = "no_decided_frame"  # an older undecided frame is not to blame
        self._map.add(c0 - travel_mm, c1 - travel_mm)  # a view too short proves nothing
        self._line_mm = c1
        for s in self.segments:
            if s.open and self._map.proven(s.lo_u_mm - 2 * EPS_MM):
                self._close(s)

    def _view(self, frame_w: int, frame_h: int) -> tuple[float, float]:
        """Along_mm of the centres a frame of this size holds whole; logs once when none."""
        key = (frame_w, frame_h)
        if key not in self._views:
            lo, hi = self._mapping.view_mm(frame_w, frame_h)
            self._views[key] = (lo + self._half_item_mm, hi - self._half_item_mm)
            if hi - lo <= 2 * self._half_item_mm and not self._told_short:
                self._told_short = True
                self._log.error("coverage_view_too_short", view_mm=round(hi - lo, 1),
                                longest_item_mm=self._cfg.longest_item_mm)  # fmt: skip
        return self._views[key]

    def judge(self, now_ns: int, tracker: ItemTracker, buf: ActionBuffer) -> None:
        """Move the frontier to the judging line now, and turn what passed it unproven into
        segments. Judged at once, not when frames still on their way might have proven it: a
        late proof can only make the box reject belt that was good (the safe side), while
        waiting for one delays the pushes at an ejector near the camera past their items."""
        line = self._line_mm
        if line is None or not self._belt.placed(now_ns):
            return
        old = self._map.frontier_u_mm
        frontier = line - self._belt.position_mm(now_ns)
        blind = self._map.judge(frontier)
        if old is not None and frontier < old:
            blind = _with_thin_items(blind, tracker, frontier, old, self._cfg.min_views)
        cause = self._cause
        if old is not None and frontier < old and cause in LOST_PAST:
            self._cause = "no_decided_frame"  # the start-up belt is judged now, blind or not
        for stretch in blind:
            self._extend_or_open(stretch, cause, now_ns, buf)
        lowest = min((b.lo_u_mm for b in blind), default=None)
        if old is not None and frontier < old and (lowest is None or lowest > frontier + EPS_MM):
            for s in self.segments:  # proven belt followed it
                if s.open:
                    self._close(s)

    def _extend_or_open(self, b: Stretch, cause: str, now_ns: int, buf: ActionBuffer) -> None:
        for s in self.segments:
            if s.open and b.hi_u_mm >= s.lo_u_mm - 2 * EPS_MM:
                s.lo_u_mm = min(s.lo_u_mm, b.lo_u_mm)
                return
        for s in self.segments:
            if s.open:
                self._close(s)
        self._open(b, cause, now_ns, buf)

    def _open(self, b: Stretch, cause: str, now_ns: int, buf: ActionBuffer) -> None:
        s = Segment(self._next_id, b.lo_u_mm, b.hi_u_mm, cause)
        self._next_id += 1
        s.cursors = {e.id: b.hi_u_mm for e in self._ejectors}
        self.segments.append(s)
        self._cause = "no_decided_frame"
        self._counters.blind_segments += 1
        action = self._cfg.no_decision_action
        stops = action == "stop_belt"
        self.stop |= stops
        buf.alarms.append(Alarm("blind_segment", 0, stops=stops))
        level = self._log.error if stops else self._log.warning
        level("blind_segment", segment=s.seg_id, cause=cause, action=action,
              **self._ends(s), t_ns=now_ns)  # fmt: skip

    def _close(self, s: Segment) -> None:
        s.open = False
        self._log.info("blind_segment_closed", segment=s.seg_id, cause=s.cause,
                       length_mm=round(s.hi_u_mm - s.lo_u_mm, 1), **self._ends(s))  # fmt: skip

    def _ends(self, s: Segment) -> dict[str, float | int]:
        """Belt travel (mm) and encoder count at which the segment's ends passed the camera's
        reference line (along 0): the downstream end first."""
        start_mm, end_mm = -s.hi_u_mm, -s.lo_u_mm
        out: dict[str, float | int] = {"start_mm": round(start_mm, 1), "end_mm": round(end_mm, 1)}
        if self._belt.has_encoder:
            out |= {"start_count": self._belt.count_at_mm(start_mm),
                    "end_count": self._belt.count_at_mm(end_mm)}  # fmt: skip
        return out

    def pieces(self, now_ns: int, plc: bool, buf: ActionBuffer) -> list[Piece]:
        """The pushes to plan now (reject policy): box-timed, pulses whose coil-on is within
        `horizon_ms`; PLC-timed, one range per ejector over what was judged since the last
        (the count is right whatever the belt does, and a range held back for a horizon came
        too late when a stalled camera stretched the cycle)."""
        reject = self._cfg.no_decision_action == "reject"
        self.segments = [s for s in self.segments if s.open or (reject and _pending(s))]
        v = self._belt.speed_mm_per_ns()
        out: list[Piece] = []
        # A range's counts hold whatever the belt does: sent on a standing belt too, it is at
        # the PLC before the belt starts (the box's next update may come a cycle later).
        moving = v is not None and (v > 0 or plc)
        if not reject or not moving or not self._belt.placed(now_ns):
            return out
        assert v is not None
        travel_mm = self._belt.position_mm(now_ns)
        horizon_mm = v * self._cfg.horizon_ms * 1e6
        for s in self.segments:
            for e in self._ejectors:
                out += self._pieces_at(s, e, v, travel_mm, horizon_mm, plc, buf)
        return out

    def _pieces_at(self, s: Segment, e: EjectorModel, v: float, travel_mm: float,
                   horizon_mm: float, plc: bool, buf: ActionBuffer) -> list[Piece]:  # fmt: skip
        out: list[Piece] = []
        if s.lost_past and not plc:
            # Belt within the output and actuator's lead of the line (1 ms spare) is gone.
            lead_ns = (e.output_latency_ms + e.actuator_response_ms + 1.0) * 1e6
            top = e.position_mm + (e.reach_mm or 0.0) - travel_mm - v * lead_ns
            s.cursors[e.id] = min(s.cursors[e.id], top)
        while s.cursors[e.id] >= s.lo_u_mm - EPS_MM:
            cursor = s.cursors[e.id]
            if plc:
                out.append(Piece(e, cursor, cursor - s.lo_u_mm, s.seg_id))
                s.cursors[e.id] = s.lo_u_mm - 2 * EPS_MM
                return out
            if e.position_mm - cursor - travel_mm > horizon_mm:  # not near the line yet
                return out
            gap_mm = piece_gap_mm(e, v)
            if gap_mm is None:
                self._unrejectable(s, e, v, buf)
                return out
            span_mm = min(v * coil_max_ns(e), cursor - s.lo_u_mm)
            out.append(Piece(e, cursor, span_mm, s.seg_id))
            s.cursors[e.id] = cursor - span_mm - (gap_mm if span_mm < cursor - s.lo_u_mm
                                                 else 2 * EPS_MM)  # fmt: skip
        return out

    def _unrejectable(self, s: Segment, e: EjectorModel, v: float, buf: ActionBuffer) -> None:
        """The actuator cannot cover the belt at this speed: stop the belt, say why."""
        for k in s.cursors:
            s.cursors[k] = s.lo_u_mm - 2 * EPS_MM
        self.stop = True
        buf.alarms.append(Alarm("blind_segment", 0, stops=True))
        self._log.error("blind_segment_unrejectable", segment=s.seg_id, ejector=e.id,
                        speed_mm_s=round(v * 1e9, 1), min_cycle_ms=e.min_cycle_ms,
                        coil_max_ms=coil_max_ns(e) / 1e6, reach_mm=e.reach_mm,
                        fix="lower min_cycle_ms, raise pulse_max_ms or reach_mm, or "
                        "no_decision_action stop_belt")  # fmt: skip


def _pending(s: Segment) -> bool:
    return any(c >= s.lo_u_mm - EPS_MM for c in s.cursors.values())


def _with_thin_items(blind: list[Stretch], tracker: ItemTracker, frontier: float, old: float,
                     min_views: int) -> list[Stretch]:  # fmt: skip
    """Add, as points, items newly past the frontier that fewer than `min_views` frames saw,
    outside the blind stretches already (downstream first)."""
    judged = (tracker.u_mm > frontier) & (tracker.u_mm <= old) & (tracker.weight < min_views)
    points = [
        Stretch(u, u)
        for u in tracker.u_mm[judged].tolist()
        if not any(b.lo_u_mm <= u <= b.hi_u_mm for b in blind)
    ]
    return sorted(blind + points, key=lambda b: -b.hi_u_mm)
