"""Box-timed pulse error under a loaded loop, this tree against another checkout, interleaved.

The cell of `simulators.plc.rig` (scene camera, plantvision's real loop, PLC simulator over TCP)
with the belt camera writing its output image every cycle at `fps`, and a PLC that answers each
image write (a write touching the permit coil) `image_delay_ms` late: the safety connection is
busy that share of the time. The figure is the simulator's: coil on minus the plan's fire time.
The pulse error at the simulator and the timer's own switch-on error come twice: over every
pulse, and over the pulses whose plan the runtime armed at least `ahead_ns` before its fire time
(a push decided after its time, such as a blind segment's at start-up, is late before any timer
sees it).

The same measuring code (`MEASURE`, using only rig APIs both trees have) runs in a subprocess per
run, in this tree and, with `other`, in another checkout (e.g. a worktree of main's commit), one
run of each in turn, so both see the same machine load. Only the product under test differs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MEASURE = r"""
import json, sys, tempfile, time
from pathlib import Path
import structlog
from plantvision.conveyor import runtime
from simulators.plc import rig

args = json.loads(sys.argv[1])

class LoadedPlc(rig.PlcSimulator):
    def start(self):
        port = super().start()
        self.set_write_delay_ms("permit", args["image_delay_ms"])
        return port

rig.PlcSimulator = LoadedPlc
armed = {}  # (item, fire_at_ns) -> when the runtime handed the plan to its timer

carry_out = runtime.RejectRuntime._carry_out
def record(self, now_ns, actions):
    t_ns = time.monotonic_ns()
    for plan in actions.plans:
        armed[(plan.item_id, plan.fire_at_ns)] = t_ns
    return carry_out(self, now_ns, actions)
runtime.RejectRuntime._carry_out = record
structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
spec = rig.RigSpec(args["speed_mm_s"], "box", belt_s=args["belt_s"], fps=args["fps"],
                   defect_rate=args["defect_rate"], seed=args["seed"])
with tempfile.TemporaryDirectory() as folder:
    res = rig.run_rig(spec, Path(folder))
ahead = sorted(p for i, p, _ in res.fire_log if armed.get((i, p), p) <= p - args["ahead_ns"])
planned = sorted(p for _, p, _ in res.fire_log)
timing_ahead = []  # as res.timing_errors_ms, for pulses whose nearest plan was armed ahead
for pulse in res.pulses:
    if "end_count" not in pulse and planned:
        nearest = min(planned, key=lambda t: abs(t - pulse["t_ns"]))
        if nearest in ahead:
            timing_ahead.append((pulse["t_ns"] - nearest) / 1e6)
print("RESULT " + json.dumps({
    "timing_ahead_ms": timing_ahead,
    "timing_ms": res.timing_errors_ms(), "position_ms": res.position_errors_ms(),
    "timer_ms": [e / 1e6 for e in res.timer_errors_ns],
    "timer_ahead_ms": [(a - p) / 1e6 for i, p, a in res.fire_log
                       if armed.get((i, p), p) <= p - args["ahead_ns"]],
    "missed": len(res.missed), "good_rejected": len(res.good_rejected),
}))
"""


@dataclass(frozen=True)
class LoadedSpec:
    speed_mm_s: float = 1000.0
    belt_s: float = 8.0
    fps: float = 50.0
    image_delay_ms: float = 10.0
    defect_rate: float = 0.9
    seed: int = 5
    ahead_ns: int = 1_000_000  # a plan armed later than this before its time: no timer meets it


def measure(checkout: Path, spec: LoadedSpec, timeout_s: float = 300.0) -> dict[str, Any]:
    """One loaded run with the product of `checkout` (its plantvision and simulators)."""
    env = os.environ | {"PYTHONPATH": str(checkout)}
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, json.dumps(asdict(spec))],
        cwd=checkout, env=env, capture_output=True, text=True, timeout=timeout_s, check=False,
    )  # fmt: skip
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"loaded run in {checkout} failed:\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    return result


def compare(
    spec: LoadedSpec, rounds: int, here: Path, other: Path | None
) -> dict[str, dict[str, list[Any]]]:
    """`rounds` runs per checkout, alternating; per checkout, the pooled figures."""
    trees = {"this tree": here} | ({} if other is None else {f"other ({other})": other})
    pooled: dict[str, dict[str, list[Any]]] = {name: {} for name in trees}
    for _ in range(rounds):
        for name, path in trees.items():
            res = measure(path, spec)
            for key, value in res.items():
                pooled[name].setdefault(key, []).extend(
                    value if isinstance(value, list) else [value]
                )
    return pooled
