"""The simulated machine: runs only with permit and a live +1 heartbeat after a start command,
trips, coasts, latches; a reset re-arms and never starts."""

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
    assert m.press_start(t0)
    return m


def test_power_up_is_latched_until_reset_then_a_permit_rise() -> None:
    """Permit and heartbeat alone do not make a machine that was never reset ready, and a permit
    that was already ON at the reset does not either: it needs a rise after the press."""
    m = Machine(P, 0)
    m.on_heartbeat(1, 0)
    m.on_permit(True, 0)
    assert not m.press_start(0)
    assert m.press_reset(1)
    assert not m.press_start(1)
    m.on_permit(False, 2)
    m.on_permit(True, 3)
    assert m.press_start(3)


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
    assert not m.press_start(230 * MS)
    m.on_permit(False, 240 * MS)
    m.on_permit(True, 250 * MS)
    assert m.press_start(250 * MS)


def test_a_permit_rise_before_the_reset_does_not_count() -> None:
    """OFF->ON while still latched predates the reset: the press alone does not start it."""
    m = running_machine()
    m.on_permit(False, 0)
    m.advance(60 * MS)
    m.on_permit(True, 70 * MS)
    assert m.press_reset(80 * MS)
    m.on_heartbeat(2, 90 * MS)
    assert not m.press_start(90 * MS)


def test_a_rise_after_the_reset_waits_for_a_fresh_heartbeat_across_later_presses() -> None:
    """A rise that followed the reset still lets start start the machine once a beat arrives,
    even if the operator pressed reset again meanwhile (the box ignores presses once reset)."""
    m = running_machine()
    m.on_permit(False, 0)
    assert m.press_reset(60 * MS)
    m.on_permit(True, 200 * MS)  # the last beat was at 0: stale
    assert not m.press_start(200 * MS)
    assert m.press_reset(250 * MS)
    m.on_heartbeat(2, 260 * MS)
    assert m.press_start(260 * MS)


def test_stale_heartbeat_trips_exactly_at_the_watchdog_time() -> None:
    """A heartbeat that stops changing trips the machine watchdog_ns after its last change."""
    m = running_machine()
    m.on_heartbeat(2, 30 * MS)
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
    m.on_heartbeat(2, 70 * MS)
    m.on_permit(True, 70 * MS)
    assert not m.press_start(70 * MS)


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
    for i, t in enumerate(range(0, 100, 20)):
        m.on_heartbeat(2 + i, t * MS)
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
    assert m.press_start(0)
    expected = (seconds * 10**6) % ENCODER_MODULUS
    assert m.encoder(seconds * 10**9) == expected


OPS = st.lists(
    st.tuples(
        st.sampled_from(["press", "start", "on", "off", "beat", "wait"]), st.integers(1, 120)
    ),
    max_size=40,
)


@given(OPS)
def test_every_start_follows_a_permit_off_seen_after_the_reset(ops: list[tuple[str, int]]) -> None:
    """Whatever the order of writes and presses, the machine starts only on a start command and
    only once the permit was OFF at some instant after the press that cleared the latch (so a
    stale ON can never start it, and a reset never does)."""
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
        elif op == "start":
            m.press_start(t)
        if m.running(t) and not was_running:
            assert op == "start", f"{op!r} started the machine: only start may"
            assert off_since_clear, "started without a permit rise after the reset"


def test_a_reset_and_a_permit_rise_never_start_the_machine_only_start_does() -> None:
    """Reset re-arms, never starts (scanner manuals: a reset "must not introduce any movement"):
    after the press and the box's fresh permit rise the machine is ready, not running; only the
    operator's separate start command starts it."""
    m = Machine(P, 0)
    m.on_heartbeat(1, 0)
    assert m.press_reset(1)
    m.on_permit(True, 2)
    m.on_heartbeat(2, 3)
    assert not m.running(10 * MS)
    assert m.ready(10 * MS)
    assert m.press_start(11 * MS)
    assert m.running(11 * MS)


def test_a_start_before_the_box_is_ready_is_not_remembered() -> None:
    """A start pressed while latched or before the permit rise does nothing, now or later."""
    m = Machine(P, 0)
    m.on_heartbeat(1, 0)
    assert not m.press_start(1)
    assert m.press_reset(2)
    assert not m.press_start(3)
    m.on_permit(True, 4)
    assert not m.running(5)
    assert m.press_start(6)


def test_a_replayed_or_skipped_heartbeat_trips_and_is_not_fresh() -> None:
    """The heartbeat is a sequence: only the previous value + 1 (mod 2**16) is a beat. A repeat
    (a replayed write) or a skip trips the running machine; beats that follow resynchronise."""
    m = running_machine()  # base 1
    m.on_heartbeat(2, 10 * MS)
    m.on_heartbeat(2, 20 * MS)  # replayed
    assert not m.running(20 * MS)
    assert m.trip_cause == "heartbeat_sequence"
    m = running_machine()
    m.on_heartbeat(3, 10 * MS)  # skipped 2
    assert (m.trip_cause, m.sequence_errors) == ("heartbeat_sequence", 1)
    m = Machine(P, 0)
    m.on_heartbeat(0xFFFF, 0)
    m.on_heartbeat(0, 1)  # wraps
    assert m.sequence_errors == 0


def test_stop_faults_make_the_coast_longer_or_the_program_deaf() -> None:
    """coast_extra_ns delays standstill; ignore_permit neither latches nor stops on permit OFF."""
    m = running_machine()
    m.coast_extra_ns = 100 * MS
    m.on_permit(False, 0)
    assert m.latched_at(1)
    assert not m.standstill(149 * MS)
    assert m.standstill(150 * MS)
    m = running_machine()
    m.ignore_permit = True
    m.on_permit(False, 0)
    assert not m.latched_at(1)
    assert m.running(1)


def test_a_permit_off_latches_a_ready_machine_that_never_started() -> None:
    """Ready (reset, fresh rise) but not started: a permit OFF re-latches it, so a start after
    that needs another reset."""
    m = Machine(P, 0)
    m.on_heartbeat(1, 0)
    assert m.press_reset(1)
    m.on_permit(True, 2)
    m.on_permit(False, 3)
    assert m.latched_at(4)
    m.on_permit(True, 5)
    assert not m.press_start(6)


def test_the_belt_can_be_looked_back_on_and_an_encoder_register_read_behind_it() -> None:
    """Truth for latency benches: the travel at a past instant is the one the machine had then
    (running 1 count/ms, then coasting to a stop), and an encoder register `age_ns` behind the
    counter shows that past count while the counter itself moves on."""
    m = running_machine()
    for t in range(10 * MS, 101 * MS, 10 * MS):
        m.on_heartbeat(t // (10 * MS) + 1, t)  # +1 every 10 ms: fresh, the belt runs
        m.advance(t)
    assert m.position_counts_at(45 * MS) == 45.0
    assert m.encoder(100 * MS, age_ns=20 * MS) == 80
    assert m.encoder(100 * MS) == 100
    m.on_permit(False, 100 * MS)  # coasts 50 ms, decelerating linearly: 25 counts
    assert m.position_counts(130 * MS) == 100 + 30 - 30**2 / 100
    assert m.position_counts(200 * MS) == 125.0
    assert m.position_counts_at(130 * MS) == 121.0
    assert m.position_counts_at(95 * MS) == 95.0


def test_a_start_ramps_up_to_full_speed_and_a_stop_mid_ramp_coasts_from_the_speed_reached() -> None:
    """A real belt accelerates after a start (issue 17: PLC-timed leads fixed from a speed still
    rising landed late); travel is the integral of the ramp, with no jump."""
    from dataclasses import replace

    m = Machine(replace(P, watchdog_ns=10**12, ramp_ns=100 * MS), 0)
    assert m.press_reset(0)
    m.on_heartbeat(1, 0)
    m.on_permit(True, 0)
    assert m.press_start(0)
    assert m.speed_counts_per_ns(50 * MS) == 0.5 * 1000 / 1e9
    assert abs(m.position_counts(50 * MS) - 1000 * 0.1 / 8) < 1e-9  # v R / 8 at half the ramp
    assert abs(m.position_counts(100 * MS) - 1000 * 0.1 / 2) < 1e-9
    assert m.speed_counts_per_ns(150 * MS) == 1000 / 1e9
    assert abs(m.position_counts(200 * MS) - (50 + 100)) < 1e-9  # full speed after the ramp
    n = Machine(replace(P, watchdog_ns=10**12, ramp_ns=100 * MS), 0)
    assert n.press_reset(0)
    n.on_heartbeat(1, 0)
    n.on_permit(True, 0)
    assert n.press_start(0)
    n.on_permit(False, 50 * MS)  # a stop at half speed coasts from half speed
    assert n.speed_counts_per_ns(50 * MS) == 0.5 * 1000 / 1e9
    coast = n.position_counts(200 * MS) - 1000 * 0.1 / 8
    assert abs(coast - 0.5 * 1000 / 1e9 * 50 * MS / 2) < 1e-9  # (v0 / 2) x the 50 ms stop
