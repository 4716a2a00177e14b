"""One ejector's push, sized as a controls engineer sizes it. Pure: plain numbers, no clock.

- The pulse: a fixed `pulse_ms`, or `pulse_mm` of belt at the speed of the moment (at 1.5 m/s
  a fixed 30 ms pulse sweeps 45 mm of belt, at 0.3 m/s 9 mm), clamped to the valve's bounds.
- The reach: the paddle still pushes an item off whose centre is within `reach_mm` of the
  ejector line when it pushes, so a reject is late only when the item will be beyond the reach
  by the time the push can happen (after the transport margin: PLC mode's verdict write and
  scan). Without a reach (unset) late means past the fire time, as it always did.
- The push judged: a switch-on is judged by where the belt was when the paddle moved, against
  the item's line position; beyond the reach on either side it missed (`push_miss`).
- The blast window: while the coil is on the belt runs under the paddle, so it meets every
  centre from `reach + swept` upstream of the target to `reach` downstream of it.
- The cycle: an actuator needs `min_cycle_ms` between push starts, and two pulses that overlap
  become one long push (the timer keeps the coil on until the last ends) whatever the cycle.

Along-belt positions are belt-fixed `u_mm` (grows downstream); times are monotonic ns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from plantvision.conveyor.config import EjectorModel

# The PLC leads each PLC-timed verdict at its own speed: the counts since its newest scan at
# least this much older (README, the reject FIFO protocol; plantvision.plc.fifo runs it). The
# box replays the same rule on its readings to date the PLC's switch-on.
PLC_SPEED_WINDOW_MS = 10.0


@dataclass(frozen=True, slots=True)
class Push:
    """One push planned (or made) on an ejector: its item, coil-on time and pulse length."""

    item_id: int
    t_ns: int
    pulse_ns: int


def pulse_ns(e: EjectorModel, speed_mm_per_ns: float | None) -> int:
    """How long the coil stays on: `pulse_ms`, or `pulse_mm` at `speed_mm_per_ns` clamped to
    [pulse_min_ms, pulse_max_ms] (no speed, or a stopped belt: the longest)."""
    if e.pulse_mm is None:
        assert e.pulse_ms is not None  # the model holds exactly one of the two
        return int(e.pulse_ms * 1e6)
    lo_ns, hi_ns = e.pulse_min_ms * 1e6, e.pulse_max_ms * 1e6
    if not speed_mm_per_ns or speed_mm_per_ns <= 0:
        return int(hi_ns)
    return int(min(max(e.pulse_mm / speed_mm_per_ns, lo_ns), hi_ns))


def lateness_ns(
    now_ns: int,
    fire_at_ns: int,
    reach_mm: float | None,
    speed_mm_per_ns: float,
    margin_ns: int = 0,
) -> int:
    """How far past the last coil-on time that still hits the item a coil-on at `now_ns` +
    `margin_ns` would be: > 0 is beyond the reach. `fire_at_ns` is the ideal coil-on time."""
    reach_ns = int((reach_mm or 0.0) / speed_mm_per_ns) if speed_mm_per_ns > 0 else 0
    return now_ns + margin_ns - (fire_at_ns + reach_ns)


def lateness_mm(
    travel_mm: float,
    fire_mm: float,
    reach_mm: float | None,
    speed_mm_per_ns: float,
    margin_ns: int = 0,
) -> float:
    """PLC mode, along the belt: where the belt will be when the PLC can act on a verdict sent
    at `travel_mm` (`margin_ns` later), past the fire point plus the reach; >= 0 is too late."""
    return travel_mm + max(speed_mm_per_ns, 0.0) * margin_ns - (fire_mm + (reach_mm or 0.0))


def push_miss(off_mm: float, reach_mm: float | None, tol_mm: float) -> str | None:
    """Why a push that met the belt `off_mm` from the item (< 0: the item short of the line,
    the belt slowed or stopped after the plan; > 0: past it, a late switch-on) missed it:
    `fired_short` / `fired_late` beyond `reach_mm` either side (without a reach: beyond `tol_mm`,
    the re-time tolerance at the plan's speed); None when the paddle meets the item."""
    allowed_mm = tol_mm if reach_mm is None else reach_mm
    if off_mm < -allowed_mm:
        return "fired_short"
    return "fired_late" if off_mm > allowed_mm else None


def blast_hits(
    target_u_mm: float,
    others_u_mm: npt.NDArray[np.float64],
    reach_mm: float | None,
    blast_mm: float,
    push_offset_mm: float = 0.0,
) -> npt.NDArray[np.bool_]:
    """Which of `others_u_mm` (belt-fixed centres) the paddle meets during a push aimed at the
    item at `target_u_mm`: the belt swept while the coil is on (`blast_mm`) plus the reach on
    either side. `push_offset_mm`: how far the target is past the line when the push starts
    (a late push), which moves the window upstream on the belt."""
    reach = reach_mm or 0.0
    line_u = target_u_mm - push_offset_mm  # the belt-fixed point at the line at push start
    return (others_u_mm >= line_u - reach - blast_mm) & (others_u_mm <= line_u + reach)


def cycle_conflict(
    t_ns: int, pulse_ns: int, pushes: Sequence[Push], min_cycle_ns: int
) -> Push | None:
    """The push of `pushes` nearest in time to a new one at `t_ns` whose start is closer than
    the actuator allows: closer than `min_cycle_ns`, or inside the earlier one's pulse (the
    coil would merge the two). None when every push is far enough."""
    too_close = [
        p
        for p in pushes
        if abs(t_ns - p.t_ns) < max(min_cycle_ns, p.pulse_ns if p.t_ns <= t_ns else pulse_ns)
    ]
    return min(too_close, key=lambda p: abs(t_ns - p.t_ns), default=None)


class PushBook:
    """The pushes planned or made on each ejector, newest `keep` per ejector, for the cycle
    check: a re-timed plan moves its push, a missed one is withdrawn."""

    def __init__(self, keep: int = 64) -> None:
        self._keep = keep
        self._by_ejector: dict[str, dict[int, Push]] = {}

    def pushes(self, ejector_id: str, but: int) -> list[Push]:
        """The pushes of `ejector_id` other than item `but`'s."""
        return [p for i, p in self._by_ejector.get(ejector_id, {}).items() if i != but]

    def put(self, ejector_id: str, push: Push) -> None:
        book = self._by_ejector.setdefault(ejector_id, {})
        book.pop(push.item_id, None)
        book[push.item_id] = push
        while len(book) > self._keep:
            del book[next(iter(book))]

    def withdraw(self, item_id: int) -> None:
        for book in self._by_ejector.values():
            book.pop(item_id, None)
