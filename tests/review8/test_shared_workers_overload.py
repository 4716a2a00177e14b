"""Shared inference workers under overload never run a request they cannot finish in time.

`InferenceWorkers` takes requests earliest deadline first. It skipped one only when its
deadline had already passed when it was popped: one popped a moment before its deadline still
ran, ended after it, and its camera, which gave up at the deadline, never took the result; the
next request, now nearer its own deadline, went the same way (the known collapse of earliest
deadline first under overload). Measured before the fix (a 10 ms fake session, one worker,
cameras asking every 30 ms and waiting 32 ms, 3 s each, load average 1.8 on the shared 2-core
VM): 3 cameras (100 % load) 294 of 297 runs delivered; 4 cameras (133 %) the worker still ran
295 times but only 41 results reached their cameras (86 % of the runs wasted, each camera
tripping model_error in 5 cycles out of 6); 5 cameras 23 of 296. Fixed (review 8): a request
that even the fastest of its session's recent runs would finish past its deadline is skipped.

Here, deterministically: one worker on an injected clock that each run of a real onnxruntime
session advances by 900 ms; four cameras queue at 0 with 3000 ms to wait. The fourth is popped
at 2700 ms: it cannot finish before 3000 ms, so it is skipped (its camera gets a ModelError),
not run to end at 3600 ms.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from plantvision.detect import ModelSpec
from plantvision.detect.backends import open_session
from plantvision.detect.runtime import ModelSession
from plantvision.detect.shared import InferenceWorkers
from plantvision.errors import ModelError
from tests.waiting import wait_for

RUN_NS = 900_000_000
WAIT_NS = 3_000_000_000


class ClockedSession:
    """A real session whose every run advances the workers' clock by RUN_NS."""

    def __init__(self, inner: ModelSession, clock: list[int]) -> None:
        self.inner, self.clock = inner, clock
        self.provider, self.input_name = inner.provider, inner.input_name
        self.input_shape, self.input_dtype = inner.input_shape, inner.input_dtype
        self.outputs, self.metadata = inner.outputs, inner.metadata

    def run(self, tensor: npt.NDArray[Any]) -> list[npt.NDArray[Any]]:
        out = self.inner.run(tensor)
        self.clock[0] += RUN_NS
        return out


def test_a_request_that_cannot_finish_before_its_camera_gives_up_is_not_run(
    shared_data: Path,
) -> None:
    spec = ModelSpec(path=shared_data / "models" / "yolox_nano.onnx", family="yolox",
                     names_file=shared_data / "coco80_classes.txt", intra_op_threads=1)  # fmt: skip
    clock = [0]
    session = ClockedSession(open_session(spec), clock)
    tensor = np.zeros((1, 3, 416, 416), np.float32)
    workers = InferenceWorkers(1, clock_ns=lambda: clock[0])
    got: list[str] = []

    def camera() -> None:
        try:
            workers.run(session, tensor, WAIT_NS)
            got.append("result")
        except ModelError:
            got.append("model_error")

    threads = [threading.Thread(target=camera) for _ in range(4)]
    for t in threads:
        t.start()
    assert wait_for(lambda: len(workers._queue) == 4, 5.0)  # all queued before any runs
    workers.start()
    for t in threads:
        t.join(10.0)
    workers.close()
    assert sorted(got) == ["model_error", "result", "result", "result"]
    assert (workers.stats().served, workers.stats().skipped) == (3, 1)
