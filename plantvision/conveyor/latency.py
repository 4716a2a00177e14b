"""A camera's capture latency from a belt start, measured against the encoder. Pure.

What placement needs is when each frame was exposed on the belt's encoder time line: the
product places a frame's items where the belt was at its stamp less `capture_latency_ms`, on
encoder readings dated back by `encoder.latency_ms`. So the readings here are dated back the
same way (`Track`), and the figure measured is the `capture_latency_ms` to configure with the
deployment's encoder latency: the camera's true latency less the encoder's true one plus the
configured encoder latency (with that at 0: capture minus encoder latency; below zero, the
encoder's count is older than the deployment says, and the fix is `encoder.latency_ms`).

Method: while the belt stands, latency does not matter: the frames show each item at its
standing place (`latency_align.references`). After the start, a frame shows the items displaced
by the travel at its exposure; the encoder says when the belt had travelled that far, and the
frame's stamp less that instant is its latency. Per frame:
- the displacement comes from `latency_align.align`, within the travel the latency range allows
  (the latest exposure is the stamp less `min_latency_ms`, the earliest less `max_latency_ms`);
  a frame another displacement explains half as well is `ambiguous`;
- a displacement under the matching tolerance is `not_moved` (exposed before the start: any
  instant of the standstill fits it), and one the belt passed slower than `min_speed_mm_s`
  is `too_slow` (a millimetre of box jitter would be 1000 / speed ms);
- a frame exposed beyond the readings is `unread`.
Two passes: the first takes the frames that are unambiguous in the whole latency range (right
after the start, before the belt has gone a pitch); the second narrows the range to
`refine_ms` about their median, which makes later frames unambiguous. The figures come from the
second pass; too few frames or too wide a spread refuse the measurement, saying why.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from plantvision.conveyor.latency_align import Marks, References, align, references
from plantvision.errors import PlantvisionError

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
SPEED_SPAN_NS = 20_000_000  # the speed at an instant: travel over +-20 ms about it
MIN_ANCHORS = 2  # first-pass frames the narrowed range is centred on


class CannotMeasureError(PlantvisionError):
    """The recording does not allow a measurement; the message says why and what to change."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class Track:
    """Encoder readings, in time order: when the count was true (the read's midpoint less the
    configured encoder latency, monotonic ns) and the unwrapped travel (mm)."""

    t_ns: I64
    mm: F64

    def at(self, t_ns: float | F64) -> F64:
        """Travel at `t_ns`, interpolated (held at the ends)."""
        return np.interp(np.asarray(t_ns, np.float64), self.t_ns.astype(np.float64), self.mm)


@dataclass(frozen=True)
class Limits:
    """What counts as a measurement (see the module docstring)."""

    min_latency_ms: float = -50.0  # an encoder count older than the frame: a scan, a card
    max_latency_ms: float = 500.0
    min_speed_mm_s: float = 100.0
    still_mm: float = 1.0  # encoder travel below this is a standing belt (count jitter)
    min_tol_mm: float = 2.0  # marks this close to a reference lie on it, at least
    min_frames: int = 8
    max_spread_ms: float = 40.0  # p10..p90 of the frames' latencies
    refine_ms: float = 60.0  # second pass: the range is the first pass's median +- this


@dataclass(frozen=True, slots=True)
class FrameLatency:
    """One moving frame's figure: stamp, latency (ms), marks that fixed it, belt speed then."""

    t_ns: int
    latency_ms: float
    matched: int
    speed_mm_s: float


@dataclass(frozen=True)
class Estimate:
    """The frames' latencies and their summary; what was left out, and why."""

    frames: tuple[FrameLatency, ...]
    standing_frames: int
    items: int
    tol_mm: float
    left_out: dict[str, int] = field(default_factory=dict)

    def _pct(self, q: float) -> float:
        return float(np.percentile([f.latency_ms for f in self.frames], q))

    @property
    def median_ms(self) -> float:
        return self._pct(50)

    @property
    def p10_ms(self) -> float:
        return self._pct(10)

    @property
    def p90_ms(self) -> float:
        return self._pct(90)

    @property
    def spread_ms(self) -> float:
        return self.p90_ms - self.p10_ms

    @property
    def speed_mm_s(self) -> float:
        return float(np.median([f.speed_mm_s for f in self.frames]))


@dataclass(frozen=True, slots=True)
class _Start:
    standing_mm: float
    still_until_ns: int  # the last reading of the standstill


def estimate(track: Track, frames: list[Marks], limits: Limits = Limits()) -> Estimate:
    """The capture latency of `frames` (stamped, marks through the camera's mapping) on the
    encoder `track`; raises `CannotMeasureError` with the reason and the fix."""
    start = _start(track, limits.still_mm)
    standing = [f for f in frames if track.t_ns[0] <= f.t_ns <= start.still_until_ns]
    if not standing:
        raise CannotMeasureError(
            "the belt was moving when the command started (no frame came while it stood): stop "
            "it with items in view, start the command, and start the belt when it says so"
        )
    if not any(len(f) for f in standing):
        raise CannotMeasureError(
            f"no item in view while the belt stood ({len(standing)} frames before the start): "
            "stop the belt with a few items whole in the camera's view, then start the command"
        )
    gate_mm = 4 * limits.min_tol_mm
    refs = references(standing, gate_mm)
    tol_mm = max(limits.min_tol_mm, 4 * refs.scatter_mm)
    moving = [f for f in frames if f.t_ns > start.still_until_ns]
    ctx = _Context(track, start, refs, tol_mm, limits)
    lo, hi = limits.min_latency_ms, limits.max_latency_ms
    early: Counter[str] = Counter()
    anchors = ctx.first_run(moving, lo, hi, early)
    if len(anchors) < MIN_ANCHORS:
        raise CannotMeasureError(
            f"{len(anchors)} frame(s) after the start showed the items' displacement without "
            f"ambiguity in {lo:g}..{hi:g} ms (left out: {_reasons(early)}): place items farther "
            "apart than the belt travels in that range (0.5 m/s x 0.3 s = 150 mm), or start "
            "the belt slower"
        )
    mid = float(np.median([a.latency_ms for a in anchors]))
    left_out: Counter[str] = Counter()
    narrow = (max(lo, mid - limits.refine_ms), min(hi, mid + limits.refine_ms))
    chosen = ctx.pass_over(moving, *narrow, left_out)
    est = Estimate(tuple(chosen), len(standing), len(refs), tol_mm, dict(left_out))
    _judge(est, limits)
    return est


def _start(track: Track, still_mm: float) -> _Start:
    """Where the belt stood and the last reading before it moved; refuses a belt that never
    moved, moved from the first reading, or ran backwards."""
    if len(track.t_ns) < 2:
        raise CannotMeasureError("fewer than two encoder readings: is the encoder signal mapped?")
    moved = np.flatnonzero(np.abs(track.mm - track.mm[0]) >= still_mm)
    if len(moved) == 0:
        span_s = (track.t_ns[-1] - track.t_ns[0]) / 1e9
        raise CannotMeasureError(
            f"the belt never moved in {span_s:.1f} s of encoder readings: start it when the "
            "command says so (or give it longer with --seconds)"
        )
    first = int(moved[0])
    after = track.mm[first:]
    if np.any(after < np.maximum.accumulate(after) - still_mm):
        raise CannotMeasureError("the belt ran backwards after the start: run it forwards only")
    return _Start(float(np.median(track.mm[:first])), int(track.t_ns[first - 1]))


@dataclass(frozen=True)
class _Context:
    track: Track
    start: _Start
    refs: References
    tol_mm: float
    limits: Limits

    def pass_over(self, moving: list[Marks], lo_ms: float, hi_ms: float,
                  left_out: Counter[str]) -> list[FrameLatency]:  # fmt: skip
        """Each moving frame's latency within lo_ms..hi_ms; the reasons for the rest counted."""
        out: list[FrameLatency] = []
        for f in moving:
            got = self.frame(f, lo_ms, hi_ms)
            if isinstance(got, str):
                left_out[got] += 1
            else:
                out.append(got)
        return out

    def first_run(self, moving: list[Marks], lo_ms: float, hi_ms: float,
                  left_out: Counter[str]) -> list[FrameLatency]:  # fmt: skip
        """The frames measured in lo_ms..hi_ms from the start up to the first ambiguous one.
        Later frames show items that came into view after the standstill, which a reference
        shifted by a pitch fits as well as its own item does: once the references that are
        still in view explain only half of a frame, an alias may explain it unopposed."""
        out: list[FrameLatency] = []
        for f in moving:
            got = self.frame(f, lo_ms, hi_ms)
            if isinstance(got, str):
                left_out[got] += 1
                if got == "ambiguous":
                    break
            else:
                out.append(got)
        return out

    def frame(self, f: Marks, lo_ms: float, hi_ms: float) -> FrameLatency | str:
        """One frame's latency, or why it has none."""
        tr, s0, tol = self.track, self.start.standing_mm, self.tol_mm
        window = tr.at(np.array([f.t_ns - hi_ms * 1e6, f.t_ns - lo_ms * 1e6])) - s0
        a = align(f, self.refs, float(window[0]) - tol, float(window[1]) + tol, tol)
        if a is None:
            return "unmatched"
        if a.ambiguous:
            return "ambiguous"
        if a.shift_mm < tol:
            return "not_moved"
        exposed_ns = _when(tr, self.start, s0 + a.shift_mm)
        if exposed_ns is None:
            return "unread"
        ahead = tr.at(np.array([exposed_ns - SPEED_SPAN_NS, exposed_ns + SPEED_SPAN_NS]))
        speed = float(ahead[1] - ahead[0]) / (2 * SPEED_SPAN_NS / 1e9)
        if speed < self.limits.min_speed_mm_s:
            return "too_slow"
        latency_ms = (f.t_ns - exposed_ns) / 1e6
        if not lo_ms <= latency_ms <= hi_ms:
            return "out_of_range"
        return FrameLatency(f.t_ns, latency_ms, a.matched, speed)


def _when(track: Track, start: _Start, travel_mm: float) -> float | None:
    """The first instant after the standstill the belt had travelled `travel_mm` (linear between
    readings); None beyond the newest reading."""
    i0 = int(np.searchsorted(track.t_ns, start.still_until_ns))
    t = track.t_ns[i0:].astype(np.float64)
    mm = np.maximum.accumulate(track.mm[i0:])
    if travel_mm > mm[-1]:
        return None
    rising = np.concatenate([[True], np.diff(mm) > 0])  # first reading of each value
    return float(np.interp(travel_mm, mm[rising], t[rising]))


def _judge(est: Estimate, limits: Limits) -> None:
    """Refuse too few frames or too wide a spread."""
    n = len(est.frames)
    why = _reasons(est.left_out)
    if n < limits.min_frames:
        raise CannotMeasureError(
            f"{n} moving frame(s) measured, at least {limits.min_frames} needed (left out: "
            f"{why}): keep items in view longer after the start (a slower belt, items upstream "
            "in the view), or lower --min-speed if the belt starts slowly"
        )
    if est.spread_ms > limits.max_spread_ms:
        raise CannotMeasureError(
            f"the frames disagree: p10..p90 {est.p10_ms:.1f}..{est.p90_ms:.1f} ms, a spread of "
            f"{est.spread_ms:.1f} ms over {limits.max_spread_ms:g}: the camera's latency varies "
            "frame to frame (a loaded box, a congested network); one value cannot place items "
            "to better than that"
        )


def _reasons(left_out: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(left_out.items())) or "none"
