"""The box's threads on /metrics and /api/state: the shared inference workers' served, failed
and skipped requests (real workers running the real YOLOX-Nano session), and the thread
problems the supervisor finds, now and counted."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from plantvision.detect.backends import open_session
from plantvision.detect.shared import InferenceWorkers
from plantvision.errors import ModelError
from plantvision.face.events import EventInbox
from plantvision.face.metrics import Observer
from plantvision.face.state import RunInfo, state_json
from plantvision.loop.supervisor import Watched
from tests.detect.test_shared_inference import WAIT_NS, yolox
from tests.fakes.sessions import SwitchedSession
from tests.loop.rig import Rig
from tests.waiting import wait_for


@pytest.fixture
def workers() -> Iterator[InferenceWorkers]:
    w = InferenceWorkers(1)
    w.start()
    yield w
    w.close()


def test_the_workers_requests_are_counted_on_the_metrics_and_the_state(
    tmp_path: Path, shared_data: Path, workers: InferenceWorkers
) -> None:
    """Three runs served, one that raised (served and failed) and one whose camera gave up
    before it could run (skipped): /metrics and /api/state show exactly these counts."""
    session = SwitchedSession(open_session(yolox(shared_data)))
    tensor = np.zeros((1, 3, 416, 416), np.float32)
    for _ in range(3):
        workers.run(session, tensor, WAIT_NS)
    session.fail = True
    with pytest.raises(ModelError, match="injected"):
        workers.run(session, tensor, WAIT_NS)
    with pytest.raises(ModelError, match="timed out"):
        workers.run(session, tensor, 0)  # gave up at once: never run
    assert wait_for(lambda: workers.stats().skipped == 1, 10)
    rig = Rig(tmp_path)
    rig.cam.inference = workers
    obs = Observer(rig.ctl, EventInbox())
    value = obs.registry.get_sample_value
    got = {k: value("plantvision_inference_requests_total", {"outcome": k}) for k in
           ("served", "failed", "skipped")}  # fmt: skip
    assert got == {"served": 4, "failed": 1, "skipped": 1}
    info = RunInfo("rig", "dep.yaml", "0" * 64, "127.0.0.1:502", time.time())
    (pool,) = json.loads(json.dumps(state_json(obs, info)))["threads"]["inference"]
    assert pool == {"workers": 1, "cameras": ["cam0"], "served": 4, "failed": 1, "skipped": 1}


def test_a_thread_problem_shows_while_it_lasts_and_stays_counted(tmp_path: Path) -> None:
    """A worker the supervisor finds stuck is on the metrics (now: 1) and the state's problems
    until it returns; its onset stays counted."""
    rig = Rig(tmp_path)
    rig.start_running()
    obs = Observer(rig.ctl, EventInbox())
    info = RunInfo("rig", "dep.yaml", "0" * 64, "127.0.0.1:502", time.time())
    value = obs.registry.get_sample_value
    labels = {"thread": "infer-0", "kind": "stuck"}
    stuck = Watched("infer-0", True, rig.clock.ns - 1_000_000_000, 500_000_000)
    watched = [stuck]
    rig.ctl._watched = lambda: watched  # type: ignore[method-assign]
    rig.ctl.supervise()
    assert value("plantvision_thread_problem", labels) == 1
    assert value("plantvision_thread_problems_total", labels) == 1
    threads = state_json(obs, info)["threads"]
    assert threads["problems"] == [{"thread": "infer-0", "kind": "stuck"}]
    watched.clear()
    rig.ctl.supervise()
    assert value("plantvision_thread_problem", labels) is None
    assert value("plantvision_thread_problems_total", labels) == 1
    assert state_json(obs, info)["threads"]["problems"] == []
