"""The INT8 gate: `check` and `run` refuse a quantized model that has not shown it decides like
its FP32 original on the backend the camera runs it on.

A quantized file without its card (`plantvision quantize` writes it), with figures for another
backend only, or whose zone-decision agreement there is under the camera's
`int8_min_zone_agreement_pct`, is a ConfigError naming the field and the fix.
"""

from __future__ import annotations

from pathlib import Path

from plantvision.detect import Detector
from plantvision.detect.quant_card import (
    QUANT_KEY,
    BackendFigures,
    QuantCard,
    card_quantization,
    is_quantized_file,
)
from plantvision.errors import ConfigError
from plantvision.loop.deployment import CameraModel


def check_quantized(
    dep_file: Path, index: int, cam: CameraModel, detector: Detector
) -> tuple[QuantCard, BackendFigures] | None:
    """An INT8 model's card and the figures it holds for the backend this camera runs it on,
    or a ConfigError when it has none or decides zones too differently from its FP32 original
    there; None for a float model."""
    path, backend = detector.spec.path, detector.spec.backend
    card = card_quantization(detector.metadata, str(path))
    if card is None:
        if not is_quantized_file(path):
            return None
        raise ConfigError(
            str(path), f"metadata.{QUANT_KEY}",
            "an INT8 model without the figures that show it decides like its FP32 original",
            "make it with `plantvision quantize FP32.onnx --calibration SOURCE --out OUT.onnx`, "
            "or use the FP32 model",
        )  # fmt: skip
    figures = card.figures_for(backend)
    if figures is None:
        measured = ", ".join(f.backend for f in card.figures)
        raise ConfigError(
            str(dep_file), f"cameras[{index}].model.backend",
            f"INT8 model {path} runs on {backend} here, but its card holds figures for "
            f"{measured} only: the same file is different code on another runtime",
            f"re-run plantvision quantize with --backend {backend}, or set backend: {measured}",
        )  # fmt: skip
    floor = cam.int8_min_zone_agreement_pct
    if figures.zone_agreement_pct < floor:
        raise ConfigError(
            str(dep_file), f"cameras[{index}].int8_min_zone_agreement_pct",
            f"INT8 model {path} on {backend} gives the FP32 zone verdict on "
            f"{figures.zone_agreement_pct:.1f} % of held-out frames, under this camera's "
            f"{floor:g} %",
            "use the FP32 model, or re-quantize (more calibration frames, "
            "--max-float-blocks) until it reaches the threshold",
        )  # fmt: skip
    return card, figures
