"""Run scenario files one after another (each in real time) and collect their verdicts."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from plantvision.progress import ProgressBar
from simulators.verify.boxproc import run_box_process
from simulators.verify.report import ScenarioResult
from simulators.verify.runner import Prepared, RunOptions, prepare, run_in_process
from simulators.verify.scenario import load_verify_scenario


@dataclass(frozen=True)
class MonteCarlo:
    """`runs` repetitions per scenario; each run draws processing jitter 0..jitter_ms and, on a
    conveyor, a belt speed within rated x [1 - belt_speed_jitter, 1 + belt_speed_jitter] and an
    actuator response 0..actuator_jitter_ms beyond the declared one."""

    runs: int = 1
    jitter_ms: float = 0.0
    seed: int = 0
    belt_speed_jitter: float = 0.0
    actuator_jitter_ms: float = 0.0


def load_all(
    paths: Sequence[Path],
) -> list[tuple[Path, Prepared, tempfile.TemporaryDirectory[str]]]:
    """Validate every scenario before any runs, so a typo in the last file fails at once."""
    out = []
    for path in paths:
        sc = load_verify_scenario(path)
        tmp = tempfile.TemporaryDirectory(prefix="pv-verify-")
        out.append((path, prepare(sc, path, Path(tmp.name)), tmp))
    return out


def run_suite(
    paths: Sequence[Path], mc: MonteCarlo = MonteCarlo(), show_progress: bool = True
) -> list[ScenarioResult]:
    prepared = load_all(paths)
    total_s = sum(p.scenario.duration_s for _, p, _ in prepared) * mc.runs
    results = []
    steps = 200
    with ProgressBar(steps, "simulate", force=False, width=30) as bar:
        enabled = bar.enabled and show_progress
        done_s = 0.0
        for path, p, tmp in prepared:
            runs, infos = [], []
            for i in range(mc.runs):
                opts = RunOptions(mc.jitter_ms, mc.seed * 1000 + i, Path(tmp.name),
                                  mc.belt_speed_jitter, mc.actuator_jitter_ms)  # fmt: skip
                base = done_s

                def progress(
                    frac: float, base: float = base, dur: float = p.scenario.duration_s
                ) -> None:
                    if enabled:
                        target = int(steps * (base + frac * dur) / total_s)
                        bar.update(max(0, target - bar.done))

                run = run_box_process if p.scenario.box_process else run_in_process
                outcome = run(p, opts, progress)
                runs.append(outcome.verdicts)
                infos.append(outcome.info)
                done_s += p.scenario.duration_s
            tmp.cleanup()
            results.append(
                ScenarioResult(
                    path.stem, p.scenario.description, runs, infos, p.dep.safety, p.zones
                )
            )
    return results
