"""Shared inference workers in the real loop: cameras a and b hand their tensors to one shared
worker running the real YOLOX-Nano session, camera c runs its own session; real threads against
the PLC simulator over TCP. A fault inside the shared worker trips exactly the cameras that wait
on it, each within its own budget, and never camera c."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml
from structlog.testing import capture_logs

from plantvision.detect.shared import SharedSession
from tests.fakes.sessions import SwitchedSession
from tests.loop.live import LiveCell
from tests.loop.twocams import ZONES
from tests.waiting import wait_for

BUDGET_MS = 400  # generous for a loaded machine; the hang trips within it


def deployment(tmp_path: Path, shared: Path, workers: int = 1) -> Path:
    """a and b (threads left to the box) on `workers` shared workers, c with its own session."""
    rng = np.random.default_rng(1)
    cameras = []
    for cam in ("a", "b", "c"):
        folder = tmp_path / f"frames_{cam}"
        folder.mkdir()
        for i in range(6):  # noise: YOLOX sees nobody, so the permit can rise
            image = rng.integers(40, 200, (240, 320, 3), dtype=np.uint8)
            cv2.imwrite(str(folder / f"{i:03d}.png"), image)
        (tmp_path / f"zones_{cam}.yaml").write_text(ZONES.format(cam=cam))
        cameras.append({
            "id": cam,
            "source": {"kind": "folder", "uri": str(folder), "fps": 10, "loop": True},
            "model": {
                "path": str(shared / "models" / "yolox_nano.onnx"), "family": "yolox",
                "names_file": str(shared / "coco80_classes.txt"),
                "intra_op_threads": 1 if cam == "c" else 0,
            },
            "zones": str(tmp_path / f"zones_{cam}.yaml"),
            "budget_ms": BUDGET_MS,
            "stall_ms": 1000,
        })  # fmt: skip
    data = {
        "name": "shared-inference",
        "cameras": cameras,
        "inference": {"sharing": "shared", "workers": workers},
        "plc": {"host": "127.0.0.1", "port": 5020, "allowed_hosts": ["127.0.0.1"],
                "request_timeout_ms": 150, "retries": 1, "heartbeat_period_ms": 50},
        "guard": {"clear_hold_ms": 200, "min_off_ms": 80, "warn_hold_ms": 200},
    }  # fmt: skip
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def cell(tmp_path: Path, shared_data: Path) -> Iterator[tuple[LiveCell, list[dict[str, Any]]]]:
    with capture_logs() as logs:
        c = LiveCell(deployment(tmp_path, shared_data))
        with c:
            yield c, logs


def switch_of(cell: LiveCell, cam: str) -> SwitchedSession:
    """Camera `cam`'s way into the shared worker, with a fault switch around its real session."""
    det: Any = next(c for c in cell.cameras if c.id == cam).detector
    assert isinstance(det.session, SharedSession)
    switched = SwitchedSession(det.session.inner)
    det.session.inner = switched
    return switched


def run_until_permit(cell: LiveCell) -> None:
    for _ in range(5):
        assert wait_for(
            lambda: all(
                c.last_output is not None and c.last_output.state in ("ready_to_reset", "running")
                for c in cell.cameras
            ),
            20,
        )
        cell.sim.press_reset()
        if wait_for(cell.permit_at_plc, 3.0):
            return
    raise AssertionError("permit never reached the PLC")


def trips(logs: list[dict[str, Any]], cam: str, since: int) -> list[dict[str, Any]]:
    return [e for e in logs[since:] if e["event"] == "trip" and e.get("camera") == cam]


def test_the_box_wires_the_shared_worker_and_camera_c_apart(
    cell: tuple[LiveCell, list[dict[str, Any]]],
) -> None:
    """a and b share one session on the shared worker (watched by the supervisor as a thread
    serving a and b); c has its own session and no worker."""
    live, _ = cell
    by_id = {c.id: c for c in live.cameras}
    a, b, c = (by_id[k] for k in "abc")
    assert a.inference is not None
    assert a.inference is b.inference
    assert c.inference is None
    sa: Any = getattr(a.detector, "session", None)
    sb: Any = getattr(b.detector, "session", None)
    assert sa.inner is sb.inner
    assert not isinstance(getattr(c.detector, "session", None), SharedSession)
    watched = {w.name: w for w in live.ctl._watched()}
    assert watched["infer-0"].serves == {"a", "b"}


def test_a_hang_in_the_shared_worker_trips_every_camera_waiting_on_it(
    cell: tuple[LiveCell, list[dict[str, Any]]],
) -> None:
    """Camera a's run hangs inside the one shared worker. a and b both trip on model_error (no
    result within their budget) and the PLC sees permit OFF; c, on its own session, keeps
    deciding and its own guard keeps permitting."""
    live, logs = cell
    switched = switch_of(live, "a")
    run_until_permit(live)
    since = len(logs)
    c = next(cam for cam in live.cameras if cam.id == "c")
    switched.hang.set()
    try:
        assert switched.hanging.wait(10)
        for cam in ("a", "b"):
            assert wait_for(lambda cam=cam: trips(logs, cam, since), 10), f"{cam} never tripped"
            assert "model_error" in trips(logs, cam, since)[0]["faults"]
        assert wait_for(lambda: not live.permit_at_plc(), 5)
        timed_out = [e for e in logs[since:] if e["event"] == "model_error"]
        assert {e["camera"] for e in timed_out} == {"a", "b"}
        assert all(f"within {BUDGET_MS} ms" in e["error"] for e in timed_out)
        frames = c.frames
        assert wait_for(lambda: c.frames > frames + 5, 10), "camera c stopped deciding"
        assert trips(logs, "c", since) == []
        assert c.last_output is not None
        assert c.last_output.permit
    finally:
        switched.release.set()


def test_a_raise_in_the_shared_worker_trips_only_its_own_camera(
    cell: tuple[LiveCell, list[dict[str, Any]]],
) -> None:
    """Camera a's run raises inside the shared worker: a trips on model_error; b, served by the
    same worker, and c go on deciding on their own frames without a trip of their own."""
    live, logs = cell
    switched = switch_of(live, "a")
    run_until_permit(live)
    since = len(logs)
    switched.fail = True
    assert wait_for(lambda: trips(logs, "a", since), 10), "a never tripped"
    assert "model_error" in trips(logs, "a", since)[0]["faults"]
    by_id = {cam.id: cam for cam in live.cameras}
    frames = {k: by_id[k].frames for k in "bc"}
    assert wait_for(lambda: all(by_id[k].frames > frames[k] + 5 for k in "bc"), 10)
    for k in "bc":
        assert trips(logs, k, since) == []
        out = by_id[k].last_output
        assert out is not None
        assert out.permit
