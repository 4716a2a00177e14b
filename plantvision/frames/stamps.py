"""A camera's own frame stamps mapped onto the box's clock, without assuming the clocks agree.

A camera that stamps each frame (mjpg-streamer's `X-Timestamp` part header, a GigE or RTCP
timestamp) stamps it on its own clock. For every frame the box knows its arrival (monotonic ns)
and the stamp (camera ns): arrival - stamp = offset + transit, and transit (encode, network,
decode) never falls below a floor. The smallest difference of the last `WINDOW_NS` is therefore
offset + floor, and stamp + that minimum is when the frame would have arrived at the fastest
transit: the varying part of the latency drops out, the constant floor stays in
`source.capture_latency_ms`, measured on site as before.

A frame is dated only when its stamp agrees with the anchor (arrival - stamp within
`BAND_NS` of the minimum); any other is withheld, never dated by a guess: to the loop it is a
frame that did not come (stale for the guard, blind belt for the conveyor: the safe side). Why:
- A frame late beyond the band, and a camera clock that stepped back, look alike; dated by the
  anchor, a step back would place a conveyor's items downstream (pushes early), and re-anchored
  on, a real delay would date an old picture fresh. Only after `HOLD_NS` of nothing but late
  frames (a clock that truly stepped back, a camera that rebooted to another epoch; the guard
  tripped long before) does the anchor move up to them: `step` reported, a reset needed anyway.
- A stamp ahead of the anchor is a glitch until `CONFIRM` frames in a row agree on it (the
  camera's clock stepped forward): then the anchor moves down to them, `step` reported.
- Until `SETTLE_NS` of frames have been seen the anchor is unknown (a camera greets a client
  with the last picture it holds, which may be old): nothing is dated.
- The anchor is kept across reconnects: a reconnect changes the path, not the camera's clock.
- A camera clock running faster or slower than the box's drags the window's minimum by up to
  `WINDOW_NS` x the rate; the rate is measured over the minima of whole seconds, and beyond
  `MAX_RATE` (no crystal is that far off: a camera stamping by frame count at a nominal rate)
  every frame is withheld while it lasts (`rate`).
- A frame is never dated later than it arrived.
Delays present since the first frames (a queue in front of the box from the start) cannot be told
from the floor without a shared clock, as with arrival stamps.
Pure: the caller passes both clocks' readings.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

WINDOW_NS = 1_000_000_000  # holds a fast frame at 10 fps and up; drift lag 0.1 ms at 100 ppm
BAND_NS = 20_000_000  # above any transit jitter seen on a network; far below a clock step
HOLD_NS = 10_000_000_000
SETTLE_NS = 1_000_000_000
CONFIRM = 3
MAX_RATE = 2e-3  # 2000 ppm: 2 ms of drift lag at most, 20x a poor crystal's error
RATE_SECONDS = 3  # whole seconds of minima the rate is measured over
SECOND_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Mapped:
    """A frame's stamp on the box's clock, or None when withheld (`why`: settling, late,
    ahead, rate); `event` when this frame changed the anchor or the rate state: "step" (with
    `step_ms`, positive: the camera's clock went back relative to the box's), "rate" (entered,
    `rate_ppm`), "rate_ok" (left)."""

    t_ns: int | None
    why: str = ""
    event: str = ""
    step_ms: float = 0.0
    rate_ppm: float = 0.0


class _SlidingMin:
    """Minimum of (arrival, diff) pairs over the last `span_ns` of arrivals, O(1) amortised."""

    def __init__(self, span_ns: int) -> None:
        self.span_ns = span_ns
        self._q: deque[tuple[int, int]] = deque()  # diffs increasing from the left

    def __bool__(self) -> bool:
        return bool(self._q)

    def push(self, arrival_ns: int, diff_ns: int) -> None:
        while self._q and self._q[-1][1] >= diff_ns:
            self._q.pop()
        self._q.append((arrival_ns, diff_ns))
        while self._q[0][0] < arrival_ns - self.span_ns:
            self._q.popleft()

    def min(self) -> int:
        return self._q[0][1]

    def restart(self, pairs: list[tuple[int, int]]) -> None:
        self._q.clear()
        for arrival, diff in pairs:
            self.push(arrival, diff)


class _Rate:
    """The drift of arrival - stamp, from the minima of whole seconds of in-band frames."""

    def __init__(self) -> None:
        self._second = -1
        self._low = 0
        self.minima: deque[int] = deque(maxlen=RATE_SECONDS)

    def add(self, arrival_ns: int, diff_ns: int) -> float | None:
        """The rate once a second completes (dimensionless, + : the camera's clock is slow)."""
        second = arrival_ns // SECOND_NS
        if second == self._second:
            self._low = min(self._low, diff_ns)
            return None
        done = self._second == second - 1
        if done:
            self.minima.append(self._low)
        else:
            self.minima.clear()  # a gap: whole seconds only
        self._second, self._low = second, diff_ns
        if not done or len(self.minima) < RATE_SECONDS:
            return None
        return (self.minima[-1] - self.minima[0]) / ((RATE_SECONDS - 1) * SECOND_NS)

    def clear(self) -> None:
        self._second = -1
        self.minima.clear()


class CameraClock:
    """Maps one camera's frame stamps onto the box's monotonic clock (module docstring)."""

    def __init__(self) -> None:
        self._floor = _SlidingMin(WINDOW_NS)
        self._rate = _Rate()
        self._first_ns: int | None = None
        self._settle: list[tuple[int, int]] = []
        self._ahead: list[tuple[int, int]] = []
        self._late_since: int | None = None
        self._late: list[tuple[int, int]] = []
        self._rate_bad = False
        self.steps = self.withheld = self.rate_spells = 0

    def map(self, stamp_ns: int, arrival_ns: int) -> Mapped:
        diff = arrival_ns - stamp_ns
        if not self._floor:
            return self._settling(arrival_ns, diff)
        excess = diff - self._floor.min()
        if excess < -BAND_NS:
            return self._stamp_ahead(arrival_ns, diff)
        if excess > BAND_NS:
            return self._frame_late(arrival_ns, diff)
        self._ahead.clear()
        self._late_since, self._late = None, []
        self._floor.push(arrival_ns, diff)
        event, rate = self._judge_rate(arrival_ns, diff)
        if self._rate_bad:
            return self._withhold("rate", event, rate)
        return Mapped(min(arrival_ns, stamp_ns + self._floor.min()), event=event, rate_ppm=rate)

    def _withhold(self, why: str, event: str = "", rate_ppm: float = 0.0) -> Mapped:
        self.withheld += 1
        return Mapped(None, why, event, rate_ppm=rate_ppm)

    def _settling(self, arrival_ns: int, diff: int) -> Mapped:
        self._first_ns = arrival_ns if self._first_ns is None else self._first_ns
        self._settle.append((arrival_ns, diff))
        if arrival_ns - self._first_ns >= SETTLE_NS:
            low = min(d for _, d in self._settle)
            self._floor.restart([(a, d) for a, d in self._settle if d - low <= BAND_NS])
            self._settle = []
        return self._withhold("settling")

    def _stamp_ahead(self, arrival_ns: int, diff: int) -> Mapped:
        self._late_since, self._late = None, []
        self._ahead.append((arrival_ns, diff))
        diffs = [d for _, d in self._ahead]
        if max(diffs) - min(diffs) > BAND_NS:
            self._ahead = [(arrival_ns, diff)]  # no agreement: glitches, not a step
        elif len(self._ahead) >= CONFIRM:
            return self._step(self._ahead, arrival_ns, diff)
        return self._withhold("ahead")

    def _frame_late(self, arrival_ns: int, diff: int) -> Mapped:
        self._ahead.clear()
        self._late_since = arrival_ns if self._late_since is None else self._late_since
        self._late.append((arrival_ns, diff))
        if arrival_ns - self._late_since >= HOLD_NS:
            low = min(d for _, d in self._late)
            return self._step([(a, d) for a, d in self._late if d - low <= BAND_NS],
                              arrival_ns, diff)  # fmt: skip
        return self._withhold("late")

    def _step(self, pairs: list[tuple[int, int]], arrival_ns: int, diff: int) -> Mapped:
        """Re-anchor on `pairs` (the frames that agreed on the new offset)."""
        step_ms = (min(d for _, d in pairs) - self._floor.min()) / 1e6
        self._floor.restart(pairs)
        self._rate.clear()
        self._ahead.clear()
        self._late_since, self._late = None, []
        self.steps += 1
        stamp_ns = arrival_ns - diff
        if diff - self._floor.min() > BAND_NS or self._rate_bad:
            self.withheld += 1
            return Mapped(None, "late", "step", step_ms)
        return Mapped(min(arrival_ns, stamp_ns + self._floor.min()), "", "step", step_ms)

    def _judge_rate(self, arrival_ns: int, diff: int) -> tuple[str, float]:
        rate = self._rate.add(arrival_ns, diff)
        if rate is None:
            return "", 0.0
        bad = abs(rate) > MAX_RATE
        event = ("rate" if bad else "rate_ok") if bad != self._rate_bad else ""
        self.rate_spells += event == "rate"
        self._rate_bad = bad
        return event, round(rate * 1e6, 1)
