"""`plantvision quantize` runs the real quantizer and writes a card; `check` and `run` refuse an
INT8 model without one, or one that decides zones too differently from its FP32 original."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from plantvision.cli import main
from plantvision.detect.quant_card import QUANT_KEY, QuantCard
from plantvision.detect.quantize import tools
from plantvision.errors import ModelError
from simulators.plc import PlcSimulator
from tests.detect.quant_helpers import CELL, DEMO, SMALL, deployment, metadata, with_card


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
    meta = metadata(path)
    assert b"QLinearConv" in path.read_bytes() or b"DequantizeLinear" in path.read_bytes()
    assert meta["family"] == "yolov8"  # the FP32 model's metadata came along
    card = QuantCard.model_validate_json(meta[QUANT_KEY])
    assert (card.calibration_frames, card.holdout_frames) == (4, 6)
    assert card.made_for == "onnxruntime"
    assert [f.backend for f in card.figures] == ["onnxruntime"]
    assert [s.threads for s in card.figures[0].speed] == [1]
    assert card.conf_threshold == 0.55  # the demo camera's threshold, not the default
    assert "/cls/Conv" in card.excluded_nodes  # the decode head stays float
    assert "quantize" in card.command
    assert "--calibration" in card.command
    assert len(card.calibration_sha256) == 64


def test_check_prints_the_figures(
    cell_int8: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A deployment using a carded INT8 model passes check, which prints its figures."""
    capsys.readouterr()
    dep = deployment(tmp_path, cell_int8[0], 5020)
    assert main(["check", str(dep), "--runs", "3"]) in (0, 1)  # 1: a budget on a loaded box
    out = capsys.readouterr().out
    assert "INT8 (static QDQ U8S8" in out
    assert "person: precision" in out
    assert "zone decisions:" in out


@pytest.mark.parametrize("command", ["check", "run"])
def test_int8_without_its_card_is_refused(
    cell_int8: tuple[Path, str], tmp_path: Path, sim: PlcSimulator,
    capsys: pytest.CaptureFixture[str], command: str,
) -> None:  # fmt: skip
    """An INT8 model stripped of its card is refused by name, and nothing is energised."""
    bare = with_card(cell_int8[0], tmp_path / "bare_int8.onnx", None)
    dep = deployment(tmp_path, bare, sim.port)
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
    card = json.loads(metadata(cell_int8[0])[QUANT_KEY])
    card["figures"][0]["zone_agreement_pct"] = 99.0
    low = with_card(cell_int8[0], tmp_path / "low_int8.onnx", card)
    dep = deployment(tmp_path, low, sim.port)
    assert main([command, str(dep)]) == 2
    err = capsys.readouterr().err
    assert "cameras[0].int8_min_zone_agreement_pct" in err
    assert "99.0 %" in err
    assert "99.5 %" in err
    assert "low_int8.onnx" in err
    if command == "check":
        lenient = deployment(tmp_path, low, sim.port, int8_min_zone_agreement_pct=99.0)
        assert main(["check", str(lenient), "--runs", "3"]) in (0, 1)


def test_missing_onnx_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the onnx package the quantizer names the extra to install."""
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    with pytest.raises(ModelError, match=r"pip install 'plantvision\[quantize\]'"):
        tools.require_onnx()
