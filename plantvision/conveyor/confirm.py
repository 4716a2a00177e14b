"""Reject confirmation from a bin counter: the PLC's count of bin-sensor rising edges. Pure.

A bin sensor's level, polled every 20 ms, misses about half of 10 ms pulses (each a false
`reject_unconfirmed` and a belt stop). A PLC scans every few ms and counts each rising edge in a
16-bit register per ejector; the box reads it with its inputs and turns each change (mod 2^16)
into confirmations for that ejector. A reading can come late or be skipped: the count still
holds every pulse. A change larger than any bin can make between two readings (a PLC restart
that zeroed the counter, a wrong register) is a jump: it confirms nothing (the rejects it may
have held stay unconfirmed, the safe side) and the counter is re-anchored there.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def pick_window(windows: list[tuple[int, int]], seen_from_ns: int, seen_to_ns: int) -> int | None:
    """Index of the window (open ns, deadline ns) a pulse seen in [seen_from_ns, seen_to_ns]
    belongs to: one that overlaps that span, the earliest deadline first (items reach the bin
    in the order they were pushed); None when no window can hold it."""
    fits = [
        (deadline, i)
        for i, (open_ns, deadline) in enumerate(windows)
        if open_ns <= seen_to_ns and seen_from_ns <= deadline
    ]
    return min(fits)[1] if fits else None
