"""A deployment that leaves `model.intra_op_threads` at 0 gets the machine's cores shared among its
cameras: one onnxruntime pool per camera, each as wide as all the cores, made 8 cameras on 2 cores
overrun their budget ~990 times in 30 s (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantvision.commands.check import load_line
from plantvision.loop.build import check_camera_files
from plantvision.loop.deployment import load_deployment
from plantvision.loop.threads import CameraLoad, box_load, share_threads

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
