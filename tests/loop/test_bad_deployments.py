"""Bad deployment files are refused by `check` and by `run`, with the field named, and nothing
is energised: the PLC the file points at receives not a single write."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from plantvision.cli import main
from simulators.plc import PlcSimulator
from tests.detect.onnx_graphs import constant_model
from tests.loop.rig import ZONES, write_frames


def base(tmp_path: Path, port: int) -> dict[str, Any]:
    (tmp_path / "zones.yaml").write_text(ZONES)
    constant_model(tmp_path / "m.onnx", {"out": np.zeros((1, 5, 84), np.float32)})
    (tmp_path / "clip.avi").write_bytes(b"")  # exists; never opened: validation fails first
    return {
        "name": "t",
        "cameras": [{
            "id": "cam0",
            "source": {"kind": "video", "uri": "clip.avi"},
            "model": {"path": "m.onnx", "family": "yolov8", "class_names": ["person"]},
            "zones": "zones.yaml",
        }],
        "plc": {"host": "127.0.0.1", "port": port, "allowed_hosts": ["127.0.0.1"]},
    }  # fmt: skip


def _set(d: dict[str, Any], dotted: str, value: Any) -> None:
    keys = [int(k) if k.isdigit() else k for k in dotted.split(".")]
    for k in keys[:-1]:
        d = d[k]
    if value is DELETE:
        del d[keys[-1]]
    else:
        d[keys[-1]] = value


DELETE = object()

CASES = [
    # (field to change, new value, text the one-line error must contain)
    ("bogus", 1, "bogus: Extra inputs are not permitted"),
    ("cameras", DELETE, "cameras: Field required"),
    ("cameras", [], "cameras: List should have at least 1 item"),
    ("cameras.0.id", "cam 0!", "cameras[0].id: String should match pattern"),
    ("cameras.0.source.kind", "webcam", "cameras[0].source.kind"),
    ("cameras.0.source.uri", "", "cameras[0].source: kind 'video' needs 'uri'"),
    ("cameras.0.source", {"kind": "camera", "uri": "usb"}, "takes a device index"),
    ("cameras.0.source", {"kind": "stream", "uri": "cam.local"}, "takes a URL"),
    ("cameras.0.source.frame_stamps", "camera", "cameras[0].source: frame_stamps 'camera' reads"),
    (
        "cameras.0.source",
        {"kind": "stream", "uri": "rtsp://10.0.0.5/s", "frame_stamps": "camera"},
        "use kind 'stream' with an http://host/... URL, or frame_stamps 'arrival'",
    ),
    ("cameras.0.source.stamp_header", "X-Time", "stamp_header is read only with frame_stamps"),
    ("cameras.0.zones", "nowhere.yaml", "cameras[0].zones: zone file"),
    ("cameras.0.model.path", "missing.onnx", "cameras[0].model.path: model"),
    ("cameras.0.model.conf_threshold", 1.5, "cameras[0].model.conf_threshold"),
    ("cameras.0.source.uri", "gone.avi", "cameras[0].source.uri: video"),
    ("cameras.0.budget_ms", -5, "cameras[0].budget_ms: Input should be greater than 0"),
    ("cameras.0.stall_ms", 0, "cameras[0].stall_ms"),
    ("cameras.0.overrun_policy", "ignore", "cameras[0].overrun_policy"),
    ("plc.host", "10.0.0.9", "plc.host"),
    ("plc.port", 70000, "plc.port"),
    ("plc.unit_id", 300, "plc.unit_id"),
    (
        "plc.signals",
        {
            "permit": {"type": "coil", "address": 0},
            "warning": {"type": "coil", "address": 0},
            "heartbeat": {"type": "holding_register", "address": 0},
        },
        "plc.signals.warning.address",
    ),
    ("guard", {"min_off_ms": -1}, "guard.min_off_ms"),
    ("safety", {"approach": "hand"}, "safety: approach 'hand' needs d_mm"),
    ("cameras.0.budget_ms", float("nan"), "cameras[0].budget_ms"),
    # Fault detection is bounded in time (issue 13 item 7).
    ("cameras.0.frozen_frames", 50, "cameras[0].frozen_frames: frozen_frames is replaced by"),
    ("cameras.0.overrun_policy", "warn", "cameras[0].overrun_policy: 'warn' removes"),
    ("cameras.0.frozen_ms", 0, "cameras[0].frozen_ms"),
    # The reset button's window (issue 13 item 2).
    ("guard", {"reset_min_ms": 1000, "reset_max_ms": 1100}, "guard: reset window"),
    ("guard", {"reset_min_ms": 50}, "guard.reset_min_ms"),
]


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize(("field", "value", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_deployment_is_refused_with_the_field_named(
    tmp_path: Path,
    sim: PlcSimulator,
    capsys: pytest.CaptureFixture[str],
    command: str,
    field: str,
    value: Any,
    message: str,
) -> None:
    """check and run both exit 2 with a one-line error naming the field; no PLC write."""
    data = copy.deepcopy(base(tmp_path, sim.port))
    if field == "cameras" and value is not DELETE and value == []:
        data["cameras"] = []
    else:
        _set(data, field, value)
    dep = tmp_path / "dep.yaml"
    dep.write_text(yaml.safe_dump(data))
    writes_before = len(sim.write_log)
    assert main([command, str(dep)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert str(dep) in err[0] or "zones.yaml" in err[0] or "m.onnx" in err[0]
    assert message in err[0]
    assert len(sim.write_log) == writes_before, "a refused deployment must energise nothing"


def test_yaml_syntax_error_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A deployment that is not valid YAML is refused with its line number."""
    dep = tmp_path / "dep.yaml"
    dep.write_text("name: t\ncameras: [\n")
    assert main(["check", str(dep)]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_invalid_zone_file_is_named(
    tmp_path: Path, sim: PlcSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """A deployment whose zone file is broken names the zone file and its field."""
    data = base(tmp_path, sim.port)
    (tmp_path / "zones.yaml").write_text(ZONES.replace("[500, 400]", "[500, 400], [300, 100]"))
    dep = tmp_path / "dep.yaml"
    dep.write_text(yaml.safe_dump(data))
    assert main(["run", str(dep)]) == 2
    err = capsys.readouterr().err
    assert "zones.yaml" in err
    assert "polygon" in err


# A calibrated zone file: 10 mm of floor per pixel, the stop zone 'press' spans floor
# x 3000..5000, y 2000..4000 mm around a hazard point at its centre.
FLOOR_ZONES = ZONES + (
    "calibration:\n  image_px: [[0, 0], [640, 0], [640, 480], [0, 480]]\n"
    "  floor_mm: [[0, 0], [6400, 0], [6400, 4800], [0, 4800]]\n"
    "hazard_mm: [[4000, 3000]]\n"
)
GARBAGE = bytes(range(128, 256)) * 4 + b"\x00\xff\xfe"

ZONE_CASES = [
    # (name, zone file (text or bytes), deployment changes, texts the one-line error must hold)
    (
        "class typo",
        ZONES.replace("kind: stop,", "kind: stop, classes: [persn],"),
        {},
        ["zones.yaml: zones[0] (id press).classes", "'persn'", "model classes: person"],
    ),
    ("binary garbage", GARBAGE, {}, ["zones.yaml: (file): not UTF-8 text"]),
    (
        "another camera's zones",
        ZONES.replace("camera: cam0", "camera: cam7"),
        {},
        ["zones.yaml: camera: zone file is for camera 'cam7'", "cameras[0] is 'cam0'"],
    ),
    (
        "vertical case for a floor zone",
        FLOOR_ZONES,
        {"safety": {"approach": "body"}},
        ["dep.yaml: safety.approach", "stop zone press", "zones.yaml", "approach: floor"],
    ),
    (
        "hand case for a floor zone",
        FLOOR_ZONES,
        {"safety": {"approach": "hand", "d_mm": 30}},
        ["dep.yaml: safety.approach", "1600 T + 1200"],
    ),
]


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize(
    ("name", "zones", "changes", "messages"), ZONE_CASES, ids=[c[0] for c in ZONE_CASES]
)
def test_bad_zone_file_for_the_deployment_is_refused(
    tmp_path: Path,
    sim: PlcSimulator,
    capsys: pytest.CaptureFixture[str],
    command: str,
    name: str,
    zones: str | bytes,
    changes: dict[str, Any],
    messages: list[str],
) -> None:
    """A zone file that cannot work with its deployment is refused in one line; no PLC write."""
    data = {**base(tmp_path, sim.port), **changes}
    zf = tmp_path / "zones.yaml"
    zf.write_bytes(zones if isinstance(zones, bytes) else zones.encode())
    dep = tmp_path / "dep.yaml"
    dep.write_text(yaml.safe_dump(data))
    writes_before = len(sim.write_log)
    assert main([command, str(dep)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    for text in messages:
        assert text in err[0], err[0]
    assert len(sim.write_log) == writes_before, "a refused deployment must energise nothing"


def test_check_fails_a_floor_zone_that_does_not_surround_the_hazard(
    tmp_path: Path, sim: PlcSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check` prints the floor case's S with its terms and fails a zone beside the hazard."""
    data = base(tmp_path, sim.port)
    write_frames(tmp_path / "frames")
    data["cameras"][0]["source"] = {"kind": "folder", "uri": "frames", "fps": 10}
    (tmp_path / "zones.yaml").write_text(FLOOR_ZONES.replace("[[4000, 3000]]", "[[500, 500]]"))
    dep = tmp_path / "dep.yaml"
    dep.write_text(yaml.safe_dump(data))
    assert main(["check", str(dep), "--runs", "3"]) == 1
    out = capsys.readouterr().out
    assert "ISO 13855 floor" in out
    assert "1600 mm/s" in out
    assert "1200 mm" in out
    assert "FAIL stop zone press" in out
    assert "does not surround the hazard" in out
