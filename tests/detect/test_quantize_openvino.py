"""`plantvision quantize --backend openvino` makes an INT8 model for OpenVINO and measures it
beside onnxruntime; `check` and `run` judge the figures of the backend the camera uses."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from plantvision.cli import main
from plantvision.detect.quant_card import QUANT_KEY, QuantCard
from plantvision.detect.quantize import tools
from simulators.plc import PlcSimulator
from tests.detect.quant_helpers import CELL, DEMO, SMALL, deployment, metadata, with_card


@pytest.fixture(scope="module")
def cell_int8_ov(openvino: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cell model quantized for OpenVINO on rendered frames of the demo's camera."""
    out = tmp_path_factory.mktemp("qov") / "cell_int8_ov.onnx"
    argv = ["quantize", str(CELL), "--calibration", str(DEMO), "--out", str(out), *SMALL,
            "--max-float-blocks", "0", "--backend", "openvino"]  # fmt: skip
    assert main(argv) in (0, 1)  # 1: under the targets on six frames, not judged here
    return out


@pytest.fixture(scope="module")
def cell_int8_ort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cell model quantized for onnxruntime only: its card has no OpenVINO figures."""
    out = tmp_path_factory.mktemp("qort") / "cell_int8.onnx"
    argv = ["quantize", str(CELL), "--calibration", str(DEMO), "--out", str(out), *SMALL,
            "--max-float-blocks", "0"]  # fmt: skip
    assert main(argv) in (0, 1)
    return out


def _producers(path: Path) -> dict[str, str]:
    graph = tools.load_graph(path)
    return {o: n.op_type for n in graph.node for o in n.output}


def test_the_openvino_model_carries_both_backends_figures(
    openvino: None, cell_int8_ov: Path
) -> None:
    """Made for OpenVINO: figures on onnxruntime (the reference backend) and on OpenVINO, each
    naming what ran it; and the Q/DQ pairs sit at conv inputs, never on a conv's output (where
    they would keep OpenVINO from fusing conv, activation and requantize into one INT8 conv)."""
    card = QuantCard.model_validate_json(metadata(cell_int8_ov)[QUANT_KEY])
    assert card.made_for == "openvino"
    assert "conv inputs only" in card.scheme
    assert [f.backend for f in card.figures] == ["onnxruntime", "openvino"]
    ov = card.figures_for("openvino")
    assert ov is not None
    assert ov.provider.startswith("OpenVINO")
    assert ov.detection_agreement  # the reference found something on the held-out frames
    graph = tools.load_graph(cell_int8_ov)
    made_by = _producers(cell_int8_ov)
    quantized_conv_outputs = [
        n.name
        for n in graph.node
        if n.op_type == "QuantizeLinear" and made_by.get(n.input[0]) == "Conv"
    ]
    assert quantized_conv_outputs == []
    assert any(n.op_type == "DequantizeLinear" for n in graph.node)


def test_check_on_openvino_prints_the_openvino_figures(
    openvino: None, cell_int8_ov: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check states the backend and prints the card's figures for that backend."""
    capsys.readouterr()
    dep = deployment(tmp_path, cell_int8_ov, 5020, backend="openvino")
    assert main(["check", str(dep), "--runs", "3"]) in (0, 1)  # 1: a budget on a loaded box
    out = capsys.readouterr().out
    assert "backend openvino (OpenVINO" in out
    assert "on openvino (OpenVINO" in out
    assert "also measured on: onnxruntime" in out


@pytest.mark.parametrize("command", ["check", "run"])
def test_int8_without_figures_for_the_cameras_backend_is_refused(
    openvino: None, cell_int8_ort: Path, tmp_path: Path, sim: PlcSimulator,
    capsys: pytest.CaptureFixture[str], command: str,
) -> None:  # fmt: skip
    """A card measured on onnxruntime only vouches for nothing on OpenVINO: a camera running
    that model on openvino is refused, naming the field and the fix; nothing is energised."""
    dep = deployment(tmp_path, cell_int8_ort, sim.port, backend="openvino")
    writes = len(sim.write_log)
    assert main([command, str(dep)]) == 2
    err = capsys.readouterr().err
    assert f"{dep}: cameras[0].model.backend: INT8 model" in err
    assert "holds figures for onnxruntime only" in err
    assert "--backend openvino" in err
    assert len(sim.write_log) == writes


def test_the_gate_judges_the_backend_in_use(
    openvino: None, cell_int8_ov: Path, tmp_path: Path, sim: PlcSimulator,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """OpenVINO figures at 99.0 % zone agreement, onnxruntime's at 100 %: the camera on
    openvino is refused, the same file on onnxruntime passes the gate."""
    card = json.loads(metadata(cell_int8_ov)[QUANT_KEY])
    for f in card["figures"]:
        f["zone_agreement_pct"] = 99.0 if f["backend"] == "openvino" else 100.0
    model = with_card(cell_int8_ov, tmp_path / "ov_low.onnx", card)
    on_ov = deployment(tmp_path, model, sim.port, backend="openvino")
    assert main(["check", str(on_ov), "--runs", "3"]) == 2
    err = capsys.readouterr().err
    assert "cameras[0].int8_min_zone_agreement_pct" in err
    assert "on openvino gives the FP32 zone verdict on 99.0 %" in err
    on_ort = deployment(tmp_path, model, sim.port, backend="onnxruntime")
    assert main(["check", str(on_ort), "--runs", "3"]) in (0, 1)
    assert "int8_min_zone_agreement_pct" not in capsys.readouterr().err


def test_quantize_for_openvino_without_the_package_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--backend openvino without the package fails at once, naming the extra."""
    monkeypatch.setitem(sys.modules, "openvino", None)  # makes `import openvino` fail
    out = tmp_path / "never.onnx"
    argv = ["quantize", str(CELL), "--calibration", str(DEMO), "--out", str(out), *SMALL,
            "--backend", "openvino"]  # fmt: skip
    assert main(argv) == 2
    assert "pip install 'plantvision[openvino]'" in capsys.readouterr().err
    assert not out.exists()
