"""`plantvision detect` prints JSON lines; `plantvision bench` prints per-stage latency."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from plantvision.cli import main
from plantvision.progress import ProgressBar
from tests.detect.onnx_graphs import constant_model


def test_detect_prints_one_json_line_per_image_and_frame(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One line per image and per sampled video frame, persons with scores and boxes."""
    code = main(
        [
            "detect",
            "--model", str(shared_data / "models" / "yolox_nano.onnx"),
            "--names", str(shared_data / "coco80_classes.txt"),
            "--threads", "1",
            "--every", "100", "--max-frames", "2",
            str(shared_data / "images" / "person.jpg"),
            str(shared_data / "video" / "vtest.avi"),
        ]
    )  # fmt: skip
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["source"].rsplit("/", 1)[1], r["frame"]) for r in lines] == [
        ("person.jpg", 0),
        ("vtest.avi", 0),
        ("vtest.avi", 100),
    ]
    persons = [[d for d in r["detections"] if d["class"] == "person"] for r in lines]
    assert [len(p) for p in persons] == [1, 4, 7]
    assert persons[0][0]["score"] == pytest.approx(0.881, abs=0.02)
    assert {"dog", "horse"} <= {d["class"] for d in lines[0]["detections"]}


def _tiny_model(tmp_path: Path) -> Path:
    out = np.zeros((1, 7, 84), np.float32)
    out[0, :, 0] = [20, 30, 10, 10, 0.9, 0, 0]
    return constant_model(tmp_path / "tiny.onnx", {"output0": out})


def test_bench_prints_stage_table_and_ratio(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """bench reports median/p99/max for each stage, bare session.run, the ratio and fps."""
    code = main(["bench", "--model", str(_tiny_model(tmp_path)), "--runs", "5", "--warmup", "1"])
    out = capsys.readouterr().out
    assert code == 0
    for label in ("pre-process", "inference", "decode+NMS", "whole stage", "bare session.run"):
        assert label in out
    assert "whole stage / bare session.run (median):" in out
    assert "frames/s" in out
    assert "family=yolov8" in out
    assert "provider=CPUExecutionProvider" in out


def test_bench_json_carries_every_stage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints one object with n samples per stage and the ratio to bare."""
    model = str(_tiny_model(tmp_path))
    assert main(["bench", "--model", model, "--runs", "4", "--warmup", "0", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["stats"]) == {"preprocess", "infer", "decode", "whole", "bare"}
    assert all(s["n"] == 4 for s in report["stats"].values())
    assert report["ratio_whole_to_bare"] > 0


def test_bench_reads_model_yaml_relative_to_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A model YAML names its ONNX file relative to the YAML's own folder."""
    _tiny_model(tmp_path)
    spec = tmp_path / "model.yaml"
    spec.write_text("path: tiny.onnx\nintra_op_threads: 1\nwarmup_runs: 0\n")
    assert main(["bench", "--model", str(spec), "--runs", "2", "--warmup", "0"]) == 0
    assert "model=tiny.onnx" in capsys.readouterr().out


def test_progress_bar_redraws_in_place_and_ends_the_line() -> None:
    """The bar draws on its stream with carriage returns and ends with a newline."""
    stream = io.StringIO()
    with ProgressBar(4, "bench", stream=stream, width=4, force=True) as bar:
        for _ in range(4):
            bar.update()
    text = stream.getvalue()
    assert text.endswith("[####] 4/4\n")
    assert text.count("\r") == 5
