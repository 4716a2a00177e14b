"""`plantvision loop-bench --cameras N`: N real-time copies of a camera, each judged on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantvision import log as pvlog
from plantvision.commands.cameras_bench import copies, print_run, run_cameras
from plantvision.commands.seam import scene_grabber
from plantvision.loop.build import build_cameras
from plantvision.loop.deployment import load_deployment
from plantvision.loop.threads import share_threads, usable_cores

DEMO = Path(__file__).resolve().parents[2] / "deployments" / "demo.yaml"


def test_copies_build_as_separate_cameras(tmp_path: Path) -> None:
    dep = copies(load_deployment(DEMO), DEMO, 3, 0, tmp_path)
    # build_cameras refuses a zone file that names another camera: each copy has its own
    cams = build_cameras(dep, DEMO, log=pvlog.get(), simulated=scene_grabber)
    assert [c.id for c in cams] == ["cell-1", "cell-2", "cell-3"]
    assert len({c.zones.source for c in cams}) == 3


def test_two_cameras_run_and_print_their_own_figures(capsys: pytest.CaptureFixture[str]) -> None:
    fig = run_cameras(DEMO, 2, 3.0, 0)
    assert [c.id for c in fig.per_camera] == ["cell-1", "cell-2"]
    assert fig.threads == share_threads(0, 2, usable_cores())  # as `run` shares the cores
    for c in fig.per_camera:
        assert c.decided >= 20  # 20 fps for 3 s, with room for a loaded machine
        assert c.e2e.n == c.decided
    assert fig.together.n == sum(c.decided for c in fig.per_camera)
    print_run(fig)
    out = capsys.readouterr().out
    for needle in ("cell-1", "cell-2", "the budget"):
        assert needle in out
