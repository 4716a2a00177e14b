"""The guard's promises at their edges: what a refused press says, which state the status page
shows, the boundaries of the press-after-trip rule, and what each event tells."""

from __future__ import annotations

from typing import Any

from plantvision.guard.latch import Guard, GuardConfig, GuardEvent, GuardState
from tests.test_guard import CLEAR, MS, hits

SHA = "cd" * 32


def guard(**cfg: int) -> Guard:
    return Guard(GuardConfig(**cfg), SHA)


def fields(events: tuple[GuardEvent, ...], name: str) -> list[dict[str, Any]]:
    return [e.fields() for e in events if e.name == name]


def running() -> Guard:
    """Powered up at 0, reset at 600 ms, the button released at 610 ms."""
    g = guard()
    g.step(0, 0, CLEAR)
    assert g.step(600 * MS, 1, CLEAR, reset=True).output.permit
    g.step(610 * MS, 2, CLEAR)
    return g


def test_a_reset_input_high_at_power_up_is_no_press_even_with_no_hold_times() -> None:
    """With clear hold and minimum off time both 0 nothing else would refuse it: the level
    itself must not count as a press."""
    g = guard(clear_hold_ms=0, min_off_ms=0)
    for t in range(0, 100, 10):
        assert not g.step(t * MS, t, CLEAR, reset=True).output.permit
    g.step(100 * MS, 100, CLEAR)
    assert g.step(110 * MS, 101, CLEAR, reset=True).output.permit  # a real press


def test_a_refused_press_names_its_reason_zone_cause_and_what_blocked_it() -> None:
    g = running()
    g.step(700 * MS, 3, hits(stop2=True))  # trip in 'feed'
    g.step(800 * MS, 4, hits(stop=True))  # 'feed' clear, 'press' occupied
    step = g.step(900 * MS, 5, hits(stop=True), reset=True)
    [refused] = fields(step.events, "reset_refused")
    assert refused == {
        "cause": "stop_zone",
        "zone": "press",  # the zone blocking the reset, not the one that tripped
        "seq": 5,
        "reason": "stop_zone_occupied",
        "zones": ["press"],
        "faults": [],
        "zones_sha256": SHA,
    }


def test_a_press_during_a_fault_is_refused_as_health_fault_naming_the_fault() -> None:
    g = running()
    g.step(700 * MS, 3, CLEAR, faults=frozenset({"camera_stalled"}))
    step = g.step(1500 * MS, 4, CLEAR, faults=frozenset({"camera_stalled"}), reset=True)
    [refused] = fields(step.events, "reset_refused")
    assert (refused["reason"], refused["faults"], refused["cause"]) == (
        "health_fault",
        ["camera_stalled"],
        "camera_stalled",
    )


def test_a_press_without_a_verdict_is_refused_as_no_clear_verdict() -> None:
    g = running()
    g.step(700 * MS, 3, hits(stop=True))
    step = g.step(1500 * MS, 4, None, reset=True)
    assert [e["reason"] for e in fields(step.events, "reset_refused")] == ["no_clear_verdict"]


def test_the_state_is_ready_to_reset_only_when_a_press_would_be_accepted() -> None:
    """The status page's READY_TO_RESET must not promise a reset a fault would refuse."""
    g = running()
    g.step(700 * MS, 3, hits(stop=True))
    assert g.step(800 * MS, 4, CLEAR).output.state is GuardState.TRIPPED  # clear hold runs
    assert g.step(1300 * MS, 5, CLEAR).output.state is GuardState.READY_TO_RESET
    faulted = g.step(1400 * MS, 6, CLEAR, faults=frozenset({"black_frame"})).output
    assert (faulted.state, faulted.cause) == (GuardState.TRIPPED, "stop_zone")
    out = g.step(1500 * MS, 7, CLEAR).output
    assert (out.permit, out.state) == (False, GuardState.READY_TO_RESET)
    assert g.step(1510 * MS, 8, CLEAR, reset=True).output.state is GuardState.RUNNING


def test_the_warning_shows_while_tripped_too() -> None:
    g = guard()
    out = g.step(0, 0, hits(warn=True)).output
    assert (out.permit, out.warning) == (False, True)


def test_a_press_released_at_the_trip_instant_began_after_it() -> None:
    """`pressed_after_ns` is the last sample seen released: released at the very instant of
    the trip (here power-up at t = 0) means the press began after the stop, so it counts."""
    g = guard(clear_hold_ms=0, min_off_ms=0)
    g.step(0, 0, CLEAR)
    step = g.step(400 * MS, 1, CLEAR, reset=True, pressed_after_ns=0)
    assert step.output.permit
    g.step(410 * MS, 2, CLEAR)
    g.step(500 * MS, 3, CLEAR, faults=frozenset({"plc_lost"}))  # the trip at 500 ms
    g.step(510 * MS, 4, CLEAR)
    assert g.step(900 * MS, 5, CLEAR, reset=True, pressed_after_ns=500 * MS).output.permit


def test_the_reset_event_names_the_zone_and_cause_it_answered() -> None:
    g = running()
    g.step(700 * MS, 3, hits(stop2=True))
    g.step(800 * MS, 4, CLEAR)
    step = g.step(1500 * MS, 5, CLEAR, reset=True)
    [reset] = fields(step.events, "reset")
    assert (reset["zone"], reset["cause"]) == ("feed", "stop_zone")


def test_zone_events_say_the_zone_kind_and_the_cause_only_while_tripped() -> None:
    g = guard()
    powered = g.step(0, 0, hits(warn=True, stop=True))
    entered = {e["zone"]: e for e in fields(powered.events, "zone_entered")}
    assert (entered["press"]["kind"], entered["press"]["cause"]) == ("stop_zone", "start_interlock")
    assert entered["aisle"]["kind"] == "warn_zone"
    g = running()
    step = g.step(700 * MS, 3, hits(warn=True))
    [warn] = fields(step.events, "zone_entered")
    assert (warn["zone"], warn["kind"], warn["cause"]) == ("aisle", "warn_zone", None)


def test_warning_events_carry_the_cause_warn_zone() -> None:
    g = running()
    on = g.step(700 * MS, 3, hits(warn=True)).events
    off = g.step(1300 * MS, 4, CLEAR).events
    assert [(e["zone"], e["cause"]) for e in fields(on, "warning_on")] == [("aisle", "warn_zone")]
    assert [e["cause"] for e in fields(off, "warning_off")] == ["warn_zone"]


def tripped_then_clear(clear_at_ms: int) -> Guard:
    """No hold times; running from 600 ms, tripped by 'press' at 700 ms, clear from
    `clear_at_ms`."""
    g = guard(clear_hold_ms=0, min_off_ms=0)
    g.step(0, 0, CLEAR)
    assert g.step(600 * MS, 1, CLEAR, reset=True).output.permit
    g.step(610 * MS, 2, CLEAR)
    assert not g.step(700 * MS, 3, hits(stop=True)).output.permit
    g.step(clear_at_ms * MS, 4, CLEAR)
    return g


def reasons(step_events: tuple[GuardEvent, ...]) -> list[str]:
    return [f["reason"] for f in fields(step_events, "reset_refused")]


def test_a_press_released_before_the_zone_was_last_entered_is_refused() -> None:
    """Released at 1500 ms, the zone occupied again at 1600 ms and clear from 1700 ms: the press
    came before that entry (it waited for a PLC sample) and is not carried across it."""
    g = tripped_then_clear(800)
    g.step(1600 * MS, 5, hits(stop=True))
    g.step(1700 * MS, 6, CLEAR)
    step = g.step(1800 * MS, 7, CLEAR, reset=True, released_ns=1500 * MS)
    assert not step.output.permit
    assert reasons(step.events) == ["entered_since_press"]
    g.step(1810 * MS, 8, CLEAR)
    again = g.step(1900 * MS, 9, CLEAR, reset=True, released_ns=1850 * MS)
    assert again.output.permit  # a press after the entry is judged afresh


def test_a_press_released_at_the_instant_the_zone_was_first_seen_clear_is_accepted() -> None:
    """The boundary: clear since 1700 ms and released in the sample at 1700 ms is clear since
    the release."""
    g = tripped_then_clear(1700)
    assert g.step(1800 * MS, 5, CLEAR, reset=True, released_ns=1700 * MS).output.permit


def test_a_press_released_after_the_zone_cleared_is_accepted() -> None:
    g = tripped_then_clear(800)
    assert g.step(1800 * MS, 5, CLEAR, reset=True, released_ns=1500 * MS).output.permit


def test_an_earlier_refusal_reason_is_not_replaced_by_entered_since_press() -> None:
    """Minimum off time not yet met and the zone entered after the release: the first reason the
    person can act on (wait) is the one named."""
    g = guard(clear_hold_ms=0, min_off_ms=1000)
    g.step(0, 0, CLEAR)
    assert g.step(1100 * MS, 1, CLEAR, reset=True).output.permit
    g.step(1110 * MS, 2, CLEAR)
    g.step(1200 * MS, 3, hits(stop=True))  # trip: off until 2200 ms at least
    g.step(1300 * MS, 4, CLEAR)
    g.step(1600 * MS, 5, hits(stop=True))
    g.step(1700 * MS, 6, CLEAR)
    step = g.step(1800 * MS, 7, CLEAR, reset=True, released_ns=1500 * MS)
    assert reasons(step.events) == ["min_off_time"]


def test_a_blind_cycle_restarts_the_clear_hold_even_on_a_clear_verdict() -> None:
    """A cycle whose verdict stream had a gap or could not be trusted (the caller says `blind`)
    is no clear verdict for the hold: it counts again from the next one (review 5: a 3 s gap
    with no cycle at all counted as 3 s of clear)."""
    g = guard(clear_hold_ms=500, min_off_ms=0)
    g.step(0, 0, CLEAR)
    assert g.step(600 * MS, 1, CLEAR, reset=True).output.permit
    g.step(610 * MS, 2, CLEAR)
    g.step(700 * MS, 3, hits(stop=True))
    g.step(800 * MS, 4, CLEAR)
    g.step(3800 * MS, 5, CLEAR, faults=frozenset({"loop_stalled"}), blind=True)
    early = g.step(3850 * MS, 6, CLEAR, reset=True)
    assert reasons(early.events) == ["clear_hold"]
    g.step(3860 * MS, 7, CLEAR)
    assert g.step(4400 * MS, 8, CLEAR, reset=True).output.permit  # 550 ms after the gap
