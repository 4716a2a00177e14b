"""A camera's own frame stamps mapped onto the box's clock, without assuming the clocks agree.

A camera that stamps each frame (mjpg-streamer's `X-Timestamp` part header, a GigE or RTCP
timestamp) stamps it on its own clock. For every frame the box knows its arrival (monotonic ns)
and the stamp (camera ns): arrival - stamp = offset + transit, and transit (encode, network,
decode) never falls below a floor. The anchor is offset + floor: a frame is dated stamp +
anchor, when it would have arrived at the fastest transit, so the varying part of the latency
drops out and the constant floor stays in `source.capture_latency_ms`, measured on site.

How the anchor is kept, each rule from a way a guess goes wrong (reviews 10 and 11):
- It is the `ROBUST`-th smallest difference of the last `WINDOW_NS`, never one frame: a stamp
  glitch moves nothing. Until `SETTLE_NS` of frames have been seen nothing is dated (a camera
  greets a client with the last picture it holds, which may be old).
- It falls at once (three frames show a faster path or a clock running ahead) but rises at most
  `MAX_RISE` (a crystal's error) a second: a slower path and a camera clock stepping back look
  alike, and a rise followed at once would date old pictures fresh. A frame above the anchor is
  dated by it (older, the guard's safe side) and carries that excess as `spread_ns`, how far
  its date may be too old; the conveyor treats a frame whose spread is beyond its reach at the
  belt's speed as undecided (blind belt). Beyond `BAND_NS` a frame is withheld: to the loop it
  never came (stale for the guard, blind for the conveyor), and the spell is reported (`late`).
  It never ends by itself: a delay is not absorbed faster than `MAX_RISE`, and a camera clock
  that stepped back (by less than `RESTART_NS`) keeps the camera out until the service restarts.
- A stamp ahead of the anchor beyond the band is withheld until `CONFIRM` frames agree on it
  (the camera's clock stepped forward): then the anchor falls to them (`step`).
- A difference beyond `RESTART_NS` either way is a camera that restarted its clock (a reboot
  without a real-time clock): the anchor is settled again (`restart`).
- The anchor is kept across reconnects: a reconnect changes the path, not the camera's clock.
- A frame is never dated later than it arrived.
A delay present since the first frames cannot be told from the floor without a shared clock,
as with arrival stamps. Pure: the caller passes both clocks' readings.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass

WINDOW_NS = 1_000_000_000
ROBUST = 3
BAND_NS = 20_000_000  # beyond it a frame is withheld
SETTLE_NS = 1_000_000_000
CONFIRM = 3
MAX_RISE = 200e-6  # 200 ppm: two crystals' error (camera and box); a delay growing faster is late
RESTART_NS = 60_000_000_000


@dataclass(frozen=True, slots=True)
class Mapped:
    """A frame's stamp on the box's clock, or None when withheld (`why`: settling, late,
    ahead); `spread_ns`: how much older than the truth the date may be; `event` when this frame
    changed the clock's state: "step" (a forward step adopted, `step_ms` negative), "late" (a
    late spell began, `step_ms` its excess), "late_ended", "restart"."""

    t_ns: int | None
    why: str = ""
    spread_ns: int = 0
    event: str = ""
    step_ms: float = 0.0


class CameraClock:
    """Maps one camera's frame stamps onto the box's monotonic clock (module docstring)."""

    def __init__(self) -> None:
        self._anchor: int | None = None
        self._anchored_ns = 0
        self._window: deque[tuple[int, int]] = deque()
        self._settle: list[int] = []
        self._settle_from = 0
        self._ahead: list[int] = []
        self._late = False
        self.steps = self.withheld = self.late_spells = self.restarts = 0

    def map(self, stamp_ns: int, arrival_ns: int) -> Mapped:
        diff = arrival_ns - stamp_ns
        if self._anchor is not None and abs(diff - self._anchor) > RESTART_NS:
            self._anchor = None
            self.restarts += 1
            self._settle = []
            return self._settling(arrival_ns, diff, "restart")
        if self._anchor is None:
            return self._settling(arrival_ns, diff)
        excess = diff - self._anchor
        if excess < -BAND_NS:
            return self._stamp_ahead(stamp_ns, arrival_ns, diff)
        self._ahead.clear()
        if excess > BAND_NS:
            event = "" if self._late else "late"
            self.late_spells += not self._late
            self._late = True
            return self._withhold("late", event, excess / 1e6)
        event = "late_ended" if self._late else ""
        self._late = False
        self._follow(arrival_ns, diff)
        return self._dated(stamp_ns, arrival_ns, diff, event)

    def _dated(self, stamp_ns: int, arrival_ns: int, diff: int, event: str = "",
               step_ms: float = 0.0) -> Mapped:  # fmt: skip
        assert self._anchor is not None
        t_ns = min(arrival_ns, stamp_ns + self._anchor)
        return Mapped(t_ns, "", max(0, diff - self._anchor), event, step_ms)

    def _withhold(self, why: str, event: str = "", step_ms: float = 0.0) -> Mapped:
        self.withheld += 1
        return Mapped(None, why, 0, event, step_ms)

    def _follow(self, arrival_ns: int, diff: int) -> None:
        """The window's robust minimum: taken at once when lower, at most MAX_RISE when higher."""
        assert self._anchor is not None
        self._window.append((arrival_ns, diff))
        while self._window[0][0] < arrival_ns - WINDOW_NS:
            self._window.popleft()
        if len(self._window) >= ROBUST:
            low = heapq.nsmallest(ROBUST, (d for _, d in self._window))[-1]
            rise = int(MAX_RISE * (arrival_ns - self._anchored_ns))
            self._anchor = low if low < self._anchor else min(low, self._anchor + rise)
        self._anchored_ns = arrival_ns

    def _settling(self, arrival_ns: int, diff: int, event: str = "") -> Mapped:
        if not self._settle:
            self._settle_from = arrival_ns
        self._settle.append(diff)
        if arrival_ns - self._settle_from >= SETTLE_NS and len(self._settle) >= ROBUST:
            self._anchor = heapq.nsmallest(ROBUST, self._settle)[-1]
            self._anchored_ns = arrival_ns
            self._window.clear()
            self._settle, self._late = [], False
        return self._withhold("settling", event)

    def _stamp_ahead(self, stamp_ns: int, arrival_ns: int, diff: int) -> Mapped:
        assert self._anchor is not None
        self._ahead.append(diff)
        if max(self._ahead) - min(self._ahead) > BAND_NS:
            self._ahead = [diff]  # no agreement: glitches, not a step
        elif len(self._ahead) >= CONFIRM:
            step_ms = (max(self._ahead) - self._anchor) / 1e6
            self._anchor, self._anchored_ns = max(self._ahead), arrival_ns
            self._window.clear()
            self._ahead.clear()
            self._late = False
            self.steps += 1
            return self._dated(stamp_ns, arrival_ns, diff, "step", step_ms)
        return self._withhold("ahead")
