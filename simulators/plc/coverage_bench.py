"""What the coverage map costs the camera thread: the pure reject scheduler's `observe` + `update`
per cycle, without and with `longest_item_mm`, interleaved cycle by cycle on one stepped clock.

A 640 px view at 1 mm/px, the belt at 1 m/s, a frame every 50 ms with four items (one defective),
one ejector 1500 mm downstream; every 20th second the camera drops 1.5 s of frames (a blind
segment, rejected by pushes), so the figures include the blind path. Prints median, p99 and max
per cycle for each, and the ratio of the medians. `python -m simulators.plc.coverage_bench`.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import structlog

from plantvision.conveyor import ConveyorConfig, RejectScheduler
from plantvision.types import Detections
from simulators.plc.bench import summary

MS = 1_000_000
NAMES = ("item", "defect")


def _cfg(**over: Any) -> ConveyorConfig:
    return ConveyorConfig.model_validate(
        {
            "belt": {"speed_mm_s": 1000.0},
            "mapping": {"mm_per_px": 1.0},
            "ejectors": [{"id": "k", "position_mm": 1500.0, "pulse_ms": 30.0}],
            "gate_mm": 20.0,
            "horizon_ms": 200.0,
            **over,
        }
    )


def _frame(t_ms: int) -> Detections:
    """Items every 150 mm of belt, seen where the belt has carried them; every third defective."""
    boxes, ids = [], []
    for k in range(-5, 5):
        x = (t_ms % 150) + 150 * k + 20
        if 25 < x < 615:
            boxes.append([x - 20, 220, x + 20, 260])
            ids.append(0)
            if ((t_ms // 150) - k) % 3 == 0:
                boxes.append([x - 10, 230, x + 10, 250])
                ids.append(1)
    return Detections.from_arrays(boxes, [0.9] * len(ids), ids, NAMES)


def run_bench(seconds: int) -> list[str]:
    log = structlog.get_logger("coverage-bench")
    plain = RejectScheduler(_cfg(), log)
    covered = RejectScheduler(_cfg(longest_item_mm=40.0), log)
    times: dict[str, list[float]] = {"without": [], "with": []}
    for t_ms in range(0, seconds * 1000, 50):
        blind = t_ms % 20_000 >= 18_500
        dets = _frame(t_ms)
        order = ((plain, "without"), (covered, "with"))
        for sched, name in order if (t_ms // 50) % 2 else order[::-1]:
            t0 = time.perf_counter_ns()
            if not blind:
                sched.observe(t_ms * MS, t_ms * MS, dets, 640, 480, None)
            sched.update(t_ms * MS, None)
            times[name].append((time.perf_counter_ns() - t0) / 1e6)
    a, b = sorted(times["without"]), sorted(times["with"])
    return [
        summary("observe + update, no coverage map", a),
        summary("observe + update, coverage map", b),
        f"ratio of medians with / without: {b[len(b) // 2] / a[len(a) // 2]:.2f}; "
        f"blind segments {covered.counters.blind_segments}, pushes "
        f"{covered.counters.blind_pushes}, missed {covered.counters.missed}",
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=int, default=120, help="belt time to step through")
    args = p.parse_args()
    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())  # no I/O in the figures
    print("\n".join(run_bench(args.seconds)))


if __name__ == "__main__":
    main()
