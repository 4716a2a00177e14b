"""Stop monitoring (EDM), pure: after a permit OFF acknowledged, the PLC's latched status and
standstill must follow within their bounds, judged on input samples with an injected clock."""

from __future__ import annotations

import pytest

from plantvision.loop.edm import StopMonitor, stop_bounds
from plantvision.plc.values import PlcInputs

MS = 1_000_000
BOUNDS = stop_bounds(stopping_time_ms=200, plc_scan_ms=10)  # latch 20 ms, standstill 260 ms


def sample(t_ms: float, latched: bool | None = True, stopped: bool | None = False, *,
           reset: bool = False, maintenance: bool | None = False) -> PlcInputs:  # fmt: skip
    t = int(t_ms * MS)
    return PlcInputs(
        reset=reset, machine_latched=latched, machine_stopped=stopped,
        maintenance_reset=maintenance, t_sample_ns=t, t_read_ns=t + MS,
    )  # fmt: skip


def tripped(monitor: StopMonitor | None = None) -> StopMonitor:
    """A monitor that saw the permit ON, then OFF sent at 0 and acknowledged at 1 ms."""
    m = monitor or StopMonitor(BOUNDS)
    m.wrote(True, -50 * MS, -49 * MS)
    m.wrote(False, 0, 1 * MS)
    return m


def events(notes: list[tuple[str, str, dict[str, object]]]) -> list[str]:
    return [n[1] for n in notes]


def test_the_bounds_are_stated_from_the_scan_and_the_stopping_time() -> None:
    """latch: 2 x scan; standstill: stopping time + scan + max(50 ms, 10 %)."""
    assert (BOUNDS.latch_ms, BOUNDS.standstill_ms) == (20, 260)
    assert stop_bounds(1000, 10).standstill_ms == 1110


def test_a_stop_that_latches_and_stands_still_in_time_is_measured() -> None:
    """Latched at once, standstill at 180 ms: no fault; the stop time is logged."""
    m = tripped()
    assert m.sample(sample(5), None) == []
    notes = m.sample(sample(180, stopped=True), None)
    assert events(notes) == ["stop_measured"]
    assert (notes[0][2]["stop_ms"], notes[0][2]["stop_ms_min"]) == (181.0, 4.0)
    assert not notes[0][2]["exceeds_stopping_time"]
    assert m.fault is None


@pytest.mark.parametrize(
    ("samples", "reason"),
    [
        ([sample(5, latched=False), sample(21, latched=False)], "no_latch"),
        ([sample(5), sample(200), sample(262)], "no_standstill"),
    ],
)
def test_a_miss_is_a_latched_fault(samples: list[PlcInputs], reason: str) -> None:
    """A sample taken after the bound that still shows the machine unlatched (or moving) is a
    miss: `stop_unconfirmed`, latched."""
    m = tripped()
    notes = [n for s in samples for n in m.sample(s, None)]
    assert "stop_unconfirmed" in events(notes)
    assert m.fault == reason
    m.sample(sample(1000, stopped=True), None)
    assert m.fault == reason


def test_a_late_poller_is_no_miss() -> None:
    """Judged on samples, not on a timer: a first sample after the bound that shows the machine
    latched and still is fine, however late it comes."""
    m = tripped()
    assert events(m.sample(sample(5000, stopped=True), None)) == ["stop_measured"]
    assert m.fault is None


def test_a_reset_press_counts_as_the_latch_seen() -> None:
    """The PLC clears its latch only on a reset at standstill: a quick operator's press before
    the box's first sample is no miss."""
    m = tripped()
    assert m.sample(sample(30, latched=False, reset=True), None) == []
    m = tripped()
    assert m.sample(sample(30, latched=False), 10 * MS) == []
    assert m.fault is None


def test_only_a_maintenance_reset_edge_clears_the_fault() -> None:
    """A plain reset clears nothing; a maintenance key held since before does not either; its
    rising edge clears the fault."""
    m = tripped()
    m.sample(sample(5, latched=False, maintenance=True), None)  # the key held since power-up
    m.sample(sample(30, latched=False, maintenance=True), None)
    m.sample(sample(40, latched=False, reset=True, maintenance=True), 10 * MS)
    assert m.fault == "no_latch"
    m.sample(sample(40, stopped=True, maintenance=False), 10 * MS)  # latched and still now
    notes = m.sample(sample(50, stopped=True, maintenance=True), 10 * MS)
    assert events(notes) == ["maintenance_reset"]
    assert m.fault is None


def test_unmapped_inputs_are_not_monitored_and_unacknowledged_writes_do_not_arm() -> None:
    """No latched or standstill input: nothing to judge. A permit OFF that was not acknowledged
    (link lost) arms nothing; the OFF acknowledged after the link healed is satisfied by a
    standstill (the PLC may have tripped on its watchdog and been reset meanwhile). The next
    ON->OFF arms again and needs the latch."""
    m = tripped()
    assert m.sample(sample(5000, latched=None, stopped=None), None) == []
    m = StopMonitor(BOUNDS)
    m.wrote(True, 0, 1)
    m.sample(sample(1, latched=False), None)  # running under the permit
    m.wrote(False, 2, None)
    assert m.sample(sample(5000, latched=False), None) == []
    m.wrote(False, 6000 * MS, 6001 * MS)
    assert events(m.sample(sample(6100, latched=False, stopped=True), None)) == ["stop_measured"]
    m.wrote(True, 7000 * MS, 7001 * MS)
    m.wrote(False, 8000 * MS, 8001 * MS)
    assert m.sample(sample(8100, latched=False), None) != []


def test_a_stop_commanded_through_a_link_loss_is_checked_once_the_link_returns() -> None:
    """Permit ON acknowledged, the OFF lost with the link, the tripped image acknowledged after
    it heals: the PLC had the permit ON when the box last knew, so it must show the stop now.
    Unlatched and moving is a miss; unlatched at standstill is not (the PLC may have tripped on
    its watchdog and been reset at the machine while the box could not see the press)."""
    m = StopMonitor(BOUNDS)
    m.wrote(True, 0, 1 * MS)
    m.wrote(False, 2 * MS, None)  # lost
    m.wrote(False, 6000 * MS, 6001 * MS)  # the reconnect's tripped image
    m.sample(sample(6010, latched=False), None)
    assert events(m.sample(sample(6030, latched=False), None)) == ["stop_unconfirmed"]
    assert m.fault == "no_latch"
    m = StopMonitor(BOUNDS)
    m.wrote(True, 0, 1 * MS)
    m.sample(sample(1, latched=False), None)  # running under the permit
    m.wrote(False, 2 * MS, None)
    m.wrote(False, 6000 * MS, 6001 * MS)
    m.sample(sample(6030, latched=False, stopped=True), None)
    assert m.fault is None


def test_a_maintenance_reset_clears_only_a_machine_held_still() -> None:
    """The key clears the lockout only when the latest sample shows the machine held: standing
    still where a standstill input exists, else latched. A lockout cleared on a machine still
    moving would let the box permit a machine it could not stop."""
    m = tripped()
    m.sample(sample(5, latched=False), None)
    m.sample(sample(30, latched=False), None)
    assert m.fault == "no_latch"
    for moving in (sample(40, latched=False, maintenance=True),
                   sample(60, latched=True, maintenance=True),
                   sample(80, latched=False, stopped=None, maintenance=True)):  # fmt: skip
        assert events(m.sample(moving, None)) == ["maintenance_reset_refused"]
        m.sample(sample(moving.t_sample_ns / MS + 5, maintenance=False), None)
    assert m.fault == "no_latch"
    still = sample(100, latched=False, stopped=True, maintenance=True)  # reset at standstill
    assert events(m.sample(still, None)) == ["maintenance_reset"]
    assert m.fault is None


def test_a_held_reset_level_is_not_the_latch_seen() -> None:
    """Only an accepted press counts as the latch seen: a reset input held (bridged, stuck) must
    not stand in for the PLC's latch. While it is held the check waits; once released without an
    accepted press, an unlatched sample after the bound is a miss."""
    m = tripped()
    assert m.sample(sample(30, latched=False, stopped=True, reset=True), None) != []  # measured
    assert m.sample(sample(1500, latched=False, stopped=True, reset=True), None) == []
    assert events(m.sample(sample(1520, latched=False, stopped=True), None)) == ["stop_unconfirmed"]
    assert m.fault == "no_latch"


def test_a_stuck_reset_input_does_not_hold_the_latch_check_off() -> None:
    """A reset held beyond its window is stuck, no press: its release proves nothing, so the
    check does not wait for it (review 5: the deferral waited as long as the input stuck)."""
    m = tripped()
    m.sample(sample(30, latched=False, stopped=True, reset=True), None, reset_stuck=True)
    assert m.fault == "no_latch"


def test_a_held_reset_defers_the_latch_check_at_most_the_reset_window() -> None:
    """Held longer than the latch bound plus reset_max_ms (2 s) it can be no press any more."""
    m = tripped()  # OFF acknowledged at 1 ms, latch bound 20 ms
    assert m.sample(sample(2000, latched=False, stopped=True, reset=True), None) != []  # measured
    assert m.fault is None
    assert events(m.sample(sample(2030, latched=False, stopped=True, reset=True), None)) == [
        "stop_unconfirmed"
    ]


def test_a_new_stop_before_standstill_keeps_the_first_bound() -> None:
    """Permit OFF, then ON and OFF again before the machine stood still: the standstill bound
    still runs from the first OFF (re-arming would let quick resets postpone no_standstill for
    ever while the machine coasts)."""
    m = tripped()  # OFF acknowledged at 1 ms; standstill bound 260 ms
    m.sample(sample(5), None)
    m.wrote(True, 200 * MS, 201 * MS)
    m.wrote(False, 220 * MS, 221 * MS)
    assert events(m.sample(sample(270), None)) == ["stop_unconfirmed"]
    assert m.fault == "no_standstill"


def test_the_latch_is_timed_from_the_latest_off() -> None:
    """The second OFF's latch bound runs from that OFF: a sample 4 ms after it is no miss."""
    m = tripped()
    m.sample(sample(5), None)
    m.wrote(True, 200 * MS, 201 * MS)
    m.wrote(False, 220 * MS, 221 * MS)
    assert m.sample(sample(225, latched=False), None) == []
    assert events(m.sample(sample(245, latched=False), None)) == ["stop_unconfirmed"]
    assert m.fault == "no_latch"


def test_a_stop_written_after_the_box_stood_still_is_checked_like_one_after_a_loss() -> None:
    """box_sigstop: the box froze, the PLC's watchdog stopped the machine and an operator reset it
    at the machine while the box could not see. The OFF the box writes on waking (after a gap in
    its writes) finds the PLC unlatched at standstill: no miss (a held press proves nothing, but
    the standstill does). Unlatched and moving is still a miss."""
    for stopped, fault in ((True, None), (False, "no_latch")):
        m = StopMonitor(BOUNDS)
        m.wrote(True, 0, 1 * MS)
        m.sample(sample(1, latched=False), None)  # running under the permit
        m.wrote(False, 800 * MS, 801 * MS, unseen=True)
        m.sample(sample(830, latched=False, stopped=stopped, reset=True), None)
        m.sample(sample(850, latched=False, stopped=stopped), None)
        assert m.fault == fault


def test_a_stop_the_plc_made_first_has_shown_its_latch() -> None:
    """plc_replay: the PLC latched while the box permitted (its own trip), a reset press cleared
    it at standstill, then the box's OFF (plc_tripped) found it unlatched, the press held across
    that OFF. The PLC had shown its latch after the permit rose: no miss. Without that latch
    sample, the same samples are a miss."""
    for latched_first, fault in ((True, None), (False, "no_latch")):
        m = StopMonitor(BOUNDS)
        m.wrote(True, 0, 1 * MS)
        m.sample(sample(10, latched=latched_first, stopped=True), None)
        m.wrote(False, 60 * MS, 61 * MS)
        m.sample(sample(70, latched=False, stopped=True, reset=True), None)
        m.sample(sample(400, latched=False, stopped=True), 30 * MS)  # began before the OFF
        assert m.fault == fault


def test_standstill_stands_in_for_the_latch_only_for_a_machine_seen_moving() -> None:
    """review4: a deaf PLC with a ready machine that never moved, then one slow inference: the
    OFF after the gap found it unlatched at standstill and passed. A machine that never moved
    under the permit proves nothing: that is a miss. And a gap while the permit was OFF arms
    nothing (an idle box is never locked out by a slow inference)."""
    m = StopMonitor(BOUNDS)
    m.wrote(True, 0, 1 * MS)
    m.sample(sample(1, latched=False, stopped=True), None)  # ready, never started
    m.wrote(False, 800 * MS, 801 * MS, unseen=True)
    m.sample(sample(830, latched=False, stopped=True), None)
    assert m.fault == "no_latch"
    idle = StopMonitor(BOUNDS)
    idle.wrote(False, 0, 1 * MS)
    idle.wrote(False, 800 * MS, 801 * MS, unseen=True)
    assert idle.sample(sample(830, latched=False), None) == []
    assert idle.fault is None
