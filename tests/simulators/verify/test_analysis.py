"""The verdicts from synthetic timelines: every deadline passes when kept and fails, by name and
by the right amount, when broken (planted failures)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plantvision.loop.deployment import SafetyModel
from plantvision.zones.geometry import CompiledZones
from simulators.verify.analysis import (
    FaultSpan,
    Limits,
    MachineEvent,
    Span,
    Timeline,
    Verdict,
    ZoneBound,
    analyse,
    run_spans,
)
from simulators.verify.report import ScenarioResult, verdict_table

MS = 1_000_000
LIMITS = Limits((ZoneBound("machine", 300.0, 1),), false_trips_max=0, tolerance_ms=100.0)


def ev(t_ms: float, running: bool, cause: str = "permit_off") -> MachineEvent:
    return MachineEvent(round(t_ms * MS), running, "" if running else cause)


def tl(
    machine: list[MachineEvent],
    occupied: list[tuple[float, float]] = (),  # type: ignore[assignment]
    faults: list[FaultSpan] = (),  # type: ignore[assignment]
    end_ms: float = 5000,
) -> Timeline:
    spans = [Span(round(a * MS), round(b * MS)) for a, b in occupied]
    return Timeline(0, round(end_ms * MS), {"machine": spans}, machine, faults)


def fault(start_ms: float, end_ms: float, safe: bool = True, deadline_ms: float = 500,
          recover_ms: float | None = None) -> FaultSpan:  # fmt: skip
    return FaultSpan("camera_stall", round(start_ms * MS), round(end_ms * MS), safe, deadline_ms,
                     recover_ms)  # fmt: skip


RECOVER = fault(1000, 2000, recover_ms=1000)


def by_kind(verdicts: list[Verdict], kind: str) -> list[Verdict]:
    return [v for v in verdicts if v.kind == kind]


def test_runs_pair_starts_with_stops_and_stay_open_at_the_end() -> None:
    """Running spans come from start/stop pairs; a run still going at the end is not 'stopped'."""
    spans = run_spans([ev(100, True), ev(400, False), ev(900, True)], 2000 * MS)
    assert [(s.start_ns // MS, s.end_ns // MS, s.stopped) for s in spans] == [
        (100, 400, True),
        (900, 2000, False),
    ]


def test_zone_entry_stopped_in_time_passes_with_its_margin() -> None:
    """An entry at 1000 ms with the machine stopped at 1120 ms: 120 ms measured, 180 ms margin."""
    v = analyse(tl([ev(500, True), ev(1120, False)], [(1000, 2000)]), LIMITS)
    zone = by_kind(v, "zone")[0]
    assert zone.passed
    assert zone.measured == pytest.approx(120.0)
    assert zone.margin == pytest.approx(180.0)
    assert all(x.passed for x in v)


@pytest.mark.parametrize(
    ("machine", "occupied", "measured", "detail"),
    [
        # Planted: stopped 420 ms after entry against a 300 ms bound.
        ([ev(500, True), ev(1420, False)], [(1000, 2000)], 420.0, "LATE by 120.0 ms"),
        # Planted: the machine never stops while the zone is occupied.
        ([ev(500, True)], [(1000, 2000)], math.inf, "MISSED TRIP"),
        # Planted: a reset accepted while a person is still inside (500 ms after the entry, past
        # the 300 ms bound); the machine ran until 1850 ms, 850 ms after the entry.
        ([ev(500, True), ev(1100, False), ev(1500, True), ev(1850, False)], [(1000, 2500)],
         850.0, "STARTED at 1500 ms with the zone occupied"),
    ],
)  # fmt: skip
def test_late_or_missed_zone_stop_fails_naming_the_zone(
    machine: list[MachineEvent], occupied: list[tuple[float, float]], measured: float, detail: str
) -> None:
    """A stop later than the zone bound (or none) fails the verdict that names that zone."""
    zone = by_kind(analyse(tl(machine, occupied), LIMITS), "zone")[0]
    assert not zone.passed
    assert "zone machine" in zone.deadline
    assert zone.measured == pytest.approx(measured)
    assert detail in zone.detail


def test_entry_while_stopped_counts_as_held_but_not_toward_min_entries() -> None:
    """An entry while the machine stands still needs no response; min_entries then fails."""
    v = analyse(tl([ev(3000, True)], [(1000, 2000)]), LIMITS)
    zone = by_kind(v, "zone")[0]
    assert not zone.passed
    assert zone.measured is None


def test_a_zone_never_entered_reads_not_exercised_with_the_reason() -> None:
    """No entry at all: the row passes nothing, it says 'not exercised' (and why, if given)."""
    limits = Limits((ZoneBound("machine", 300.0, 0, "the worker stays on the left"),))
    zone = by_kind(analyse(tl([ev(500, True)]), limits), "zone")[0]
    assert (zone.passed, zone.exercised, zone.status) == (True, False, "not exercised")
    assert zone.detail == "not exercised: no entry: the worker stays on the left"
    result = ScenarioResult("s", "", [[zone]], [{}], SafetyModel(), CompiledZones(()))
    assert "not exercised" in verdict_table([result]).splitlines()[1]
    assert "PASS" not in verdict_table([result]).splitlines()[1]


FREEZE = fault(1000, 2500, deadline_ms=500)  # the permit must be off by 1500 ms


@pytest.mark.parametrize(
    ("machine", "occupied", "passed", "detail"),
    [
        # Walks in at 1100 ms while the camera is frozen: the fault trips at 1450 ms, 350 ms
        # after the entry, inside the fault's bound (off by 1500 ms), though past 300 ms.
        ([ev(500, True), ev(1450, False), ev(3000, True)], [(1100, 2700)], True,
         "during fault camera_stall: stopped 350 ms after the entry, bound 400 ms"),
        # Planted: the fault's bound ends at 1500 ms, the machine ran until 1550 ms.
        ([ev(500, True), ev(1550, False), ev(3000, True)], [(1100, 2700)], False,
         "LATE by 50.0 ms (during fault camera_stall)"),
        # Walks in at 1700 ms: the permit is already off from the fault and stays off until
        # the person has left and a reset came.
        ([ev(500, True), ev(1300, False), ev(3000, True)], [(1700, 2700)], True,
         "1 entry while stopped (during fault camera_stall), held stopped until clear"),
        # Planted: the box recovers from the fault blind to the person and releases at 2600 ms
        # (900 ms after the entry), then trips on seeing the person.
        ([ev(500, True), ev(1300, False), ev(2600, True), ev(2650, False)], [(1700, 2700)],
         False, "STARTED at 2600 ms with the zone occupied"),
    ],
)  # fmt: skip
def test_entry_during_a_fault(
    machine: list[MachineEvent], occupied: list[tuple[float, float]], passed: bool, detail: str
) -> None:
    """A person who walks in while a fault lasts: the permit was already off from the fault, or
    goes off within the fault's bound, and stays off until the person has left."""
    limits = Limits((ZoneBound("machine", 300.0),), tolerance_ms=100.0)
    zone = by_kind(analyse(tl(machine, occupied, [FREEZE]), limits), "zone")[0]
    assert (zone.passed, zone.exercised) == (passed, True)
    assert detail in zone.detail


def test_never_running_fails_start_up() -> None:
    """A box that never lets the machine run would pass every bound vacuously: start-up fails."""
    v = analyse(tl([]), Limits())
    assert not by_kind(v, "startup")[0].passed


@pytest.mark.parametrize(
    ("machine", "f", "passed", "detail"),
    [
        ([ev(500, True), ev(1300, False, "watchdog")], fault(1000, 2000), True, "via watchdog"),
        # Planted: safe state reached 700 ms after the fault, bound 500.
        ([ev(500, True), ev(1700, False)], fault(1000, 2000), False, "LATE by 200.0 ms"),
        # Planted: never safe.
        ([ev(500, True)], fault(1000, 2000), False, "NEVER SAFE"),
        # Planted: restarted while the fault still lasts.
        ([ev(500, True), ev(1100, False), ev(1500, True)], fault(1000, 2000), False, "RESTARTED"),
        # Planted: the machine was not running, so the fault proved nothing.
        ([ev(3000, True)], fault(1000, 2000), False, "NOT EXERCISED"),
        # Recovery demanded and achieved / not achieved.
        ([ev(500, True), ev(1100, False), ev(2600, True)], RECOVER, True, ""),
        ([ev(500, True), ev(1100, False), ev(3600, True)], RECOVER, False, "NOT RUNNING again"),
    ],
)  # fmt: skip
def test_fault_to_safe_state(
    machine: list[MachineEvent], f: FaultSpan, passed: bool, detail: str
) -> None:
    """A fault must stop a running machine within its bound and keep it stopped while it lasts."""
    v = by_kind(analyse(tl(machine, faults=[f]), LIMITS), "fault")[0]
    assert v.passed is passed
    assert "fault camera_stall" in v.deadline
    assert detail in v.detail


def test_unexplained_stop_is_a_false_trip() -> None:
    """A stop with nobody in a zone and no fault is a false trip; one near an entry is not."""
    machine = [ev(500, True), ev(1000, False), ev(1500, True), ev(3050, False)]
    v = analyse(tl(machine, [(3000, 3500)]), LIMITS)
    trips = by_kind(v, "false_trips")[0]
    assert not trips.passed
    assert trips.measured == 1.0
    assert "1000" in trips.detail


def test_stop_during_a_tolerated_fault_fails_it_and_counts_as_false_trip() -> None:
    """A fault the box must ride out (a small slowdown) may not trip the machine."""
    f = fault(1000, 2000, safe=False)
    v = analyse(tl([ev(500, True), ev(1200, False)], faults=[f]), LIMITS)
    assert not by_kind(v, "fault")[0].passed
    assert not by_kind(v, "false_trips")[0].passed


def test_stop_caused_by_a_safe_fault_is_not_a_false_trip() -> None:
    v = analyse(tl([ev(500, True), ev(1200, False)], faults=[fault(1000, 2000)]), LIMITS)
    assert by_kind(v, "false_trips")[0].passed


@given(
    shift_ms=st.integers(0, 10**7),
    entry_ms=st.integers(600, 3000),
    response_ms=st.integers(0, 1000),
)
def test_verdicts_do_not_depend_on_the_clock_origin(
    shift_ms: int, entry_ms: int, response_ms: int
) -> None:
    """Moving every timestamp by the same amount changes no verdict and no measured value."""

    def verdicts(s: int) -> list[tuple[bool, float | None]]:
        t = Timeline(
            s * MS,
            (s + 5000) * MS,
            {"machine": [Span((s + entry_ms) * MS, (s + entry_ms + 2000) * MS)]},
            [ev(s + 500, True), ev(s + entry_ms + response_ms, False)],
        )
        return [(v.passed, v.measured) for v in analyse(t, LIMITS)]

    base = verdicts(0)
    assert verdicts(shift_ms) == base
    assert base[1][0] is (response_ms <= 300)


def _restart(permit: list[tuple[float, bool]], presses: list[float]) -> Verdict:
    t = Timeline(0, 5000 * MS, {}, [], (), [(round(a * MS), p) for a, p in permit],
                 [round(p * MS) for p in presses])  # fmt: skip
    (v,) = by_kind(analyse(t, Limits()), "restart")
    return v


def test_the_permit_rises_only_after_a_press_made_since_it_fell() -> None:
    """Restart interlock at the PLC: a rise needs a press after the last fall (or power-up);
    a press while running, before the fall, re-arms nothing."""
    ok = _restart([(0, False), (300, True), (1000, False), (1600, True)], [250, 1500])
    assert ok.passed
    assert ok.exercised
    assert "2 rises" in ok.detail
    early = _restart([(0, False), (300, True), (1000, False), (1600, True)], [250, 900])
    assert not early.passed
    assert "ROSE WITHOUT A PRESS at 1600 ms" in early.detail
    unpressed = _restart([(0, False), (300, True)], [])
    assert not unpressed.passed


def test_no_restart_row_without_recorded_presses() -> None:
    assert by_kind(analyse(tl([ev(100, True)]), LIMITS), "restart") == []


def _held(machine: list[MachineEvent]) -> Verdict:
    f = FaultSpan("camera_stall", 1000 * MS, 2000 * MS, False, 500, None, held=True)
    (v,) = by_kind(analyse(tl(machine, faults=[f]), Limits()), "fault")
    return v


def test_a_held_fault_fails_on_a_start_while_it_lasts() -> None:
    """expect: held: stopped at its start, no start until its end."""
    assert _held([ev(100, True), ev(500, False), ev(2500, True)]).passed
    started = _held([ev(100, True), ev(500, False), ev(1300, True)])
    assert not started.passed
    assert "STARTED during the fault at +300 ms" in started.detail
    running = _held([ev(100, True)])
    assert not running.passed
    assert "NOT EXERCISED" in running.detail
