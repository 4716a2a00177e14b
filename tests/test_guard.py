"""The guard: trip at once, latch, release only on a deliberate reset with the zones clear."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from plantvision.guard.latch import Guard, GuardConfig, GuardEvent, GuardState
from plantvision.loop.outputs import FAULT_CODES
from plantvision.zones.geometry import ZoneHits

MS = 1_000_000
SHA = "ab" * 32


def hits(stop: bool = False, warn: bool = False, stop2: bool = False) -> ZoneHits:
    """Verdict for zones 'press' (stop), 'aisle' (warn), 'feed' (stop), one detection column."""
    return ZoneHits(
        ("press", "aisle", "feed"),
        np.array([True, False, True]),
        np.array([[stop], [warn], [stop2]]),
        np.zeros(1, np.bool_),
    )


CLEAR = hits()


def guard(**cfg: int) -> Guard:
    return Guard(GuardConfig(**cfg), SHA, warn_hold_ms={"aisle": 300})


def named(events: tuple[GuardEvent, ...], name: str) -> list[dict[str, Any]]:
    return [e.fields() for e in events if e.name == name]


def started(g: Guard | None = None) -> tuple[Guard, int]:
    """A guard that has been reset into running; returns it and the current time in ms."""
    g = g or guard()
    g.step(0, 0, CLEAR)
    out = g.step(600 * MS, 1, CLEAR, reset=True).output
    assert out.permit
    g.step(610 * MS, 2, CLEAR)  # release the reset button
    return g, 610


def test_power_up_starts_tripped_with_start_interlock() -> None:
    """Power-up starts with the permit off and cause start_interlock, even with zones clear."""
    out = guard().step(0, 0, CLEAR).output
    assert (out.permit, out.cause, out.state) == (False, "start_interlock", GuardState.TRIPPED)


def test_reset_input_high_at_power_up_is_not_a_press() -> None:
    """A reset input already on at power-up (stuck button) does not release the permit."""
    g = guard()
    for t in range(0, 2000, 100):
        out = g.step(t * MS, t, CLEAR, reset=True).output
    assert not out.permit


def test_one_detection_in_a_stop_zone_drops_the_permit_in_the_same_cycle() -> None:
    """One person anchor in a stop zone drops the permit in the same cycle."""
    g, t = started()
    step = g.step((t + 10) * MS, 3, hits(stop2=True))
    assert (step.output.permit, step.output.cause, step.output.zone) == (False, "stop_zone", "feed")
    assert [e.name for e in step.events] == ["zone_entered", "trip"]


def test_trip_latches_after_the_zone_clears() -> None:
    """After a trip the permit stays off when the zone clears, however long, until a reset."""
    g, t = started()
    g.step((t + 10) * MS, 3, hits(stop=True))
    for k in range(1, 50):
        out = g.step((t + 10 + 100 * k) * MS, 3 + k, CLEAR).output
        assert not out.permit
    assert out.state is GuardState.READY_TO_RESET


RESET_TABLE = [
    # (ms after the zone cleared that reset is pressed, zone occupied at press, accepted?, reason)
    (100, False, False, "clear_hold"),
    (499, False, False, "clear_hold"),
    (500, False, True, None),
    (2000, True, False, "stop_zone_occupied"),
]


@pytest.mark.parametrize(("after_ms", "occupied", "accepted", "reason"), RESET_TABLE)
def test_reset_needs_every_stop_zone_clear_for_the_hold_time(
    after_ms: int, occupied: bool, accepted: bool, reason: str | None
) -> None:
    """A reset restores the permit only after clear_hold_ms of clear zones; else it is refused."""
    g, t = started()
    g.step((t + 10) * MS, 3, hits(stop=True))
    g.step((t + 20) * MS, 4, CLEAR)
    step = g.step((t + 20 + after_ms) * MS, 5, hits(stop=occupied), reset=True)
    assert step.output.permit is accepted
    refused = named(step.events, "reset_refused")
    assert [e["reason"] for e in refused] == ([reason] if reason else [])
    assert len(named(step.events, "reset")) == int(accepted)


def test_reset_refused_while_zone_occupied_is_logged_with_zone_and_hash() -> None:
    """A reset while a stop zone is occupied is refused and logged naming the zone."""
    g, t = started()
    g.step((t + 10) * MS, 3, hits(stop=True))
    step = g.step((t + 900) * MS, 4, hits(stop=True), reset=True)
    assert not step.output.permit
    (e,) = named(step.events, "reset_refused")
    assert (e["zone"], e["reason"], e["seq"], e["zones_sha256"]) == (
        "press",
        "stop_zone_occupied",
        4,
        SHA,
    )


# Every fault cause the loop hands the guard (all but the guard's own and shutdown's).
HEALTH_CAUSES = [c for c in FAULT_CODES if c not in ("start_interlock", "stop_zone", "shutdown")]


@pytest.mark.parametrize("fault", HEALTH_CAUSES)
def test_health_fault_trips_latches_and_blocks_reset(fault: str) -> None:
    """Each health cause trips with itself as cause; reset is refused while it is active."""
    g, t = started()
    step = g.step((t + 10) * MS, 3, CLEAR, faults=frozenset({fault}))
    assert (step.output.permit, step.output.cause) == (False, fault)
    assert named(step.events, "trip")[0]["faults"] == [fault]
    out = g.step((t + 900) * MS, 4, CLEAR, faults=frozenset({fault}), reset=True).output
    assert not out.permit
    out = g.step((t + 910) * MS, 5, CLEAR).output  # fault gone: still latched
    assert (out.permit, out.cause) == (False, fault)
    assert g.step((t + 920) * MS, 6, CLEAR, reset=True).output.permit


def test_minimum_off_time_holds_the_permit_off() -> None:
    """Once off, the permit stays off for min_off_ms even if a reset comes sooner."""
    g, t = started(guard(clear_hold_ms=0, min_off_ms=80))
    g.step((t + 10) * MS, 3, CLEAR, faults=frozenset({"plc_lost"}))
    step = g.step((t + 50) * MS, 4, CLEAR, reset=True)
    assert (step.output.permit, step.output.state) == (False, GuardState.TRIPPED)
    assert [e["reason"] for e in named(step.events, "reset_refused")] == ["min_off_time"]
    g.step((t + 60) * MS, 5, CLEAR)
    assert g.step((t + 90) * MS, 6, CLEAR, reset=True).output.permit


def test_no_verdict_is_not_clear() -> None:
    """A cycle without a zone verdict restarts the clear-hold timer, so reset is refused."""
    g, t = started()
    g.step((t + 10) * MS, 3, hits(stop=True))
    g.step((t + 20) * MS, 4, CLEAR)
    g.step((t + 600) * MS, 5, None)
    step = g.step((t + 700) * MS, 6, CLEAR, reset=True)
    assert not step.output.permit
    assert [e["reason"] for e in named(step.events, "reset_refused")] == ["clear_hold"]


def test_holding_reset_does_not_restart_when_the_zone_clears() -> None:
    """Only a press (rising edge) resets: a held button cannot restart the machine later."""
    g, t = started()
    g.step((t + 10) * MS, 3, hits(stop=True))
    for k in range(1, 20):
        out = g.step((t + 10 + 100 * k) * MS, 3 + k, hits(stop=k < 5), reset=True).output
        assert not out.permit


def test_warning_follows_warn_zone_and_clears_after_its_hold() -> None:
    """A warn zone lights the warning without tripping; it clears hold_ms after the zone."""
    g, t = started()
    steps = [
        g.step((t + 10) * MS, 3, hits(warn=True)),
        g.step((t + 20) * MS, 4, CLEAR),
        g.step((t + 310) * MS, 5, CLEAR),
        g.step((t + 321) * MS, 6, CLEAR),
    ]
    on, still, held, off = (s.output for s in steps)
    assert (on.permit, on.warning, still.warning, held.warning, off.warning) == (
        True,
        True,
        True,
        True,
        False,
    )
    events = [(e.name, e.zone, e.seq) for s in steps for e in s.events]
    assert events == [
        ("zone_entered", "aisle", 3),
        ("warning_on", "aisle", 3),
        ("zone_cleared", "aisle", 4),
        ("warning_off", None, 6),
    ]


def test_every_transition_is_an_event_with_cause_zone_seq_and_hash() -> None:
    """Trip, zone, reset events carry cause, zone, seq and the zone file's hash."""
    g = guard()
    steps = [
        g.step(0, 0, CLEAR),
        g.step(600 * MS, 1, CLEAR, reset=True),
        g.step(700 * MS, 2, hits(stop=True)),
        g.step(800 * MS, 3, CLEAR),
    ]
    events = [e for s in steps for e in s.events]
    got = [(e.name, e.cause, e.zone, e.seq) for e in events]
    assert got == [
        ("reset", "start_interlock", None, 1),
        ("zone_entered", None, "press", 2),
        ("trip", "stop_zone", "press", 2),
        ("zone_cleared", "stop_zone", "press", 3),
    ]
    assert all(e.fields()["zones_sha256"] == SHA for e in events)


# --- invariants over random histories ---------------------------------------------------------

cycle = st.tuples(
    st.integers(1, 300),  # ms since the previous cycle
    st.sampled_from(["clear", "stop", "stop2", "warn", "none"]),
    st.booleans(),  # health fault active
    st.booleans(),  # reset input level
)


def verdict(kind: str) -> ZoneHits | None:
    table: dict[str, Any] = {
        "clear": CLEAR,
        "stop": hits(stop=True),
        "stop2": hits(stop2=True),
        "warn": hits(warn=True),
        "none": None,
    }
    return table[kind]  # type: ignore[no-any-return]


@settings(max_examples=300, deadline=None)
@given(st.lists(cycle, min_size=1, max_size=80), st.integers(0, 600), st.integers(0, 200))
def test_permit_never_on_while_unsafe_and_only_after_a_valid_reset(
    cycles: list[tuple[int, str, bool, bool]], hold_ms: int, min_off_ms: int
) -> None:
    """The permit is never on in a cycle with an occupied stop zone or a fault, and turns on
    only on a reset press after clear_hold_ms of clear verdicts and min_off_ms off."""
    g = Guard(GuardConfig(clear_hold_ms=hold_ms, min_off_ms=min_off_ms), SHA)
    now_ms, prev_permit, prev_reset = 0, False, True
    clear_since_ms: int | None = None
    off_since_ms = 0
    for seq, (dt, kind, fault, reset) in enumerate(cycles):
        now_ms += dt
        unsafe = kind in ("stop", "stop2")
        if unsafe or kind == "none":
            clear_since_ms = None
        elif clear_since_ms is None:
            clear_since_ms = now_ms
        faults = frozenset({"camera_stalled"}) if fault else frozenset()
        out = g.step(now_ms * MS, seq, verdict(kind), faults, reset).output
        if unsafe or fault:
            assert not out.permit
        if out.permit and not prev_permit:
            assert reset, "permit returned without a reset press"
            assert not prev_reset, "permit returned on a held reset input"
            assert clear_since_ms is not None
            assert now_ms - clear_since_ms >= hold_ms
            assert now_ms - off_since_ms >= min_off_ms
        if prev_permit and not out.permit:
            off_since_ms = now_ms
        prev_permit, prev_reset = out.permit, reset


def test_the_guard_does_no_io_it_returns_its_events() -> None:
    """The guard logs nothing itself: a trip comes back as events with the decision, for the
    loop to tell after its write (a logger inside the guard would put I/O on the trip path)."""
    g, t = started()
    with capture_logs() as logs:
        step = g.step((t + 10) * MS, 3, hits(stop=True))
    assert [(e.name, e.level) for e in step.events] == [
        ("zone_entered", "info"),
        ("trip", "warning"),
    ]
    assert named(step.events, "trip")[0]["zones"] == ["press"]
    assert logs == []


def test_a_press_that_began_before_the_trip_does_not_reset_it() -> None:
    """A reset answers a stop: a press held down when the trip came (released after, inside its
    window) is refused, so the permit never rises on a press nobody made after the stop."""
    g, t = started()
    g.step((t + 1000) * MS, 3, CLEAR, faults=frozenset({"plc_tripped"}))  # the trip
    g.step((t + 1600) * MS, 4, CLEAR)
    early = g.step((t + 2000) * MS, 5, CLEAR, reset=True, pressed_after_ns=(t + 990) * MS)
    assert not early.output.permit
    assert [e["reason"] for e in named(early.events, "reset_refused")] == ["pressed_before_trip"]
    g.step((t + 2010) * MS, 6, CLEAR)  # released
    late = g.step((t + 2500) * MS, 7, CLEAR, reset=True, pressed_after_ns=(t + 2050) * MS)
    assert late.output.permit
