"""`plantvision quantize` runs the real quantizer and writes a card; `check` and `run` refuse an
INT8 model without one, or one that decides zones too differently from its FP32 original."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from plantvision.cli import main
from plantvision.detect.model_card import QUANT_KEY, QuantCard
from plantvision.detect.quantize import tools
from plantvision.errors import ModelError
from simulators.plc import PlcSimulator

REPO = Path(__file__).resolve().parents[2]
CELL = REPO / "plantvision" / "models" / "cell_detector.onnx"
DEMO = REPO / "deployments" / "demo.yaml"
# A few frames only: the figures are not the point here, the quantizer, card and gate are.
SMALL = ["--frames", "4", "--holdout-frames", "6", "--runs", "3", "--search-runs", "2",
         "--threads", "1"]  # fmt: skip


def _metadata(path: Path) -> dict[str, str]:
    onnx = tools.require_onnx()
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


@pytest.fixture(scope="module")
def cell_int8(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The cell model quantized on rendered frames of the demo's simulated camera."""
    out = tmp_path_factory.mktemp("q") / "cell_int8.onnx"
    argv = ["quantize", str(CELL), "--calibration", str(DEMO), "--out", str(out), *SMALL,
            "--max-float-blocks", "1"]  # fmt: skip
    assert main(argv) == 0
    return out, " ".join(argv)


def test_quantize_writes_the_card_with_every_figure(
    cell_int8: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The output is INT8, keeps the FP32 model's own card, and records speed, per-class
    agreement, zone agreement, the calibration hash, the float nodes and the command."""
    path, _ = cell_int8
    meta = _metadata(path)
    assert b"QLinearConv" in path.read_bytes() or b"DequantizeLinear" in path.read_bytes()
    assert meta["family"] == "yolov8"  # the FP32 model's metadata came along
    card = QuantCard.model_validate_json(meta[QUANT_KEY])
    assert (card.calibration_frames, card.holdout_frames) == (4, 6)
    assert [s.threads for s in card.speed] == [1]
    assert card.conf_threshold == 0.55  # the demo camera's threshold, not the default
    assert "/cls/Conv" in card.excluded_nodes  # the decode head stays float
    assert "quantize" in card.command
    assert "--calibration" in card.command
    assert len(card.calibration_sha256) == 64


def _deployment(tmp_path: Path, model: Path, port: int, **camera: Any) -> Path:
    data = yaml.safe_load(DEMO.read_text())
    cam = data["cameras"][0]
    cam["source"]["scenario"] = str((DEMO.parent / cam["source"]["scenario"]).resolve())
    cam["zones"] = str((DEMO.parent / cam["zones"]).resolve())
    cam["model"]["path"] = str(model)
    cam.update(camera)
    data["plc"]["port"] = port
    data.pop("demo", None)
    dep = tmp_path / "dep.yaml"
    dep.write_text(yaml.safe_dump(data))
    return dep


def test_check_prints_the_figures(
    cell_int8: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A deployment using a carded INT8 model passes check, which prints its figures."""
    capsys.readouterr()
    dep = _deployment(tmp_path, cell_int8[0], 5020)
    assert main(["check", str(dep), "--runs", "3"]) in (0, 1)  # 1: a budget on a loaded box
    out = capsys.readouterr().out
    assert "INT8 (static QDQ U8S8" in out
    assert "person: precision" in out
    assert "zone decisions:" in out


def _with_card(src: Path, dst: Path, card: dict[str, Any] | None) -> Path:
    shutil.copyfile(src, dst)
    onnx = tools.require_onnx()
    model = onnx.load(str(dst))
    kept = [(p.key, p.value) for p in model.metadata_props if p.key != QUANT_KEY]
    del model.metadata_props[:]
    for key, value in kept:
        model.metadata_props.add(key=key, value=value)
    if card is not None:
        model.metadata_props.add(key=QUANT_KEY, value=json.dumps(card))
    onnx.save(model, str(dst))
    return dst


@pytest.mark.parametrize("command", ["check", "run"])
def test_int8_without_its_card_is_refused(
    cell_int8: tuple[Path, str], tmp_path: Path, sim: PlcSimulator,
    capsys: pytest.CaptureFixture[str], command: str,
) -> None:  # fmt: skip
    """An INT8 model stripped of its card is refused by name, and nothing is energised."""
    bare = _with_card(cell_int8[0], tmp_path / "bare_int8.onnx", None)
    dep = _deployment(tmp_path, bare, sim.port)
    writes = len(sim.write_log)
    assert main([command, str(dep)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert f"{bare}: metadata.{QUANT_KEY}: an INT8 model without the figures" in err[0]
    assert "plantvision quantize" in err[0]
    assert len(sim.write_log) == writes


@pytest.mark.parametrize("command", ["check", "run"])
def test_int8_under_the_zone_agreement_threshold_is_refused(
    cell_int8: tuple[Path, str], tmp_path: Path, sim: PlcSimulator,
    capsys: pytest.CaptureFixture[str], command: str,
) -> None:  # fmt: skip
    """A card showing 99.0 % zone agreement is refused under the default 99.5 %, naming the
    deployment field; the same model passes the gate where the camera accepts 99 %."""
    card = json.loads(_metadata(cell_int8[0])[QUANT_KEY])
    card["zone_agreement_pct"] = 99.0
    low = _with_card(cell_int8[0], tmp_path / "low_int8.onnx", card)
    dep = _deployment(tmp_path, low, sim.port)
    assert main([command, str(dep)]) == 2
    err = capsys.readouterr().err
    assert "cameras[0].int8_min_zone_agreement_pct" in err
    assert "99.0 %" in err
    assert "99.5 %" in err
    assert "low_int8.onnx" in err
    if command == "check":
        lenient = _deployment(tmp_path, low, sim.port, int8_min_zone_agreement_pct=99.0)
        assert main(["check", str(lenient), "--runs", "3"]) in (0, 1)


def test_missing_onnx_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the onnx package the quantizer names the extra to install."""
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    with pytest.raises(ModelError, match=r"pip install 'plantvision\[quantize\]'"):
        tools.require_onnx()
