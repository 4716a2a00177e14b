"""How many onnxruntime intra-op threads each camera's session gets.

Left at 0 in a deployment, onnxruntime sizes every session's pool to all cores: N cameras then run
N pools of that width on the same cores, and their spinning threads starve each other (8 cameras
on 2 cores overran a 150 ms budget ~990 times in 30 s). The box shares the cores instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def share_threads(requested: int, cameras: int, cores: int) -> int:
    """`requested` if the deployment set one; else the cores shared evenly, at least 1 each."""
    if requested > 0:
        return requested
    return max(1, cores // max(cameras, 1))


@dataclass(frozen=True, slots=True)
class CameraLoad:
    """What one camera asks of the cores: frames per second, each costing its detect stage's
    median on `threads` intra-op threads (counted as busy on all of them: a conservative bound,
    since onnxruntime's pool spins while it waits)."""

    id: str
    fps: float
    detect_ms: float
    threads: int

    @property
    def core_share(self) -> float:
        return self.fps * self.detect_ms / 1000 * self.threads


# Above this share of the cores, frames queue behind each other often enough that p99 grows far
# past the median (an M/D/1 queue waits 2x its service time at 80 % load).
BUSY_WARN = 0.8


def box_load(cameras: list[CameraLoad], cores: int) -> tuple[float, str]:
    """The cores' expected busy share and a verdict: 'ok', 'busy' (over BUSY_WARN: the budget
    may hold at the median but not at p99) or 'over' (more than the cores: it cannot keep up,
    frames are skipped and every cycle waits)."""
    share = sum(c.core_share for c in cameras) / max(cores, 1)
    return share, ("over" if share > 1.0 else "busy" if share > BUSY_WARN else "ok")
