"""The mutation score table of the pure safety core, from mutmut's results under ./mutants.

Reads the `*.py.meta` files `mutmut run` leaves (mutmut 3: one per mutated source file, mutant
name -> pytest exit code) and prints per module: mutants, killed, survived, score. A mutant is
killed when a test failed on it or it ran past mutmut's timeout (an endless loop is caught too);
every other outcome (survived, "no tests": no selected test reaches the function) counts as
survived. `--survivors` also prints each survivor's diff (what docs/mutation.md judges).
Usage: python scripts/mutation_report.py [--survivors] [--min-score PCT] [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# mutmut's exit-code meanings (mutmut.stats.status_by_exit_code, mutmut 3.8).
KILLED_CODES = {1, 3}  # a test failed; pytest's internal error counts as a kill too
TIMEOUT_CODES = {36, -24, 24, 152, 255}
TYPE_CHECK_CODES = {37}


def _rows(root: Path) -> list[tuple[str, int, int, list[str]]]:
    """(module, mutants, killed, survivor names) per mutated file, in path order."""
    rows = []
    for meta in sorted(root.rglob("*.py.meta")):
        codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
        dead = KILLED_CODES | TIMEOUT_CODES | TYPE_CHECK_CODES
        survivors = sorted(k for k, c in codes.items() if c not in dead)
        module = str(meta.relative_to(root))[: -len(".meta")]
        rows.append((module, len(codes), len(codes) - len(survivors), survivors))
    return rows


def _print_table(rows: list[tuple[str, int, int, list[str]]]) -> float:
    """The table; returns the lowest module score (100 when there are no mutants)."""
    print(f"{'module':<36} {'mutants':>8} {'killed':>7} {'survived':>9} {'score %':>8}")
    lowest = 100.0
    for module, n, killed, _ in rows:
        score = 100.0 * killed / n if n else 100.0
        lowest = min(lowest, score)
        print(f"{module:<36} {n:>8} {killed:>7} {n - killed:>9} {score:>8.1f}")
    n_all = sum(r[1] for r in rows)
    k_all = sum(r[2] for r in rows)
    total = 100.0 * k_all / n_all if n_all else 100.0
    print(f"{'total':<36} {n_all:>8} {k_all:>7} {n_all - k_all:>9} {total:>8.1f}")
    return lowest


def _print_survivors(rows: list[tuple[str, int, int, list[str]]]) -> None:
    from mutmut.mutation.diff_apply import get_diff_for_mutant  # only here: needs mutmut

    for module, _, _, survivors in rows:
        for name in survivors:
            diff = get_diff_for_mutant(name, path=Path(module))
            body = diff.splitlines()[2:]  # drop the ---/+++ header
            changed = [line for line in body if line[:1] in "+-"]
            print(f"\n{name}")
            print("\n".join("    " + line for line in changed))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--survivors", action="store_true", help="print each survivor's diff")
    ap.add_argument("--min-score", type=float, default=0.0, help="exit 1 below this per module")
    ap.add_argument("--seconds", type=float, help="the run's wall time, printed under the table")
    args = ap.parse_args(argv)
    root = Path("mutants")
    rows = _rows(root)
    if not rows:
        print("no mutmut results under ./mutants: run scripts/mutation", file=sys.stderr)
        return 2
    lowest = _print_table(rows)
    if args.seconds is not None:
        print(f"mutmut run: {args.seconds:.0f} s")
    if args.survivors:
        _print_survivors(rows)
    return 1 if lowest < args.min_score else 0


if __name__ == "__main__":
    sys.exit(main())
