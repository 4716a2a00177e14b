"""The quantization card travels in the model's metadata, whole or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plantvision.detect.quant_card import (
    QUANT_KEY,
    BackendFigures,
    ClassAgreementFigures,
    QuantCard,
    SpeedFigures,
    card_quantization,
    is_quantized_file,
    quantization_metadata,
)
from plantvision.errors import ModelError

REPO = Path(__file__).resolve().parents[2]


def figures(backend: str = "onnxruntime", zone_pct: float = 99.6) -> BackendFigures:
    return BackendFigures.model_validate(dict(
        backend=backend, provider="CPUExecutionProvider",
        speed=(SpeedFigures(threads=1, runs=100, fp32_median_ms=12.0, fp32_p99_ms=20.0,
                            int8_median_ms=8.0, int8_p99_ms=10.0),),
        detection_agreement=(ClassAgreementFigures(name="person", precision=0.99, recall=0.97,
                                                   fp32_detections=300, int8_detections=294),),
        zone_agreement_pct=zone_pct, fp32_zone_agreement_pct=100.0,
    ))  # fmt: skip


def card(**update: object) -> QuantCard:
    c = QuantCard(
        scheme="static QDQ U8S8", made_for="onnxruntime", calibration_sha256="a" * 64,
        calibration_frames=20, holdout_frames=100, conf_threshold=0.3, iou_match=0.5,
        figures=(figures(),), zones_sha256="b" * 64, excluded_nodes=("Conv_1",),
        command="plantvision quantize m.onnx --calibration v.avi --out q.onnx",
    )  # fmt: skip
    return c.model_copy(update=update)


def test_card_round_trips_through_metadata() -> None:
    c = card()
    assert card_quantization(quantization_metadata(c), "q.onnx") == c
    assert c.figures[0].speed[0].ratio_median == 1.5
    assert c.figures[0].speed[0].ratio_p99 == 2.0


def test_figures_are_found_only_for_the_backend_they_were_measured_on() -> None:
    """A card measured on onnxruntime has nothing to say about OpenVINO, and the other way."""
    c = card(figures=(figures("openvino", 99.9),))
    assert c.figures_for("openvino") is not None
    assert c.figures_for("openvino").zone_agreement_pct == 99.9  # type: ignore[union-attr]
    assert c.figures_for("onnxruntime") is None


def test_a_model_without_a_card_has_none() -> None:
    assert card_quantization({"family": "yolox"}, "m.onnx") is None


def test_a_card_missing_a_figure_is_refused_naming_it() -> None:
    """A card without zone agreement is damaged: the error names the file and the field."""
    raw = json.loads(card().model_dump_json())
    del raw["figures"][0]["zone_agreement_pct"]
    with pytest.raises(ModelError, match=r"q\.onnx: metadata 'plantvision_quantization' field "
                       r"figures\.0\.zone_agreement_pct: Field required"):  # fmt: skip
        card_quantization({QUANT_KEY: json.dumps(raw)}, "q.onnx")


def test_float_models_are_not_taken_for_quantized(tmp_path: Path) -> None:
    """The shipped cell model is float; a file holding a DequantizeLinear node is not."""
    assert not is_quantized_file(REPO / "plantvision" / "models" / "cell_detector.onnx")
    q = tmp_path / "q.onnx"
    q.write_bytes(b"\x08\x07...\x12\x10DequantizeLinear...")
    assert is_quantized_file(q)
