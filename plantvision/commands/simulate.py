"""`plantvision simulate SCENARIO...`: prove the deadlines scenario by scenario, with margins.

Runs the real loop (the code `run` uses) against the scene and PLC simulators with timed faults,
then compares the scene truth with the PLC's timestamped view. The verifier comes in through
plantvision.commands.seam, only when this command runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

SUITE = Path(__file__).resolve().parents[2] / "simulators" / "scenarios"


def register(sub: Any) -> None:
    p = sub.add_parser("simulate", help="verify deadlines against simulated scenes and faults")
    p.add_argument(
        "scenarios",
        nargs="*",
        type=Path,
        help="scenario files or folders (default: the suite in simulators/scenarios)",
    )
    p.add_argument("--runs", type=int, default=1, help="Monte-Carlo runs per scenario")
    p.add_argument(
        "--jitter-ms", type=float, default=0.0, help="Monte-Carlo: add 0..J ms processing per frame"
    )
    p.add_argument(
        "--belt-speed-jitter",
        type=float,
        default=0.0,
        help="Monte-Carlo (conveyor): true belt speed uniform in rated x [1-F, 1+F]",
    )
    p.add_argument(
        "--actuator-jitter-ms",
        type=float,
        default=0.0,
        help="Monte-Carlo (conveyor): true actuator response + 0..A ms over the declared one",
    )
    p.add_argument("--seed", type=int, default=0, help="Monte-Carlo seed")
    p.add_argument("--json", type=Path, default=None, help="write the JSON report here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--mutants",
        nargs="*",
        default=None,
        metavar="NAME",
        help="instead of the suite: run each planted broken box (all, or those named) against "
        "the scenarios that must kill it; exit 1 if any survives",
    )
    p.set_defaults(handler=simulate)


def expand(paths: list[Path]) -> list[Path]:
    """Folders expand to their *.yaml scenario files, sorted."""
    out: list[Path] = []
    for p in paths or [SUITE]:
        out.extend(sorted(p.glob("*.yaml")) if p.is_dir() else [p])
    return out


def run_mutants(names: list[str]) -> int:
    """Each mutant in its own verifier child process; the table; 1 if any survived."""
    import sys
    import time

    from plantvision.commands.seam import planted_mutants

    mutants = planted_mutants()
    unknown = [n for n in names if n not in mutants.BY_NAME]
    if unknown:
        raise SystemExit(f"plantvision simulate: unknown mutant(s) {unknown}; known: "
                         f"{', '.join(mutants.BY_NAME)}")  # fmt: skip
    t0 = time.monotonic()
    results = mutants.run_mutants(names, lambda line: print(line, file=sys.stderr, flush=True))
    print(mutants.mutant_table(results))
    survivors = [r.mutant.name for r in results if not r.killed]
    print(f"{len(results) - len(survivors)}/{len(results)} mutants killed in "
          f"{time.monotonic() - t0:.0f} s" + (f"; SURVIVED: {', '.join(survivors)}"
                                            if survivors else ""))  # fmt: skip
    return 1 if survivors else 0


def simulate(args: argparse.Namespace) -> int:
    from plantvision import log as pvlog
    from plantvision.commands.seam import verifier

    if args.mutants is not None:
        return run_mutants(args.mutants)

    if args.runs < 1 or args.jitter_ms < 0 or args.actuator_jitter_ms < 0:
        raise SystemExit(
            "plantvision simulate: --runs must be >= 1, --jitter-ms and --actuator-jitter-ms >= 0"
        )
    if not 0 <= args.belt_speed_jitter < 1:
        raise SystemExit("plantvision simulate: --belt-speed-jitter must be in [0, 1), e.g. 0.1")
    pvlog.configure(json=True)
    suite, report = verifier()
    paths = expand(args.scenarios)
    results = suite.run_suite(
        paths,
        suite.MonteCarlo(args.runs, args.jitter_ms, args.seed, args.belt_speed_jitter,
                   args.actuator_jitter_ms),
        not args.no_progress,
    )  # fmt: skip
    print(report.verdict_table(results))
    # The ISO line uses the first scenario's cell (the suite shares one deployment).
    iso = (
        report.iso_lines(report.vision_t_ms(results), results[0].safety, results[0].zones)
        if results
        else []
    )
    for line in iso:
        print(line)
    failed = [r.name for r in results if not r.passed]
    print(f"{len(results) - len(failed)}/{len(results)} scenarios passed"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))  # fmt: skip
    if args.json is not None:
        args.json.write_text(json.dumps(report.to_json(results, iso), indent=2), encoding="utf-8")
    return 1 if failed else 0
