"""Bad models and media give one-line errors naming the file, exit 2, and no traceback."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from plantvision.cli import main
from plantvision.detect import ModelSpec, load_detector
from plantvision.errors import MediaError, ModelError
from plantvision.frames.media import iter_media
from tests.detect.onnx_graphs import constant_model

YOLOV8 = {"output0": np.zeros((1, 7, 84), np.float32)}


def _model(tmp_path: Path, kind: str) -> Path:
    """Model files that are wrong in one way each."""
    if kind == "missing":
        return tmp_path / "absent.onnx"
    if kind == "corrupt":
        path = tmp_path / "corrupt.onnx"
        path.write_bytes(b"\x08\x07this is not a protobuf" * 10)
        return path
    if kind == "classifier":
        return constant_model(
            tmp_path / "classifier.onnx", {"probs": np.zeros((1, 1000), np.float32)}
        )
    if kind == "two_inputs_shape":
        return constant_model(tmp_path / "gray.onnx", YOLOV8, input_shape=(1, 1, 64, 64))
    return constant_model(tmp_path / "ok.onnx", YOLOV8)


MODEL_CASES = [
    # (model kind, spec overrides, error, message pattern)
    ("missing", {}, ModelError, r"absent\.onnx: model file not found"),
    ("corrupt", {}, ModelError, r"corrupt\.onnx: cannot load model: .*Protobuf"),
    ("classifier", {}, ModelError, r"classifier\.onnx: outputs \[1, 1000\] .* set family"),
    ("ok", {"family": "yolox"}, ModelError, r"ok\.onnx: outputs .* do not fit family yolox"),
    ("ok", {"input_size": (320, 320)}, ModelError, r"ok\.onnx: input size mismatch: .*64x64"),
    ("two_inputs_shape", {}, ModelError, r"gray\.onnx: input .* expected NCHW with 3 channels"),
]


@pytest.mark.parametrize(("kind", "overrides", "error", "pattern"), MODEL_CASES)
def test_bad_model_is_refused_with_a_message_naming_it(
    tmp_path: Path, kind: str, overrides: dict[str, object], error: type[Exception], pattern: str
) -> None:
    """Each broken model raises the expected error whose one line names the file and fault."""
    spec = ModelSpec.model_validate({"path": _model(tmp_path, kind), **overrides})
    with pytest.raises(error, match=pattern) as info:
        load_detector(spec)
    assert "\n" not in str(info.value)


def _media(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / {"missing": "gone.jpg", "jpg": "broken.jpg", "avi": "broken.avi"}[kind]
    if kind != "missing":
        path.write_bytes(b"garbage, not media" * 20)
    return path


MEDIA_CASES = [
    ("missing", r"gone\.jpg: image file not found"),
    ("jpg", r"broken\.jpg: cannot decode image"),
    ("avi", r"broken\.avi: cannot open video|broken\.avi: video holds no readable frame"),
]


@pytest.mark.parametrize(("kind", "pattern"), MEDIA_CASES)
def test_unreadable_media_is_a_media_error(tmp_path: Path, kind: str, pattern: str) -> None:
    """A missing or corrupt image or video raises a MediaError naming the file."""
    with pytest.raises(MediaError, match=pattern):
        list(iter_media(_media(tmp_path, kind)))


@pytest.mark.parametrize(
    ("model_kind", "media_kind", "pattern"),
    [
        ("missing", None, r"absent\.onnx: model file not found"),
        ("corrupt", None, r"corrupt\.onnx: cannot load model"),
        ("classifier", None, r"classifier\.onnx: outputs"),
        ("ok", "jpg", r"broken\.jpg: cannot decode image"),
        ("ok", "avi", r"broken\.avi"),
        ("ok", "missing", r"gone\.jpg: image file not found"),
    ],
)
def test_detect_command_prints_one_line_and_exits_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    model_kind: str,
    media_kind: str | None,
    pattern: str,
) -> None:
    """The CLI turns expected errors into one stderr line and exit code 2, no traceback."""
    media = _media(tmp_path, media_kind) if media_kind else _media(tmp_path, "missing")
    code = main(["detect", "--model", str(_model(tmp_path, model_kind)), str(media)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("plantvision detect: error: ")
    assert "Traceback" not in err
    assert re.search(pattern, err)


def test_bad_yaml_spec_names_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A model YAML with an out-of-range value names the YAML file and the field."""
    spec = tmp_path / "model.yaml"
    spec.write_text("path: ok.onnx\nconf_threshold: 1.5\n")
    code = main(["bench", "--model", str(spec), "--runs", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "model.yaml: conf_threshold:" in err
