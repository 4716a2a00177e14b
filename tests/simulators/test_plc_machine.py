"""The simulated machine: runs only with permit and a live heartbeat, trips, coasts, latches."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simulators.plc.machine import ENCODER_MODULUS, Machine, MachineParams, Phase

MS = 1_000_000
P = MachineParams(
    watchdog_ns=100 * MS, stopping_ns=50 * MS, counts_per_s=1000.0, reset_pulse_ns=200 * MS
)


def running_machine(t0: int = 0) -> Machine:
    m = Machine(P, t0)
    assert m.press_reset(t0)
    m.on_heartbeat(1, t0)
    m.on_permit(True, t0)
    assert m.running(t0)
    return m


def test_power_up_is_latched_until_reset() -> None:
    """Permit and heartbeat alone do not start a machine that was never reset."""
    m = Machine(P, 0)
    m.on_heartbeat(1, 0)
    m.on_permit(True, 0)
    assert not m.running(0)
    assert m.press_reset(1)
    assert m.running(1)


def test_stale_heartbeat_trips_exactly_at_the_watchdog_time() -> None:
    """A heartbeat that stops changing trips the machine watchdog_ns after its last change."""
    m = running_machine()
    m.on_heartbeat(2, 30 * MS)
    m.on_heartbeat(2, 60 * MS)  # same value: not a beat
    assert m.running(130 * MS)
    assert not m.running(131 * MS)
    assert (m.trip_cause, m.trip_ns) == ("watchdog", 130 * MS)


def test_permit_off_trips_and_the_machine_coasts_then_latches() -> None:
    """Permit off starts the stop; after stopping_ns it rests; permit on alone cannot restart."""
    m = running_machine()
    m.on_permit(False, 10 * MS)
    assert m.phase is Phase.STOPPING
    m.advance(60 * MS)
    assert m.phase is Phase.STOPPED
    m.on_heartbeat(3, 70 * MS)
    m.on_permit(True, 70 * MS)
    assert not m.running(70 * MS)


def test_reset_while_coasting_is_ignored() -> None:
    """A reset pressed before the machine has stopped clears nothing."""
    m = running_machine()
    m.on_permit(False, 0)
    assert not m.press_reset(10 * MS)
    assert m.latched
    assert m.press_reset(60 * MS)


def test_reset_input_is_a_pulse() -> None:
    """The reset input the box reads is high for reset_pulse_ns after a press, then low."""
    m = Machine(P, 0)
    m.press_reset(0)
    assert m.reset_input(199 * MS)
    assert not m.reset_input(200 * MS)


def test_encoder_counts_belt_travel_including_the_coast() -> None:
    """1000 counts/s: 100 ms running is 100 counts; a 50 ms linear stop adds 25 more."""
    m = running_machine()
    for t in range(0, 100, 20):
        m.on_heartbeat(t + 10, t * MS)
    assert m.encoder(100 * MS) == 100
    m.on_permit(False, 100 * MS)
    assert m.encoder(1000 * MS) == 125


@given(st.integers(1, 10**7))
def test_encoder_wraps_at_32_bits(seconds: int) -> None:
    """The encoder count stays within 32 bits however long the belt runs."""
    fast = MachineParams(watchdog_ns=10**18, stopping_ns=0, counts_per_s=1e6, reset_pulse_ns=0)
    m = Machine(fast, 0)
    m.press_reset(0)
    m.on_heartbeat(1, 0)
    m.on_permit(True, 0)
    expected = (seconds * 10**6) % ENCODER_MODULUS
    assert m.encoder(seconds * 10**9) == expected
