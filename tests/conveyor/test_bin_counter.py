"""The bin counter: a 16-bit register the PLC increments on each bin-sensor rising edge. The box
turns its changes into confirmations; a wrap is counting on, a change no bin can make is a fault
(logged by the caller) that confirms nothing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plantvision.conveyor.confirm import COUNTER_MODULUS, BinCounter, CounterStep, items_met


@pytest.mark.parametrize(
    ("readings", "expected"),
    [
        # The first reading only anchors: pulses before the box started are not its rejects.
        ([5], [CounterStep(0)]),
        ([5, 5, 6, 9], [CounterStep(0), CounterStep(0), CounterStep(1), CounterStep(3)]),
        # 65535 -> 1 is two pulses across the wrap, not 65534 backwards.
        ([65534, 65535, 1], [CounterStep(0), CounterStep(1), CounterStep(2)]),
        # A PLC restart that zeroes the counter, or a garbled read: a jump, nothing confirmed,
        # and the counter is re-anchored there (the next pulse counts from it).
        ([300, 0, 1], [CounterStep(0), CounterStep(0, jump=65236), CounterStep(1)]),
        ([10, 500, 501], [CounterStep(0), CounterStep(0, jump=490), CounterStep(1)]),
        # The largest plausible step is still pulses.
        ([10, 110], [CounterStep(0), CounterStep(100)]),
    ],
)
def test_counter_changes_decode_to_pulses(readings: list[int], expected: list[CounterStep]) -> None:
    """Each reading gives the pulses since the previous one, mod 2^16, or a jump."""
    counter = BinCounter(max_step=100)
    assert [counter.update(r) for r in readings] == expected


def test_forget_makes_the_next_reading_an_anchor() -> None:
    """After `forget` (the PLC restarted) the next reading anchors and confirms nothing."""
    counter = BinCounter()
    counter.update(40)
    counter.forget()
    assert counter.update(2) == CounterStep(0)
    assert counter.update(3) == CounterStep(1)


def test_out_of_range_reading_is_refused() -> None:
    """A value that does not fit 16 bits is a bug upstream, not a count."""
    with pytest.raises(ValueError, match="16-bit"):
        BinCounter().update(COUNTER_MODULUS)


@given(
    start=st.integers(0, COUNTER_MODULUS - 1),
    steps=st.lists(st.integers(0, 100), max_size=60),
)
def test_pulses_add_up_whatever_the_wraps(start: int, steps: list[int]) -> None:
    """Every pulse the PLC counted is decoded once, across any number of wraps."""
    counter, raw, total = BinCounter(max_step=100), start, 0
    counter.update(raw)
    for n in steps:
        raw = (raw + n) % COUNTER_MODULUS
        total += counter.update(raw).pulses
    assert total == sum(steps)


@pytest.mark.parametrize(
    ("swept_mm", "reach_mm", "pitch_mm", "items"),
    [
        (0.0, None, 40.0, 1),  # a blind point, no reach: the one centre at the line
        (15.0, None, 40.0, 1),  # a 30 ms pulse at 0.5 m/s: closer than two items can lie
        (40.0, None, 40.0, 2),  # one pitch: a centre at each end
        (15.0, 20.0, 40.0, 2),  # the reach widens it on both sides: 55 mm
        (382.0, 0.0, 100.0, 4),  # a start-up range
    ],
)
def test_a_push_bins_at_most_the_items_its_swept_belt_can_hold(
    swept_mm: float, reach_mm: float | None, pitch_mm: float, items: int
) -> None:
    """Centres from the reach ahead of the line at coil-on to the reach behind it at coil-off,
    one pitch apart at least."""
    assert items_met(swept_mm, reach_mm, pitch_mm) == items
