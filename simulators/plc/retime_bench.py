"""Re-timing box-timed plans at each encoder reading, not only in camera cycles: cost and benefit.

Cost: one input poll's work for the rejects of one camera, the reading fed to the belt alone
against the reading fed and the armed plans re-timed (`RejectScheduler.retime`), interleaved
poll by poll, with `--armed` plans armed (microseconds: median, p99, max, and the ratio of
medians).

Benefit: a belt that the PLC stops at a random instant in the 150 ms before an armed plan's push
(the stale-verdict stop while the camera hangs): how many pushes meet the belt beyond the
paddle's reach short of the item (at air), with plans re-timed in camera cycles only (every
budget / 4 = 125 ms while the camera hangs) and at every encoder reading too (every 20 ms). The
truth is this module's own belt, never the product's belt model. Deterministic (seeded).

    python -m simulators.plc.retime_bench [--trials 400] [--n 3000] [--armed 1 4 16]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import structlog

from plantvision.conveyor import ConveyorConfig, FirePlan, RejectScheduler
from plantvision.types import Detections

MS = 1_000_000
SPEED_MM_S = 1000.0
CPM = 10.0  # encoder counts per mm
POLL_MS = 20  # the controller's input poll
CAMERA_MS = 125  # a hung camera's cycle: budget 500 ms / 4
REACH_MM = 20.0
NAMES = ("item", "defect")


def config() -> ConveyorConfig:
    """The rig's box-timed cell: ejector 700 mm down, 5 ms actuator, 20 mm reach, horizon 650."""
    return ConveyorConfig.model_validate({
        "belt": {"encoder": {"signal": "enc", "counts_per_mm": CPM}},
        "mapping": {"axis": "x", "mm_per_px": 1.0},
        "ejectors": [{"id": "kicker", "position_mm": 700.0, "actuator_response_ms": 5.0,
                      "pulse_ms": 30.0, "reach_mm": REACH_MM}],
        "gate_mm": 20.0,
        "horizon_ms": 650.0,
    })  # fmt: skip


class StoppingBelt:
    """Truth: 1 m/s until `stop_ns`, then standing."""

    def __init__(self, stop_ns: int) -> None:
        self.stop_ns = stop_ns

    def mm(self, t_ns: int) -> float:
        return min(t_ns, self.stop_ns) * SPEED_MM_S / 1e9

    def count(self, t_ns: int) -> int:
        return round(self.mm(t_ns) * CPM)


def defects(xs_px: Sequence[float]) -> Detections:
    xyxy = [[x - 20, 220, x + 20, 260] for x in xs_px]
    return Detections.from_arrays(xyxy, [0.9] * len(xs_px), [1] * len(xs_px), NAMES)


def seen(sched: RejectScheduler, xs_px: Sequence[float]) -> tuple[FirePlan, ...]:
    """Defects at `xs_px` mm past the camera line at 0 ms, the belt read at 0 and 20 ms; the
    plans the cycle at 20 ms arms."""
    sched.observe(0, 0, defects(xs_px), 2000, 480, 0)
    return sched.update(POLL_MS * MS, round(POLL_MS * SPEED_MM_S / 1e3 * CPM)).plans


def one_stop(stop_ms: float, camera_phase_ms: int, every_reading: bool) -> bool:
    """A defect 100 mm past the line at 0 ms (due at the ejector at 600 ms); the belt stops at
    `stop_ms`. True when the timer pushed at air (beyond the reach short of the item)."""
    log: Any = structlog.get_logger("retime-bench")
    sched, belt = RejectScheduler(config(), log), StoppingBelt(int(stop_ms * MS))
    armed = {plan.item_id: plan for plan in seen(sched, [100.0])}
    assert armed, "the plan was not armed at 20 ms"
    for t_ms in range(POLL_MS + 1, 1200):
        t = t_ms * MS
        for item_id, plan in list(armed.items()):
            if plan.fire_at_ns <= t:  # the timer switches on: where is the item at the push?
                del armed[item_id]
                return belt.mm(plan.fire_at_ns + 5 * MS) < 600.0 - REACH_MM
        if t_ms % POLL_MS == 0:
            sched.belt.sample(t, belt.count(t))
            if every_reading:
                plans, cancels = sched.retime(t)
                apply(armed, plans, cancels)
        if (t_ms - camera_phase_ms) % CAMERA_MS == 0:
            acts = sched.update(t, None)
            apply(armed, acts.plans, acts.cancels)
    return False


def apply(armed: dict[int, FirePlan], plans: Sequence[FirePlan], cancels: Sequence[int]) -> None:
    for item_id in cancels:
        armed.pop(item_id, None)
    for plan in plans:
        armed[plan.item_id] = plan


def benefit(trials: int) -> list[str]:
    rng = random.Random(0)
    cases = [(rng.uniform(445.0, 595.0), rng.randrange(CAMERA_MS)) for _ in range(trials)]
    lines = [f"belt stopped in the 150 ms before a push due at ~595 ms, {trials} trials:"]
    with structlog.testing.capture_logs():
        for every_reading in (False, True):
            at_air = sum(one_stop(s, ph, every_reading) for s, ph in cases)
            how = "camera cycles + every reading" if every_reading else "camera cycles only  "
            lines.append(f"  re-timed in {how}: {at_air:4d} pushes at air ({at_air / trials:.1%})")
    return lines


def cost(n: int, armed: int) -> list[str]:
    """Interleaved: polls every 10 ms alternate between feeding the belt and feeding it and
    re-timing, over episodes of `armed` defects armed at 20 ms and due at 330-645 ms (a poll
    sees the history a real 20 ms poller leaves, and no plan fires while timed)."""
    log: Any = structlog.get_logger("retime-bench")
    plain: list[float] = []
    retimed: list[float] = []
    with structlog.testing.capture_logs():
        while len(retimed) < n:
            sched = RejectScheduler(config(), log)
            seen(sched, [50.0 + 21 * i for i in range(armed)])
            for k, t_ms in enumerate(range(30, 310, 10)):
                t = t_ms * MS
                t0 = time.perf_counter_ns()
                sched.belt.sample(t, round(t_ms * SPEED_MM_S / 1e3 * CPM))
                if k % 2:
                    sched.retime(t)
                (retimed if k % 2 else plain).append((time.perf_counter_ns() - t0) / 1e3)
    return [f"  {armed:2d} armed: " + figures("feed", plain) + " | " + figures("+retime", retimed)
            + f" | ratio of medians {np.median(retimed) / np.median(plain):.1f}"]  # fmt: skip


def figures(name: str, us: list[float]) -> str:
    a = np.asarray(us)
    return f"{name} median {np.median(a):.1f} p99 {np.percentile(a, 99):.1f} max {a.max():.1f} us"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.plc.retime_bench")
    parser.add_argument("--trials", type=int, default=400, help="belt stops simulated per mode")
    parser.add_argument("--n", type=int, default=3000, help="polls timed per variant")
    parser.add_argument("--armed", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args(argv)
    for line in benefit(args.trials):
        print(line)
    print(f"cost of one poll for one camera's rejects (n={args.n} each, interleaved):")
    for k in args.armed:
        for line in cost(args.n, k):
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
