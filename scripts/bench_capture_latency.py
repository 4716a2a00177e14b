"""`plantvision capture-latency` against known latencies (issue 15, item 4): measured vs injected.

The cell of tests.reject.latency_cell (PLC simulator over loopback, the box's link holding the
permit, the scene camera showing the belt CAPTURE_MS before each stamp, the ONNX cell detector),
one belt start per run, the injected values taken in turn round by round. Prints, per injected
latency, the measured medians (and each run's p10/p90 and frame count) and the error of their
median, with the load average before and after.

    .venv/bin/python scripts/bench_capture_latency.py [--capture-ms 0 40 80 150] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plantvision.conveyor.latency import CannotMeasureError
from tests.reject.latency_cell import latency_cell


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--capture-ms", type=float, nargs="+", default=[0.0, 40.0, 80.0, 150.0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--speed-mm-s", type=float, default=500.0)
    args = p.parse_args()
    load = os.getloadavg()
    runs: dict[float, list[str]] = {c: [] for c in args.capture_ms}
    medians: dict[float, list[float]] = {c: [] for c in args.capture_ms}
    for _ in range(args.rounds):
        for capture_ms in args.capture_ms:
            with (
                tempfile.TemporaryDirectory() as folder,
                latency_cell(Path(folder), args.speed_mm_s) as cell,
            ):
                try:
                    est = cell.measure(capture_ms)
                except CannotMeasureError as exc:
                    runs[capture_ms].append(f"refused: {exc}")
                    continue
            medians[capture_ms].append(est.median_ms)
            runs[capture_ms].append(
                f"{est.median_ms:.1f} (p10 {est.p10_ms:.1f}, p90 {est.p90_ms:.1f}, "
                f"{len(est.frames)} frames)"
            )
    print(f"belt {args.speed_mm_s:g} mm/s, {args.rounds} rounds; load average "
          f"{load[0]:.2f} -> {os.getloadavg()[0]:.2f}")  # fmt: skip
    for capture_ms in args.capture_ms:
        got = medians[capture_ms]
        err = f"{np.median(got) - capture_ms:+.1f} ms" if got else "n/a"
        print(f"injected {capture_ms:g} ms: median of runs' medians error {err}; runs: "
              + "; ".join(runs[capture_ms]))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
