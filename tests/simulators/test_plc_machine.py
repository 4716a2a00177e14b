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


def test_power_up_is_latched_until_reset_then_a_permit_rise() -> None:
    """Permit and heartbeat alone do not start a machine that was never reset, and a permit that
    was already ON at the reset does not start it either: it needs a rise after the press."""
    m = Machine(P, 0)
    m.on_heartbeat(1, 0)
    m.on_permit(True, 0)
    assert not m.running(0)
    assert m.press_reset(1)
    assert not m.running(1)
    m.on_permit(False, 2)
    m.on_permit(True, 3)
    assert m.running(3)


def test_permit_that_stayed_on_through_a_watchdog_trip_never_restarts() -> None:
    """The slow-PLC finding: heartbeats stop, the watchdog trips with the permit still ON, then a
    late beat and a reset arrive; the machine stays stopped until the permit goes OFF and ON."""
    m = running_machine()
    assert not m.running(101 * MS)
    assert m.trip_cause == "watchdog"
    m.on_permit(True, 120 * MS)  # a late-delivered copy of the old permit: no transition
    assert m.press_reset(200 * MS)
    m.on_heartbeat(2, 210 * MS)  # a late-delivered beat: the heartbeat looks fresh again
    m.on_permit(True, 220 * MS)
    assert not m.running(230 * MS)
    m.on_permit(False, 240 * MS)
    m.on_permit(True, 250 * MS)
    assert m.running(250 * MS)


def test_a_permit_rise_before_the_reset_does_not_count() -> None:
    """OFF->ON while still latched predates the reset: the press alone does not start it."""
    m = running_machine()
    m.on_permit(False, 0)
    m.advance(60 * MS)
    m.on_permit(True, 70 * MS)
    assert m.press_reset(80 * MS)
    m.on_heartbeat(5, 90 * MS)
    assert not m.running(90 * MS)


def test_a_rise_after_the_reset_waits_for_a_fresh_heartbeat_across_later_presses() -> None:
    """A rise that followed the reset still starts the machine once a beat arrives, even if the
    operator pressed reset again meanwhile (the box ignores presses once it has reset)."""
    m = running_machine()
    m.on_permit(False, 0)
    assert m.press_reset(60 * MS)
    m.on_permit(True, 200 * MS)  # the last beat was at 0: stale
    assert not m.running(200 * MS)
    assert m.press_reset(250 * MS)
    m.on_heartbeat(9, 260 * MS)
    assert m.running(260 * MS)


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


OPS = st.lists(
    st.tuples(st.sampled_from(["press", "on", "off", "beat", "wait"]), st.integers(1, 120)),
    max_size=40,
)


@given(OPS)
def test_every_start_follows_a_permit_off_seen_after_the_reset(ops: list[tuple[str, int]]) -> None:
    """Whatever the order of writes and presses, the machine only starts once the permit was OFF
    at some instant after the press that cleared the latch (so a stale ON can never start it)."""
    m, t, beat = Machine(P, 0), 0, 0
    off_since_clear = False  # the permit was OFF at or after the latest latch-clearing press
    for op, dt_ms in ops:
        t += dt_ms * MS
        was_running, was_latched = m.running(t), m.latched
        if op == "press":
            if m.press_reset(t) and was_latched:
                off_since_clear = not m.permit
        elif op in ("on", "off"):
            m.on_permit(op == "on", t)
            off_since_clear = off_since_clear or op == "off"
        elif op == "beat":
            beat += 1
            m.on_heartbeat(beat, t)
        if m.running(t) and not was_running:
            assert off_since_clear, "started without a permit rise after the reset"
