"""A deployment that leaves `model.intra_op_threads` at 0 gets the machine's cores shared among its
cameras: one onnxruntime pool per camera, each as wide as all the cores, made 8 cameras on 2 cores
overrun their budget ~990 times in 30 s (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantvision.commands.check import load_line
from plantvision.loop.build import check_camera_files
from plantvision.loop.deployment import load_deployment
from plantvision.loop.threads import (
    CameraLoad,
    InferenceModel,
    Sharing,
    box_load,
    plan_inference,
    share_threads,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("requested", "cameras", "cores", "threads"),
    [
        (0, 1, 2, 2),  # one camera has the machine
        (0, 2, 2, 1),
        (0, 8, 2, 1),  # never 0 (that would hand the choice back to onnxruntime: all cores)
        (0, 3, 16, 5),  # floor: 15 threads for 3 pools on 16 cores, never 18
        (4, 8, 2, 4),  # a figure in the file is the integrator's, kept
    ],
)
def test_cores_are_shared_among_cameras(
    requested: int, cameras: int, cores: int, threads: int
) -> None:
    assert share_threads(requested, cameras, cores) == threads


def test_camera_files_carry_the_shared_thread_count() -> None:
    dep_file = REPO / "deployments" / "demo.yaml"
    dep = load_deployment(dep_file)
    cam = dep.cameras[0].model_copy(
        update={"model": dep.cameras[0].model.model_copy(update={"intra_op_threads": 0})}
    )
    files = check_camera_files(dep_file, 0, cam, safety=dep.safety, cameras=4, cores=8)
    assert files.model.intra_op_threads == 2


@pytest.mark.parametrize(
    ("cameras", "in_file", "spins"),
    [(1, None, True), (2, None, False), (8, None, False), (2, True, True), (1, False, False)],
)
def test_only_a_camera_alone_on_the_box_spins_unless_the_file_says(
    cameras: int, in_file: bool | None, spins: bool
) -> None:
    """Sessions that never spun cost a camera alone ~3.5 ms a frame (YOLOX-Nano at 15 fps,
    9.4-10.3 ms median against 5.9-6.5 spinning); several spinning sessions starve each other."""
    dep_file = REPO / "deployments" / "demo.yaml"
    dep = load_deployment(dep_file)
    model = dep.cameras[0].model.model_copy(update={"spin_wait": in_file})
    cam = dep.cameras[0].model_copy(update={"model": model})
    files = check_camera_files(dep_file, 0, cam, safety=dep.safety, cameras=cameras, cores=8)
    assert files.model.spin_wait is spins


def _cams(n: int, fps: float, detect_ms: float, threads: int = 1) -> list[CameraLoad]:
    return [CameraLoad(f"c{k}", fps, detect_ms, threads) for k in range(n)]


@pytest.mark.parametrize(
    ("cams", "cores", "verdict"),
    [
        (_cams(4, 10, 12.5), 2, "ok"),  # 25 % of the box
        (_cams(8, 10, 22.0), 2, "busy"),  # 88 %: median fine, p99 not
        (_cams(8, 10, 30.0), 2, "over"),  # 120 %: cannot keep up
        (_cams(1, 20, 45.0, threads=2), 2, "busy"),  # two threads busy for each frame
        (_cams(8, 10, 30.0), 4, "ok"),  # the same cameras on a bigger box
    ],
)
def test_box_load_is_judged_against_the_cores(
    cams: list[CameraLoad], cores: int, verdict: str
) -> None:
    assert box_load(cams, cores)[1] == verdict


def test_check_refuses_a_box_that_cannot_keep_up() -> None:
    line, ok = load_line(_cams(8, 10, 30.0), 2)
    assert not ok
    assert line.lstrip().startswith("FAIL")
    assert "120 % of 2 core(s)" in line
    line, ok = load_line(_cams(8, 10, 22.0), 2)
    assert ok
    assert "loop-bench --cameras 8" in line


@pytest.mark.parametrize(
    ("sharing", "workers", "cameras", "cores", "planned"),
    [
        ("auto", 0, 2, 2, 0),  # as many cameras as cores: a session each, no queue
        ("auto", 0, 4, 2, 0),  # two per core: still a session each
        ("auto", 0, 5, 2, 2),  # more than two per core: shared, a worker per core
        ("auto", 0, 8, 2, 2),
        ("auto", 0, 3, 1, 1),
        ("auto", 0, 12, 4, 4),
        ("auto", 2, 8, 2, 2),  # a figure in the file is the integrator's, kept
        ("per_camera", 0, 8, 2, 0),
        ("shared", 0, 1, 2, 2),
    ],
)
def test_the_box_chooses_shared_workers_from_cameras_and_cores(
    sharing: Sharing, workers: int, cameras: int, cores: int, planned: int
) -> None:
    plan = plan_inference(InferenceModel(sharing=sharing, workers=workers), cameras, cores)
    assert plan.workers == planned
    assert plan.shared == (planned > 0)


def test_a_camera_on_shared_workers_runs_one_thread_unless_the_file_says() -> None:
    """Shared workers run one thread each; an explicit intra_op_threads keeps the camera's own
    session with that many."""
    dep_file = REPO / "deployments" / "demo.yaml"
    dep = load_deployment(dep_file)
    plan = plan_inference(InferenceModel(sharing="shared"), 1, 8)
    first = dep.cameras[0]
    for requested, threads, shared in ((0, 1, True), (3, 3, False)):
        model = first.model.model_copy(update={"intra_op_threads": requested})
        cam = first.model_copy(update={"model": model})
        files = check_camera_files(dep_file, 0, cam, safety=dep.safety, cores=8, plan=plan)
        assert (files.model.intra_op_threads, files.shared) == (threads, shared)


def test_check_judges_shared_cameras_against_the_workers() -> None:
    """8 cameras x 10 fps x 12.5 ms fit 2 cores (50 %) but not 1 worker (100 %: busy)."""
    cams = [CameraLoad(f"c{k}", 10, 12.5, 1, shared=True) for k in range(8)]
    assert load_line(cams, 2)[0].lstrip().startswith("ok")
    line, ok = load_line(cams, 1, ("shared inference", "worker(s)"))
    assert ok
    assert line.lstrip().startswith("warn")
    assert "shared inference:" in line
    assert "100 % of 1 worker(s)" in line
