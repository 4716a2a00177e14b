"""`check` states a conveyor camera's coverage map: what one frame proves, and refuses a view no
longer than the longest item (no frame could prove an item good), naming the file, the field
and the fix. A conveyor without `longest_item_mm` is refused by `check` and `run` alike: reject
unless proven good is the rule, and without it nothing would ever be judged blind."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantvision.cli import main
from simulators.plc import PlcSimulator
from tests.loop.test_check_tracker_gate import _deployment


@pytest.mark.parametrize(
    ("conveyor", "line"),
    [
        ({"longest_item_mm": 60}, "ok   coverage: each frame proves 576 mm of belt"),
        (
            {"longest_item_mm": 60, "ejectors": [{"id": "k", "position_mm": 500, "pulse_ms": 40}]},
            "WARNING ejector k at 500 mm lies before the view's judging line (608 mm)",
        ),
    ],
)
def test_check_states_what_a_frame_proves(
    tmp_path: Path,
    sim: PlcSimulator,
    capsys: pytest.CaptureFixture[str],
    conveyor: dict[str, object],
    line: str,
) -> None:
    """640 px frames at 1 mm/px, less 2 px cut at each border: a 636 mm view; items 60 mm."""
    main(["check", str(_deployment(tmp_path, sim.port, **conveyor)), "--runs", "3"])
    assert line in capsys.readouterr().out


@pytest.mark.parametrize("command", ["check", "run"])
def test_a_conveyor_without_its_longest_item_is_refused(
    tmp_path: Path, sim: PlcSimulator, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """No `longest_item_mm`: exit 2, one line naming the file, the field and the fix, and the
    PLC gets no write. Before, the map stayed off and `check` only warned: items passing the
    camera unseen (a 3 s stall, start-up) went on as good."""
    dep = _deployment(tmp_path, sim.port, longest_item_mm=None)
    writes_before = len(sim.write_log)
    assert main([command, str(dep)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert f"{dep}: cameras[0].conveyor.longest_item_mm: not set" in err[0]
    assert (
        "(fix: set conveyor.longest_item_mm to the longest item the belt carries, in mm; every "
        "item must be seen whole in min_views decided frames to pass as good)" in err[0]
    )
    assert len(sim.write_log) == writes_before


def test_a_view_no_longer_than_the_longest_item_is_refused(
    tmp_path: Path, sim: PlcSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Items of 700 mm in a 636 mm view: exit 2, one line naming the file, the field, the fix."""
    dep = _deployment(tmp_path, sim.port, longest_item_mm=700)
    assert main(["check", str(dep), "--runs", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert (
        f"{dep}: cameras[0].conveyor.longest_item_mm: the view along the belt is 636 mm" in err[0]
    )
    assert "(fix: widen the camera's view along the belt, or correct longest_item_mm)" in err[0]


def test_a_calibrated_image_size_refuses_it_when_the_deployment_loads(
    tmp_path: Path, sim: PlcSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """With mapping.image_size_px the view is known without a frame: `run` refuses it too."""
    mapping = {"mm_per_px": 1.0, "image_size_px": [640, 480]}
    dep = _deployment(tmp_path, sim.port, longest_item_mm=700, mapping=mapping)
    assert main(["run", str(dep)]) == 2
    err = capsys.readouterr().err
    assert f"{dep}: cameras[0].conveyor.longest_item_mm: the view along the belt is 636" in err
    assert "not longer than longest_item_mm 700 mm" in err
