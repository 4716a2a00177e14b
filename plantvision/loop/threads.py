"""How the box's cores run its cameras' models: per-camera sessions or shared workers, and how
many onnxruntime intra-op threads each session gets.

Left at 0 in a deployment, onnxruntime sizes every session's pool to all cores: N cameras then run
N pools of that width on the same cores, and their spinning threads starve each other (8 cameras
on 2 cores overran a 150 ms budget ~990 times in 30 s). The box shares the cores instead. With
many more cameras than cores, even one thread each runs N inferences at once on the cores, each N
times slower: shared inference workers (detect/shared.py) run them one at a time per worker.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from plantvision.configio import StrictModel
from plantvision.detect.spec import ModelSpec

Sharing = Literal["auto", "per_camera", "shared"]


class InferenceModel(StrictModel):
    """A deployment's choice between a session per camera and shared inference workers."""

    sharing: Sharing = Field(
        default="auto",
        description="per_camera: each camera runs its own session on its own thread; shared: "
        "the cameras whose model.intra_op_threads is 0 hand their tensors to shared workers, "
        "one session per model, one run per worker at a time, earliest deadline first; auto: "
        "shared when the box has more than two cameras per core",
    )
    workers: int = Field(
        default=0,
        ge=0,
        le=256,
        description="shared inference workers, each one run at a time on one intra-op thread; "
        "0: the box chooses (one per core)",
    )


@dataclass(frozen=True, slots=True)
class InferencePlan:
    """What runs: `workers` shared workers (0: a session per camera)."""

    workers: int

    @property
    def shared(self) -> bool:
        return self.workers > 0

    def runs(self, model: ModelSpec) -> bool:
        """Whether a camera's model runs on the shared workers: only if the deployment left its
        threads to the box (an explicit `intra_op_threads` keeps its own session) and it runs on
        onnxruntime (OpenVINO runs one request at a time per compiled model)."""
        return self.shared and model.intra_op_threads == 0 and model.backend == "onnxruntime"


def plan_inference(model: InferenceModel, cameras: int, cores: int) -> InferencePlan:
    """Shared workers when asked, or (auto) with more than two cameras per core."""
    # At 2 per core (4 cameras on 2 cores) sessions of their own overran less in both 60 s runs
    # back to back; at 3 and 4 per core the shared workers cut p99 (README, measured table).
    if model.sharing == "per_camera" or (model.sharing == "auto" and cameras <= 2 * cores):
        return InferencePlan(0)
    # One per core: on 2 cores, 8 cameras overran 1157 times in 40 s on 2 workers, 1502 on 1
    # (one worker leaves a core idle while camera threads wait on it).
    return InferencePlan(model.workers or max(1, cores))


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def share_threads(requested: int, cameras: int, cores: int, shared: bool = False) -> int:
    """`requested` if the deployment set one; else 1 on shared workers (a worker runs one
    thread), else the cores shared evenly, at least 1 each."""
    if requested > 0:
        return requested
    return 1 if shared else max(1, cores // max(cameras, 1))


@dataclass(frozen=True, slots=True)
class CameraLoad:
    """What one camera asks of the cores: frames per second, each costing its detect stage's
    median on `threads` intra-op threads (counted as busy on all of them: a conservative bound,
    since onnxruntime's pool spins while it waits)."""

    id: str
    fps: float
    detect_ms: float
    threads: int
    shared: bool = False  # on the shared inference workers

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
