"""A camera's own frame stamps mapped onto the box's clock, without assuming the clocks agree.

A camera that stamps each frame (mjpg-streamer's `X-Timestamp` part header, a GigE or RTCP
timestamp) stamps it on its own clock. For every frame the box knows its arrival (monotonic ns)
and the stamp (camera ns): arrival - stamp = offset + transit, and transit (encode, network,
decode) never falls below a floor. The smallest difference seen recently is therefore
offset + floor, and stamp + that minimum is when the frame would have arrived at the fastest
transit: the varying part of the latency drops out, the constant floor stays in
`source.capture_latency_ms`, measured on site as before.

Rules, each for the box's safety:
- A mapped stamp is never later than the arrival: a camera's stamp can make a frame older than
  its arrival, never younger (frame ages and stale checks stay on the safe side).
- The minimum slides over `WINDOW_NS`, so a camera clock that drifts is followed.
- A step is reported, never absorbed in silence: a difference below the minimum by more than
  `STEP_NS` (the camera's clock jumped forward) is adopted at once; the minimum of the last
  `SHORT_NS` above the window's by more than `STEP_NS` (the clock jumped back, or the path got
  slower for good) re-anchors on that short window. Until then, at most `SHORT_NS`, frames map
  older than they are: pushes late by the step, which bin confirmation counts.
Pure: the caller passes both clocks' readings.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

WINDOW_NS = 5_000_000_000  # long enough to hold a fast frame at any real rate, short vs drift
SHORT_NS = 1_000_000_000
STEP_NS = 20_000_000  # above any transit jitter seen on a network; far below a clock step


@dataclass(frozen=True, slots=True)
class Mapped:
    """A frame's stamp on the box's clock; `step_ms` when this frame revealed a clock step
    (positive: the camera's clock went back relative to the box's)."""

    t_ns: int
    step_ms: float | None = None


class _SlidingMin:
    """Minimum of (arrival, diff) pairs over the last `span_ns` of arrivals, O(1) amortised."""

    def __init__(self, span_ns: int) -> None:
        self.span_ns = span_ns
        self._q: deque[tuple[int, int]] = deque()  # diffs increasing from the left

    def push(self, arrival_ns: int, diff_ns: int) -> None:
        while self._q and self._q[-1][1] >= diff_ns:
            self._q.pop()
        self._q.append((arrival_ns, diff_ns))
        while self._q[0][0] < arrival_ns - self.span_ns:
            self._q.popleft()

    def __bool__(self) -> bool:
        return bool(self._q)

    def min(self) -> int:
        return self._q[0][1]

    def replace_with(self, other: _SlidingMin) -> None:
        self._q = deque(other._q)

    def clear(self) -> None:
        self._q.clear()


class CameraClock:
    """Maps one camera's frame stamps onto the box's monotonic clock (module docstring)."""

    def __init__(self) -> None:
        self._long = _SlidingMin(WINDOW_NS)
        self._short = _SlidingMin(SHORT_NS)
        self.steps = 0

    def reset(self) -> None:
        """Forget the camera's offset: after a reconnect its clock may have restarted."""
        self._long.clear()
        self._short.clear()

    def map(self, stamp_ns: int, arrival_ns: int) -> Mapped:
        diff = arrival_ns - stamp_ns
        step_ms: float | None = None
        if self._long and diff < self._long.min() - STEP_NS:
            step_ms = (diff - self._long.min()) / 1e6
        self._long.push(arrival_ns, diff)
        self._short.push(arrival_ns, diff)
        if self._short.min() > self._long.min() + STEP_NS:
            step_ms = (self._short.min() - self._long.min()) / 1e6
            self._long.replace_with(self._short)
        if step_ms is not None:
            self.steps += 1
        return Mapped(min(arrival_ns, stamp_ns + self._long.min()), step_ms)
