"""Deadline verdicts from a run's timelines. Pure: plain values in, verdicts out, no clock.

Inputs are what the verifier recorded, all in one monotonic-ns time base:
- `occupied`: per stop zone, the spans during which a worker's anchor was truly inside (scene
  truth + the zone file);
- `machine`: the simulated machine's transitions as the PLC saw them (it runs on a permit write
  with a fresh heartbeat and a reset; it stops on a permit-off write or a heartbeat watchdog);
- `faults`: the injected faults' spans and what each must cause;
- `permit` and `presses`: the box's permit coil as the PLC received it, and the reset presses
  at the machine (the restart interlock: the permit rises only after a press).

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
    held: bool = False  # expect: held (stopped when it begins, no start while it lasts)
    lockout: bool = False  # a stop during the fault holds until its end (stop monitoring)


@dataclass(frozen=True, slots=True)
class ZoneBound:
    zone: str
    response_ms: float
    min_entries: int = 0
    no_entry_reason: str = ""  # why the scene never enters: the row reads "not exercised"


@dataclass(frozen=True)
class Timeline:
    t_start_ns: int
    t_end_ns: int
    occupied: Mapping[str, Sequence[Span]]
    machine: Sequence[MachineEvent]
    faults: Sequence[FaultSpan] = ()
    permit: Sequence[tuple[int, bool]] = ()  # (t_ns, permit) per write the PLC received
    presses: Sequence[int] | None = None  # reset presses (None: not recorded, no verdict)
    ready: Sequence[int] = ()  # when the PLC saw the machine ready: reset done, permit risen since


@dataclass(frozen=True)
class Limits:
    zones: Sequence[ZoneBound] = ()
    false_trips_max: int = 0
    tolerance_ms: float = 250.0
    expect_start: bool = True  # False: the operator never presses start; nothing may move


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
    exercised: bool = True  # False: nothing happened that could have failed it

    @property
    def status(self) -> str:
        """PASS, FAIL, or 'not exercised' for a row that passed only because nothing happened."""
        if not self.passed:
            return "FAIL"
        return "PASS" if self.exercised else "not exercised"

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


def _entry_limit_ms(tl: Timeline, bound: ZoneBound, entry_ns: int) -> tuple[float, str]:
    """The bound on one entry: the zone's, or, for a person walking in while a `safe` fault
    lasts (the camera frozen, the PLC gone), the fault's own bound when that ends later: the
    permit was already off from the fault, or goes off within the fault-detection bound."""
    limit, why = bound.response_ms, ""
    for f in tl.faults:
        if f.expect_safe and f.start_ns <= entry_ns <= f.end_ns:
            limit = max(limit, _ms(f.start_ns - entry_ns) + f.deadline_ms)
            why = f"during fault {f.label}"
    return limit, why


@dataclass
class _ZoneTally:
    responses: list[float] = field(default_factory=list)  # ms, entries into a running machine
    # Per response, the zone bound minus that entry's own bound: 0, or less during a fault.
    slack: list[float] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    missed: list[float] = field(default_factory=list)
    started: list[float] = field(default_factory=list)
    held: int = 0  # entries while the machine stood still, held stopped until they left
    held_in: list[str] = field(default_factory=list)  # the faults those entries came during
    during_fault: list[str] = field(default_factory=list)


def _tally_entry(tl: Timeline, runs: Sequence[RunSpan], bound: ZoneBound, occ: Span,
                 t: _ZoneTally) -> None:  # fmt: skip
    """Judge one occupancy: the machine is stopped from entry + bound until the person leaves.

    Each run overlapping the occupancy counts from the entry: entry -> that run's stop. A run
    that starts while the zone has been occupied for longer than the bound is a start with a
    person inside (a release the box must refuse): it fails whatever its length.
    """
    limit, why = _entry_limit_ms(tl, bound, occ.start_ns)
    overlapping = [r for r in runs if r.start_ns < occ.end_ns and r.end_ns >= occ.start_ns]
    if not overlapping:
        t.held += 1
        if why:
            t.held_in.append(why)
        return
    for r in overlapping:
        if _ms(r.start_ns - occ.start_ns) > limit:
            t.started.append(_ms(r.start_ns - tl.t_start_ns))
        if not r.stopped:
            if _ms(tl.t_end_ns - occ.start_ns) > limit:
                t.missed.append(_ms(max(occ.start_ns, r.start_ns) - tl.t_start_ns))
            continue  # else: entered too close to the end of the run to judge either way
        took = _ms(r.end_ns - occ.start_ns)
        t.responses.append(took)
        t.slack.append(bound.response_ms - limit)
        if why:
            t.during_fault.append(f"{why}: stopped {took:.0f} ms after the entry, bound "
                                  f"{limit:.0f} ms")  # fmt: skip
        if took > limit:
            t.late.append(f"LATE by {took - limit:.1f} ms" + (f" ({why})" if why else ""))


def zone_verdict(tl: Timeline, runs: Sequence[RunSpan], bound: ZoneBound) -> Verdict:
    """Every entry into the zone stops the machine within the bound and keeps it stopped until
    the person has left; an entry while stopped must hold it stopped. A zone the run never
    entered is 'not exercised', never a PASS that proves something."""
    name = f"zone {bound.zone}: entry -> stopped <= {bound.response_ms:g} ms"
    t = _ZoneTally()
    for occ in tl.occupied.get(bound.zone, ()):
        _tally_entry(tl, runs, bound, occ, t)
    n = len(t.responses) + len(t.missed)
    samples = tuple(t.responses)
    problems = list(t.late)
    if t.missed:
        at = ", ".join(f"{x:.0f}" for x in t.missed)
        problems.insert(0, f"MISSED TRIP: machine ran on after entries at {at} ms")
    if t.started:
        at = ", ".join(f"{x:.0f}" for x in t.started)
        problems.append(f"STARTED at {at} ms with the zone occupied")
    if n < bound.min_entries:
        problems.append(f"expected at least {bound.min_entries} entr"
                        f"{'y' if bound.min_entries == 1 else 'ies'} while running")  # fmt: skip
    if n + t.held == 0:
        why = f": {bound.no_entry_reason}" if bound.no_entry_reason else ""
        detail = "; ".join(problems) if problems else f"not exercised: no entry{why}"
        return Verdict(name, "zone", bound.response_ms, None, not problems, detail,
                       exercised=False)  # fmt: skip
    # The row's margin is the least any entry left under its own bound: an entry during a
    # fault counts as (its response minus the extra time the fault's bound grants).
    fair = [r + k for r, k in zip(t.responses, t.slack, strict=True)]
    worst = math.inf if t.missed else max(fair, default=None)
    parts = []
    if n:
        parts.append(f"{n} entr{'y' if n == 1 else 'ies'} while running")
    if t.responses:
        parts[0] += f", worst {max(t.responses):.1f} ms"
    if t.held:
        held_in = f" ({', '.join(t.held_in)})" if t.held_in else ""
        parts.append(f"{t.held} entr{'y' if t.held == 1 else 'ies'} while stopped{held_in}, "
                     "held stopped until clear")  # fmt: skip
    detail = "; ".join(parts + t.during_fault + problems)
    return Verdict(name, "zone", bound.response_ms, worst, not problems, detail, samples)


def _held_verdict(tl: Timeline, runs: Sequence[RunSpan], f: FaultSpan) -> Verdict:
    """The machine stood still when the fault began and did not start while it lasted."""
    at_ms = _ms(f.start_ns - tl.t_start_ns)
    name = f"fault {f.label} @{at_ms:.0f} ms: held stopped while it lasts"
    if any(r.start_ns <= f.start_ns < r.end_ns for r in runs):
        return Verdict(name, "fault", 0, None, False,
                       "NOT EXERCISED: machine was running when the fault began")  # fmt: skip
    starts = [_ms(r.start_ns - f.start_ns) for r in runs if f.start_ns < r.start_ns <= f.end_ns]
    if starts:
        return Verdict(name, "fault", 0, float(len(starts)), False,
                       f"STARTED during the fault at +{starts[0]:.0f} ms")  # fmt: skip
    return Verdict(name, "fault", 0, 0.0, True, "held stopped")


def fault_verdict(tl: Timeline, runs: Sequence[RunSpan], f: FaultSpan, limits: Limits) -> Verdict:
    """A `safe` fault stops the running machine within its deadline and keeps it stopped;
    a tolerated one causes no unexplained stop; a `held` one starts nothing."""
    if f.held:
        return _held_verdict(tl, runs, f)
    at_ms = _ms(f.start_ns - tl.t_start_ns)
    if f.lockout:
        return lockout_verdict(tl, runs, f)
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


def lockout_verdict(tl: Timeline, runs: Sequence[RunSpan], f: FaultSpan) -> Verdict:
    """A stop during the fault (e.g. a machine that coasts too long) locks the box out: the
    machine stays stopped to the fault's end however often the operator resets, and (with
    recover_ms) runs again within recover_ms of it (the maintenance reset, then reset, start)."""
    at_ms = _ms(f.start_ns - tl.t_start_ns)
    name = f"fault {f.label} @{at_ms:.0f} ms: stop locked out to the fault's end"
    stops = [r for r in runs if r.stopped and f.start_ns <= r.end_ns < f.end_ns]
    if not stops:
        return Verdict(name, "fault", 0, None, False,
                       "NOT EXERCISED: the machine did not stop during the fault")  # fmt: skip
    first = stops[0].end_ns
    problems = [f"RESTARTED at +{_ms(r.start_ns - f.start_ns):.0f} ms before the lockout's end"
                for r in runs if first < r.start_ns < f.end_ns]  # fmt: skip
    if f.recover_ms is not None and not any(
        f.end_ns <= x.start_ns <= f.end_ns + f.recover_ms * _NS_PER_MS for x in runs
    ):
        problems.append(f"NOT RUNNING again within {f.recover_ms:g} ms of the fault's end")
    held = _ms(f.end_ns - first)
    detail = (
        f"stopped at +{_ms(first - f.start_ns):.0f} ms via {stops[0].cause}, held {held:.0f} ms"
    )
    return Verdict(name, "fault", 0, float(len(problems)), not problems,
                   "; ".join([detail, *problems]))  # fmt: skip


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


def restart_verdict(tl: Timeline) -> Verdict:
    """Restart interlock: every rise of the box's permit comes after a reset press made since
    the permit last went off (or since power-up). The box's own decision, judged at the PLC:
    the simulated machine latches too, so a box that re-arms by itself would go unseen there."""
    name = "restart: permit rises only after a reset press"
    presses = sorted(tl.presses or ())
    rises, bad = 0, []
    on, off_since = False, -(2**62)
    for t_ns, permit in sorted(tl.permit):
        if permit and not on:
            rises += 1
            if not any(off_since < p <= t_ns for p in presses):
                bad.append(_ms(t_ns - tl.t_start_ns))
        elif on and not permit:
            off_since = t_ns
        on = permit
    if bad:
        at = ", ".join(f"{t:.0f}" for t in bad)
        return Verdict(name, "restart", 0, float(len(bad)), False,
                       f"ROSE WITHOUT A PRESS at {at} ms")  # fmt: skip
    return Verdict(name, "restart", 0, 0.0, True,
                   f"{rises} rise{'' if rises == 1 else 's'}, each after a press",
                   exercised=rises > 0)  # fmt: skip


def startup_verdict(tl: Timeline, runs: Sequence[RunSpan], limits: Limits) -> Verdict:
    """With start presses: the machine ran (else every other verdict is vacuous). Without: a
    reset never starts the machine: it was ready (reset done, permit risen) and never ran."""
    if limits.expect_start:
        return Verdict(
            "start-up: the machine ran after a reset and a start", "startup", 0, None, bool(runs),
            "ran" if runs else "NEVER RAN: every other verdict would be vacuous",
        )  # fmt: skip
    name = "reset alone never moves the machine (no start pressed)"
    problems = []
    if runs:
        at = ", ".join(f"{_ms(r.start_ns - tl.t_start_ns):.0f}" for r in runs)
        problems.append(f"STARTED without a start command at {at} ms")
    if not tl.ready:
        problems.append("NOT EXERCISED: the machine was never ready (no reset re-armed it)")
    detail = "; ".join(problems) or (
        f"ready {len(tl.ready)} time(s) from {_ms(tl.ready[0] - tl.t_start_ns):.0f} ms, never ran"
    )
    return Verdict(name, "startup", 0, float(len(runs)), not problems, detail)


def analyse(tl: Timeline, limits: Limits) -> list[Verdict]:
    """All verdicts for one run: start-up, each zone bound, each fault, false trips, and the
    restart interlock when the presses were recorded."""
    runs = run_spans(tl.machine, tl.t_end_ns)
    out = [startup_verdict(tl, runs, limits)]
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
    if tl.presses is not None:
        out.append(restart_verdict(tl))
    return out
