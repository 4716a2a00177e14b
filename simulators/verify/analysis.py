"""Deadline verdicts from a run's timelines. Pure: plain values in, verdicts out, no clock.

Inputs are what the verifier recorded, all in one monotonic-ns time base:
- `occupied`: per stop zone, the spans during which a worker's anchor was truly inside (scene
  truth + the zone file);
- `machine`: the simulated machine's transitions as the PLC saw them (it runs on a permit write
  with a fresh heartbeat and a reset; it stops on a permit-off write or a heartbeat watchdog);
- `faults`: the injected faults' spans and what each must cause.

The safe state is the machine not running: a permit-off write acknowledged at the PLC, or the
PLC's watchdog tripping a machine whose box went silent. Every verdict names its deadline, the
worst value measured, and the margin left (limit - worst; negative when late).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

_NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class Span:
    start_ns: int
    end_ns: int


@dataclass(frozen=True, slots=True)
class MachineEvent:
    """The machine started running (`running`) or stopped (`cause`: permit_off, watchdog...)."""

    t_ns: int
    running: bool
    cause: str = ""


@dataclass(frozen=True, slots=True)
class RunSpan:
    """A span of running; `stopped` False when it was still running at the end of the run."""

    start_ns: int
    end_ns: int
    stopped: bool
    cause: str = ""


@dataclass(frozen=True, slots=True)
class FaultSpan:
    label: str
    start_ns: int
    end_ns: int
    expect_safe: bool
    deadline_ms: float
    recover_ms: float | None = None


@dataclass(frozen=True, slots=True)
class ZoneBound:
    zone: str
    response_ms: float
    min_entries: int = 0


@dataclass(frozen=True)
class Timeline:
    t_start_ns: int
    t_end_ns: int
    occupied: Mapping[str, Sequence[Span]]
    machine: Sequence[MachineEvent]
    faults: Sequence[FaultSpan] = ()


@dataclass(frozen=True)
class Limits:
    zones: Sequence[ZoneBound] = ()
    false_trips_max: int = 0
    tolerance_ms: float = 250.0


@dataclass(frozen=True)
class Verdict:
    """One deadline's outcome. `measured`/`margin` are ms (counts for false trips)."""

    deadline: str
    kind: str
    limit: float
    measured: float | None
    passed: bool
    detail: str = ""
    samples: tuple[float, ...] = field(default=())

    @property
    def margin(self) -> float | None:
        return None if self.measured is None else self.limit - self.measured


def run_spans(events: Sequence[MachineEvent], t_end_ns: int) -> list[RunSpan]:
    """Running spans from transitions (sorted by time); events after `t_end_ns` are ignored."""
    spans: list[RunSpan] = []
    start: int | None = None
    for ev in sorted(events, key=lambda e: e.t_ns):
        if ev.t_ns > t_end_ns:
            break
        if ev.running and start is None:
            start = ev.t_ns
        elif not ev.running and start is not None:
            spans.append(RunSpan(start, ev.t_ns, True, ev.cause))
            start = None
    if start is not None:
        spans.append(RunSpan(start, t_end_ns, False))
    return spans


def _ms(ns: int) -> float:
    return ns / _NS_PER_MS


def zone_verdict(tl: Timeline, runs: Sequence[RunSpan], bound: ZoneBound) -> Verdict:
    """Every entry into the zone while the machine ran must stop it within the bound."""
    name = f"zone {bound.zone}: entry -> stopped <= {bound.response_ms:g} ms"
    limit_ns = bound.response_ms * _NS_PER_MS
    responses: list[float] = []
    missed: list[float] = []
    for occ in tl.occupied.get(bound.zone, ()):
        for r in runs:
            if not (r.start_ns < occ.end_ns and r.end_ns >= occ.start_ns):
                continue
            s = max(occ.start_ns, r.start_ns)
            if r.stopped:
                responses.append(_ms(r.end_ns - s))
            elif tl.t_end_ns - s > limit_ns:
                missed.append(_ms(s - tl.t_start_ns))
            # else: entered too close to the end of the run to judge either way
    n = len(responses) + len(missed)
    if missed:
        at = ", ".join(f"{t:.0f}" for t in missed)
        why = f"MISSED TRIP: machine ran on after entries at {at} ms"
        return Verdict(name, "zone", bound.response_ms, math.inf, False, why, tuple(responses))
    if not responses:
        ok = bound.min_entries == 0
        return Verdict(name, "zone", bound.response_ms, None, ok, "no entry while running")
    worst = max(responses)
    passed = worst <= bound.response_ms and n >= bound.min_entries
    detail = f"{n} entr{'y' if n == 1 else 'ies'}, worst {worst:.1f} ms"
    if n < bound.min_entries:
        detail += f"; expected at least {bound.min_entries}"
    elif worst > bound.response_ms:
        detail += f": LATE by {worst - bound.response_ms:.1f} ms"
    return Verdict(name, "zone", bound.response_ms, worst, passed, detail, tuple(responses))


def fault_verdict(tl: Timeline, runs: Sequence[RunSpan], f: FaultSpan, limits: Limits) -> Verdict:
    """A `safe` fault stops the running machine within its deadline and keeps it stopped;
    a tolerated one causes no unexplained stop."""
    at_ms = _ms(f.start_ns - tl.t_start_ns)
    running = [r for r in runs if r.start_ns <= f.start_ns < r.end_ns]
    if not f.expect_safe:
        name = f"fault {f.label} @{at_ms:.0f} ms: ridden out without a trip"
        window = Span(f.start_ns, f.end_ns + int(limits.tolerance_ms * _NS_PER_MS))
        stops = false_trips(tl, runs, limits, window)
        ok = bool(running) and not stops
        at = ", ".join(f"{t:.0f}" for t in stops)
        why = f"stopped at {at} ms" if stops else "no trip"
        if not running:
            why = "NOT EXERCISED: machine was not running when the fault began"
        return Verdict(name, "fault", 0, float(len(stops)), ok, why)
    name = f"fault {f.label} @{at_ms:.0f} ms -> stopped <= {f.deadline_ms:g} ms"
    if not running:
        return Verdict(name, "fault", f.deadline_ms, None, False,
                       "NOT EXERCISED: machine was not running when the fault began")  # fmt: skip
    r = running[0]
    if not r.stopped:
        return Verdict(name, "fault", f.deadline_ms, math.inf, False,
                       "NEVER SAFE: machine ran on to the end of the run")  # fmt: skip
    took = _ms(r.end_ns - f.start_ns)
    problems = []
    if took > f.deadline_ms:
        problems.append(f"LATE by {took - f.deadline_ms:.1f} ms")
    restarts = [_ms(x.start_ns - f.start_ns) for x in runs if f.start_ns < x.start_ns < f.end_ns]
    if restarts:
        problems.append(f"RESTARTED during the fault at +{restarts[0]:.0f} ms")
    if f.recover_ms is not None and not any(
        f.end_ns <= x.start_ns <= f.end_ns + f.recover_ms * _NS_PER_MS for x in runs
    ):
        problems.append(f"NOT RUNNING again within {f.recover_ms:g} ms of the fault's end")
    detail = f"{took:.1f} ms via {r.cause}" + ("; " + "; ".join(problems) if problems else "")
    return Verdict(name, "fault", f.deadline_ms, took, not problems, detail)


def _explained(tl: Timeline, t_ns: int, after_ns: int, tol_ns: int) -> bool:
    for spans in tl.occupied.values():
        if any(o.start_ns - tol_ns <= t_ns <= o.end_ns + after_ns for o in spans):
            return True
    return any(
        f.expect_safe and f.start_ns <= t_ns <= f.end_ns + int(f.deadline_ms * _NS_PER_MS)
        for f in tl.faults
    )


def false_trips(
    tl: Timeline, runs: Sequence[RunSpan], limits: Limits, within: Span | None = None
) -> list[float]:
    """Stops (ms from the start) explained by no true zone occupancy and no `safe` fault.

    A stop up to (largest zone bound + tolerance) after an occupancy ended, or up to the
    tolerance before it began, counts as caused by it: detector boxes are not pixel-exact at
    zone edges. A `safe` fault explains stops from its start to its end plus its deadline.
    """
    tol_ns = int(limits.tolerance_ms * _NS_PER_MS)
    slack_ms = max((b.response_ms for b in limits.zones), default=0.0)
    after_ns = tol_ns + int(slack_ms * _NS_PER_MS)
    out = []
    for r in runs:
        if not r.stopped or (within and not within.start_ns <= r.end_ns <= within.end_ns):
            continue
        if not _explained(tl, r.end_ns, after_ns, tol_ns):
            out.append(_ms(r.end_ns - tl.t_start_ns))
    return out


def analyse(tl: Timeline, limits: Limits) -> list[Verdict]:
    """All verdicts for one run: start-up, each zone bound, each fault, false trips."""
    runs = run_spans(tl.machine, tl.t_end_ns)
    out = [
        Verdict(
            "start-up: the machine ran after a reset", "startup", 0, None, bool(runs),
            "ran" if runs else "NEVER RAN: every other verdict would be vacuous",
        )
    ]  # fmt: skip
    out += [zone_verdict(tl, runs, b) for b in limits.zones]
    out += [fault_verdict(tl, runs, f, limits) for f in tl.faults]
    trips = false_trips(tl, runs, limits)
    detail = "none" if not trips else "at " + ", ".join(f"{t:.0f}" for t in trips) + " ms"
    out.append(
        Verdict(
            f"false trips <= {limits.false_trips_max}",
            "false_trips",
            float(limits.false_trips_max),
            float(len(trips)),
            len(trips) <= limits.false_trips_max,
            detail,
        )
    )
    return out
