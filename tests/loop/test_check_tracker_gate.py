"""`check` holds the tracker's gate against the closest item pitch: a gate of half the pitch
or more lets one item's detection join its neighbour's track, so it is refused (by `run` as
well), naming the file, the field and the fix; without a pitch it warns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from plantvision.cli import main
from simulators.plc import PlcSimulator
from tests.loop.rig import write_frames
from tests.loop.test_bad_deployments import base


def _deployment(tmp_path: Path, port: int, **conveyor: Any) -> Path:
    """A folder camera over a conveyor section with `conveyor`'s fields (None: left out)."""
    data = base(tmp_path, port)
    write_frames(tmp_path / "frames")
    data["cameras"][0]["source"] = {"kind": "folder", "uri": "frames", "fps": 10}
    section = {
        "belt": {"speed_mm_s": 300},
        "mapping": {"mm_per_px": 1.0},
        "ejectors": [{"id": "kicker", "position_mm": 800, "pulse_ms": 40}],
        "longest_item_mm": 60,  # the project's scenes: 60 mm items
        **conveyor,
    }
    data["cameras"][0]["conveyor"] = {k: v for k, v in section.items() if v is not None}
    dep = tmp_path / "dep.yaml"
    dep.write_text(yaml.safe_dump(data))
    return dep


@pytest.mark.parametrize("command", ["check", "run"])
def test_a_gate_of_half_the_pitch_or_more_is_refused(
    tmp_path: Path, sim: PlcSimulator, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """Items 50 mm apart under a 30 mm gate: exit 2, one line naming the file, the field and
    the fix; the PLC gets no write."""
    dep = _deployment(tmp_path, sim.port, gate_mm=30, min_item_pitch_mm=50)
    writes_before = len(sim.write_log)
    assert main([command, str(dep)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert f"{dep}: cameras[0].conveyor.gate_mm: gate_mm 30 mm is not below half" in err[0]
    assert "set gate_mm below 25 mm" in err[0]
    assert len(sim.write_log) == writes_before


@pytest.mark.parametrize(
    ("conveyor", "line"),
    [
        ({"gate_mm": 30, "min_item_pitch_mm": 90}, "ok   tracker gate 30 mm < 45 mm"),
        ({"gate_mm": 30}, "WARNING conveyor.min_item_pitch_mm not set"),
    ],
)
def test_check_states_the_gate_against_the_pitch(
    tmp_path: Path,
    sim: PlcSimulator,
    capsys: pytest.CaptureFixture[str],
    conveyor: dict[str, Any],
    line: str,
) -> None:
    """A gate below half the pitch is stated as passing; a missing pitch is a warning."""
    main(["check", str(_deployment(tmp_path, sim.port, **conveyor)), "--runs", "3"])
    assert line in capsys.readouterr().out
