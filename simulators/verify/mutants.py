"""Planted broken boxes (mutants): each must fail the suite, naming the deadline that caught it.

A mutant is a patch of the product's own functions, installed in the verifier's box process only:
- `python -m simulators.verify.mutants run NAME SCENARIO --json OUT` is the child process that
  `plantvision simulate --mutants` starts per (mutant, scenario). It installs NAME, then runs the
  scenario with the box's loop in that same process; for a box-process scenario it installs
  nothing itself and hands `--mutant NAME` on to the box's own child (simulators.verify.boxmain).
- The product carries no mutant code path and reads no switch: no deployment file, environment
  variable or `plantvision` option reaches a mutant. Only these two verifier entry points do.

`MUTANTS` is the table mutant -> the scenarios that should kill it, cheapest first, each with the
deadline expected to fail. A mutant counts as killed only when that deadline fails (a scenario
failing on something else says nothing about the mutant); `run_mutants` stops at the first kill.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
REPO = Path(__file__).resolve().parents[2]
CHILD_SLACK_S = 120.0  # boot, model load and wind-down around the scenario's own duration


# -- the patches --------------------------------------------------------------------------------


def _anchor_bottom_left() -> None:
    """The bottom-centre anchor computed as bottom-left (tests/simulators/verify/test_truth.py)."""
    from plantvision.zones import geometry

    rows = geometry.POINT_ANCHORS
    wx = geometry._WX.copy()
    wx[rows.index(geometry.Anchor.BOTTOM_CENTER)] = wx[rows.index(geometry.Anchor.BOTTOM_LEFT)]
    geometry._WX = wx


def _blind_every_other_second() -> None:
    """Each detector comes back empty for 15 frames in every 30: a second in two at 15 fps, as a
    detector loses a worker under a flickering light. (Losing every 2nd frame restarts nothing:
    a press is refused unless its stop zones were seen clear from its release on, and a worker
    standing inside is seen in every other frame; that mutant survived, rightly.)"""
    from plantvision.detect.detector import Detector
    from plantvision.types import Detections

    detect = Detector.detect
    calls: dict[int, int] = {}

    def blinking(self: Detector, image: Any, times: Any = None) -> Detections:
        found = detect(self, image, times)
        calls[id(self)] = n = calls.get(id(self), 0) + 1
        return Detections.empty(self.class_names) if (n // 15) % 2 else found

    Detector.detect = blinking  # type: ignore[method-assign]


def _release_without_reset() -> None:
    """The guard sees a reset press every other cycle: it re-arms by itself once its clear
    hold and minimum off time are met."""
    from plantvision.guard.latch import Guard

    step = Guard.step

    def pressing(self: Guard, now_ns: int, seq: int, hits: Any, faults: Any = frozenset(),
                 reset: bool = False, pressed_after_ns: int | None = None,
                 released_ns: int | None = None, blind: bool = False) -> Any:  # fmt: skip
        return step(self, now_ns, seq, hits, faults, not self._reset_level, None, None, blind)

    Guard.step = pressing  # type: ignore[method-assign]


def _clear_hold_ignored() -> None:
    """The guard accepts a reset on the first clear verdict (clear_hold_ms read as 0)."""
    from plantvision.guard.latch import Guard

    init = Guard.__init__

    def no_hold(self: Guard, config: Any, *args: Any, **kw: Any) -> None:
        init(self, config.model_copy(update={"clear_hold_ms": 0}), *args, **kw)

    Guard.__init__ = no_hold  # type: ignore[method-assign]


def _camera_left_out() -> None:
    """The combined image ignores the last camera of the deployment (its permit, its expiry)."""
    from plantvision.loop.outputs import OutputImage

    combined = OutputImage._combined

    def leaving_out(self: OutputImage, now_ns: int) -> Any:
        outs, stamps = self._outs, self._stamp_ns
        last = list(outs)[-1]
        self._outs = {k: v for k, v in outs.items() if k != last}
        self._stamp_ns = {k: v for k, v in stamps.items() if k != last}
        try:
            return combined(self, now_ns)
        finally:
            self._outs, self._stamp_ns = outs, stamps

    OutputImage._combined = leaving_out  # type: ignore[method-assign]


def _hung_camera_keeps_permit() -> None:
    """No camera contribution expires: a camera thread that hangs while the others cycle keeps
    its last permit in the combined image (the supervisor and heartbeat gate stay)."""
    from plantvision.loop.outputs import OutputImage

    def never(self: OutputImage, now_ns: int) -> list[str]:
        return [cid for cid, t in self._stamp_ns.items() if t is None]

    OutputImage._expired = never  # type: ignore[method-assign]


def _heartbeat_ungated() -> None:
    """The heartbeat beats while the link is up, whatever the loop does: no loop-stale check,
    no liveness question, no new decision round needed."""
    from plantvision.plc.link import PlcLink

    beat = PlcLink._beat

    def always(self: PlcLink, now_ns: int) -> None:
        self._last_write_call_ns, asked, rounds = now_ns, self.liveness, self.decisions
        self.liveness = self.decisions = None
        try:
            beat(self, now_ns)
        finally:
            self.liveness, self.decisions = asked, rounds

    PlcLink._beat = always  # type: ignore[method-assign]


PITCH_MM = 150.0  # the verifier's conveyor scene: items every 150 mm


def _ejector_one_pitch_late() -> None:
    """Every ejector taken one item pitch further down the belt than configured."""
    from plantvision.conveyor.scheduler import RejectScheduler

    pick = RejectScheduler._ejector_for

    def shifted(self: RejectScheduler, across_mm: float) -> Any:
        e = pick(self, across_mm)
        return None if e is None else e.model_copy(update={"position_mm": e.position_mm + PITCH_MM})

    RejectScheduler._ejector_for = shifted  # type: ignore[method-assign]


def _verdict_written_twice() -> None:
    """PLC-timed: every batch of reject verdicts is written to the PLC's FIFO twice."""
    from plantvision.conveyor import verdicts

    deliver = verdicts.deliver

    def twice(write: Any, batch: Any, now_ns: int | None) -> Any:
        out = deliver(write, batch, now_ns)
        deliver(write, batch, now_ns)
        return out

    verdicts.deliver = twice  # type: ignore[assignment]


def _neighbour_alarm_silenced() -> None:
    """The blast-window check finds no neighbour: good items swept into the bin go unannounced."""
    from plantvision.conveyor.push_checks import PushChecks

    def none(self: PushChecks, *_args: Any) -> tuple[int, ...]:
        return ()

    PushChecks._good_in_blast = none  # type: ignore[method-assign,assignment]


# -- the table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Killer:
    """A scenario that must kill a mutant, and the deadline (a prefix of its name) that must
    fail for the kill to count."""

    scenario: str  # file name under simulators/scenarios
    deadline: str


@dataclass(frozen=True)
class Mutant:
    name: str
    what: str
    patch: Callable[[], None]
    killers: tuple[Killer, ...]


MUTANTS: tuple[Mutant, ...] = (
    Mutant("anchor_bottom_left", "zone anchor bottom-centre computed as bottom-left",
           _anchor_bottom_left, (Killer("walk_in.yaml", "zone machine"),)),
    Mutant("blind_every_other_second", "the detector comes back empty a second in two",
           _blind_every_other_second, (Killer("held_in_zone_no_hold.yaml", "zone machine"),)),
    Mutant("release_without_reset", "the guard re-arms without a reset press",
           _release_without_reset, (Killer("walk_in_no_reset.yaml", "restart"),)),
    Mutant("clear_hold_ignored", "a reset accepted on the first clear verdict",
           _clear_hold_ignored, (Killer("blind_in_zone.yaml", "zone machine"),)),
    Mutant("camera_left_out", "one camera left out of the combined permit (OutputImage)",
           _camera_left_out, (Killer("two_cameras_hang.yaml", "fault model_hang"),)),
    Mutant("hung_camera_keeps_permit", "a camera thread that hangs while the others cycle "
           "keeps its last permit", _hung_camera_keeps_permit,
           (Killer("two_cameras_hang.yaml", "fault model_hang"),)),
    Mutant("heartbeat_ungated", "the heartbeat keeps beating while the loop is stuck",
           _heartbeat_ungated, (Killer("loop_deadlock.yaml", "fault loop_deadlock"),)),
    Mutant("ejector_one_pitch_late", "the ejector fired one belt pitch (150 mm) late",
           _ejector_one_pitch_late, (Killer("conveyor_box.yaml", "reject kicker"),)),
    Mutant("verdict_written_twice", "PLC-timed: every verdict written to the FIFO twice",
           _verdict_written_twice, (Killer("conveyor_plc.yaml", "pushes"),)),
    Mutant("neighbour_alarm_silenced", "a push whose blast window holds a good item raises no "
           "reject_hits_neighbour", _neighbour_alarm_silenced,
           (Killer("conveyor_blast.yaml", "false rejects announced"),)),
)  # fmt: skip
BY_NAME = {m.name: m for m in MUTANTS}


def install(name: str) -> None:
    """Patch the product in this process (a verifier box process only)."""
    if name not in BY_NAME:
        raise SystemExit(f"unknown mutant {name!r}; known: {', '.join(BY_NAME)}")
    BY_NAME[name].patch()


# -- running them -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One (mutant, scenario) run: the verdicts that failed, and whether the expected did."""

    scenario: str
    failed: tuple[dict[str, Any], ...]
    killed: bool
    seconds: float
    error: str = ""


@dataclass(frozen=True)
class MutantResult:
    mutant: Mutant
    attempts: tuple[Attempt, ...]

    @property
    def killed(self) -> bool:
        return any(a.killed for a in self.attempts)

    def killing(self) -> tuple[Attempt, dict[str, Any]] | None:
        """The attempt that killed it and its expected deadline's verdict."""
        for a, k in zip(self.attempts, self.mutant.killers, strict=False):
            for v in a.failed:
                if a.killed and v["deadline"].startswith(k.deadline):
                    return a, v
        return None


def run_one(mutant: str, scenario: Path, workdir: Path) -> list[dict[str, Any]]:
    """In this process: install `mutant` (unless the box is a child), run `scenario`, verdicts."""
    from simulators.verify.boxproc import run_box_process
    from simulators.verify.runner import RunOptions, prepare, run_in_process
    from simulators.verify.scenario import load_verify_scenario

    p = prepare(load_verify_scenario(scenario), scenario, workdir)
    if p.scenario.box_process:
        out = run_box_process(p, RunOptions(workdir=workdir, mutant=mutant))
    else:
        install(mutant)
        out = run_in_process(p, RunOptions(workdir=workdir))
    return [
        {"deadline": v.deadline, "passed": v.passed, "limit": v.limit, "measured": v.measured,
         "margin": v.margin, "detail": v.detail}
        for v in out.verdicts
    ]  # fmt: skip


def _attempt(m: Mutant, k: Killer) -> Attempt:
    t0 = time.monotonic()
    scenario = SCENARIOS / k.scenario
    with tempfile.TemporaryDirectory(prefix=f"pv-mutant-{m.name}-") as tmp:
        out = Path(tmp) / "verdicts.json"
        cmd = [sys.executable, "-m", "simulators.verify.mutants", "run", m.name, str(scenario),
               "--json", str(out)]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
        from simulators.verify.scenario import load_verify_scenario

        limit_s = load_verify_scenario(scenario).duration_s + CHILD_SLACK_S
        try:
            done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, timeout=limit_s)
        except subprocess.TimeoutExpired:
            return Attempt(k.scenario, (), False, time.monotonic() - t0, "timed out")
        if done.returncode != 0 or not out.is_file():
            tail = done.stderr.decode("utf-8", "replace")[-600:]
            return Attempt(k.scenario, (), False, time.monotonic() - t0,
                           f"exit {done.returncode}: {tail}")  # fmt: skip
        verdicts = json.loads(out.read_text(encoding="utf-8"))
    failed = tuple(v for v in verdicts if not v["passed"])
    killed = any(v["deadline"].startswith(k.deadline) for v in failed)
    return Attempt(k.scenario, failed, killed, time.monotonic() - t0)


def run_mutants(
    names: Sequence[str] | None = None, report: Callable[[str], None] | None = None
) -> list[MutantResult]:
    """Each mutant against its killers in order, until one kills it (a child process each)."""
    results = []
    for m in MUTANTS if not names else [BY_NAME[n] for n in names]:
        attempts: list[Attempt] = []
        for k in m.killers:
            a = _attempt(m, k)
            attempts.append(a)
            if report is not None:
                report(f"{m.name} vs {k.scenario}: {'killed' if a.killed else 'SURVIVED'} "
                       f"({a.seconds:.0f} s){' ' + a.error if a.error else ''}")  # fmt: skip
            if a.killed:
                break
        results.append(MutantResult(m, tuple(attempts)))
    return results


def _fmt_margin(v: dict[str, Any]) -> str:
    margin = v.get("margin")
    if margin is None or (isinstance(margin, float) and math.isinf(margin)):
        return "-inf" if v.get("measured") is not None else "-"
    unit = " ms" if v["deadline"].startswith(("zone", "fault", "reject")) else ""
    return f"{margin:.1f}{unit}"


def mutant_table(results: Sequence[MutantResult]) -> str:
    """mutant, killed by (scenario: deadline), margin (limit - measured; negative: how far the
    mutant broke it), and what the verdict said."""
    rows = [("mutant", "killed by", "margin", "detail")]
    for r in results:
        hit = r.killing()
        if hit is None:
            tried = ", ".join(a.scenario + (f" ({a.error})" if a.error else "") for a in r.attempts)
            rows.append((r.mutant.name, f"SURVIVED {tried}", "-", ""))
            continue
        a, v = hit
        rows.append((r.mutant.name, f"{Path(a.scenario).stem}: {v['deadline']}", _fmt_margin(v),
                     v["detail"][:90]))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row[:3], widths, strict=True)]
        lines.append("  ".join([*cells, row[3]]).rstrip())
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="simulators.verify.mutants")
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="(child) install one mutant and run one scenario")
    run.add_argument("mutant")
    run.add_argument("scenario", type=Path)
    run.add_argument("--json", type=Path, required=True)
    args = ap.parse_args(argv)
    from plantvision import log as pvlog

    pvlog.configure(json=True)
    with tempfile.TemporaryDirectory(prefix="pv-mutant-run-") as tmp:
        verdicts = run_one(args.mutant, args.scenario, Path(tmp))
    args.json.write_text(json.dumps(verdicts, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
