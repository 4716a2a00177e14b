"""How many onnxruntime intra-op threads each camera's session gets.

Left at 0 in a deployment, onnxruntime sizes every session's pool to all cores: N cameras then run
N pools of that width on the same cores, and their spinning threads starve each other (8 cameras
on 2 cores overran a 150 ms budget ~990 times in 30 s). The box shares the cores instead.
"""

from __future__ import annotations

import os


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
