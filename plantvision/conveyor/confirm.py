"""Reject confirmation from a bin counter: the PLC's count of bin-sensor rising edges. Pure.

A bin sensor's level, polled every 20 ms, misses about half of 10 ms pulses (each a false
`reject_unconfirmed` and a belt stop). A PLC scans every few ms and counts each rising edge in a
16-bit register per ejector; the box reads it with its inputs and turns each change (mod 2^16)
into confirmations for that ejector. A reading can come late or be skipped: the count still
holds every pulse. A change larger than any bin can make between two readings (a PLC restart
that zeroed the counter, a wrong register) is a jump: it confirms nothing (the rejects it may
have held stay unconfirmed, the safe side) and the counter is re-anchored there.

A push over a blind segment (reject unless proven good) may meet an item or air, so its window
is a "may" window: it may explain pulses, at most `items_met` of them, and owes none. A pulse
goes first to a blind push whose window holds it and that can still explain one (`explain`);
a real reject is confirmed only by a pulse beyond what the blind pushes whose windows hold it
can explain, or by one that only real windows hold. Otherwise a real reject whose item missed
the bin would be credited with the pulse of an item a blind push binned, and its miss would go
silent. A real reject left unconfirmed after passing a pulse over to a blind push is still
unconfirmed (the safe side); `BlindBook` remembers which blind pushes took its pulses, so its
cause reads `ambiguous_with_blind_push` (its item may be in the bin) rather than `no_pulse`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

COUNTER_MODULUS = 1 << 16
# More bin pulses between two readings than any ejector can make: at 20 ms polls, 100 pulses
# is one every 0.2 ms; a reading after a 2 s link loss still allows 50 pushes a second.
MAX_STEP = 100


@dataclass(frozen=True, slots=True)
class CounterStep:
    """What one reading says: `pulses` new bin-sensor pulses, or a `jump` (the counter's
    change mod 2^16, beyond `max_step`) that confirms nothing."""

    pulses: int
    jump: int | None = None


class BinCounter:
    """Decodes one ejector's 16-bit bin counter, reading by reading."""

    def __init__(self, max_step: int = MAX_STEP) -> None:
        self._max_step = max_step
        self._last: int | None = None

    def forget(self) -> None:
        """The next reading anchors (the PLC restarted: its counter began again)."""
        self._last = None

    def update(self, raw: int) -> CounterStep:
        """The pulses since the previous reading; the first reading only anchors (pulses
        before the box started are not its rejects)."""
        if not 0 <= raw < COUNTER_MODULUS:
            raise ValueError(f"bin counter reading {raw} is not a 16-bit value")
        last, self._last = self._last, raw
        if last is None:
            return CounterStep(0)
        delta = (raw - last) % COUNTER_MODULUS
        if delta > self._max_step:
            return CounterStep(0, jump=delta)
        return CounterStep(delta)


def items_met(swept_mm: float, reach_mm: float | None, pitch_mm: float) -> int:
    """The most items a push can bin: centres from `reach_mm` downstream of the line at coil-on
    to `reach_mm` upstream of it at coil-off (the belt swept in between, `swept_mm`), one after
    another at least `pitch_mm` apart along the belt (one file per ejector's lane)."""
    return math.floor((max(swept_mm, 0.0) + 2 * (reach_mm or 0.0)) / pitch_mm) + 1


@dataclass(frozen=True, slots=True)
class Window:
    """A push's confirmation window, open ns .. deadline ns; `may`: a push over blind belt that
    can still explain a pulse (it owes none: it may have met air)."""

    open_ns: int
    deadline_ns: int
    may: bool = False


def explain(
    windows: Sequence[Window], seen_from_ns: int, seen_to_ns: int
) -> tuple[int | None, tuple[int, ...]]:
    """Which of `windows` (in the order their items reach the bin: the earliest first) a pulse
    seen in [seen_from_ns, seen_to_ns] goes to, None when none holds it; and the real windows
    that held it too but were passed over for a blind push's (they stay waiting)."""
    holds = [
        i
        for i, w in enumerate(windows)
        if w.open_ns <= seen_to_ns and seen_from_ns <= w.deadline_ns
    ]
    real = tuple(i for i in holds if not windows[i].may)
    blind = [i for i in holds if windows[i].may]
    if blind:
        return blind[0], real
    return (real[0] if real else None), ()


@dataclass(slots=True)
class BlindBook:
    """Per blind push (by item id), the pulses it may still explain; per real reject, the blind
    pushes that took a pulse its window held."""

    _spare: dict[int, int] = field(default_factory=dict)
    _took: dict[int, list[int]] = field(default_factory=dict)

    def open(self, blind_id: int, items: int) -> None:
        self._spare[blind_id] = items

    def may(self, blind_id: int) -> bool:
        return self._spare.get(blind_id, 0) > 0

    def take(self, blind_id: int, passed_over: Iterable[int]) -> None:
        """One pulse explained by `blind_id`, which the real rejects `passed_over` held too."""
        self._spare[blind_id] -= 1
        for item_id in passed_over:
            self._took.setdefault(item_id, []).append(blind_id)

    def settle(self, item_id: int) -> list[int]:
        """Forget `item_id` (its window closed, or it was confirmed); the blind pushes that took
        pulses its window held."""
        self._spare.pop(item_id, None)
        return self._took.pop(item_id, [])

    def keep(self, item_ids: Iterable[int]) -> None:
        """Forget every push but `item_ids` (the rest were settled some other way: missed)."""
        live = set(item_ids)
        self._spare = {k: v for k, v in self._spare.items() if k in live}
        self._took = {k: v for k, v in self._took.items() if k in live}
