"""What a model says about itself in its ONNX metadata: family, pre-processing, thresholds.

An export that records how it must be fed and read runs unchanged with no config at all.
Precedence, per value: the deployment's config, then the model's metadata, then the family's
upstream defaults (thresholds: 0.3 and 0.45). Recognised keys: `family`, `resize`,
`letterbox_align`, `pad_value`, `channel_order`, `scale` (a number or a fraction such as
"1/255"), `mean`, `std` (three numbers), `conf_threshold` (0..1), `nms_iou` (0 < x <= 1): a
model whose card says it was validated at 0.55 is run at 0.55 unless the deployment says
otherwise.

An INT8 model made by `plantvision quantize` also carries its quantization card
(`plantvision_quantization`): speed against its FP32 original and how far it decides the same.
"""

from __future__ import annotations

import ast
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from plantvision.configio import StrictModel
from plantvision.detect.spec import FAMILIES, Preprocessing
from plantvision.errors import ModelError

DEFAULT_CONF_THRESHOLD = 0.3
DEFAULT_NMS_IOU = 0.45
_PRE_KEYS = ("resize", "letterbox_align", "pad_value", "channel_order", "scale", "mean", "std")


def _value(key: str, raw: str) -> Any:
    if key == "scale":
        return float(Fraction(raw.strip()))
    if key in ("mean", "std", "pad_value"):
        return ast.literal_eval(raw)
    return raw.strip()


def card_family(metadata: dict[str, str]) -> str | None:
    """The family the model declares, if it is one this detector decodes."""
    family = metadata.get("family", "").strip()
    return family if family in FAMILIES else None


def card_preprocessing(metadata: dict[str, str], model: str) -> Preprocessing:
    """Pre-processing values the model declares (unset fields stay None)."""
    values: dict[str, Any] = {}
    for key in _PRE_KEYS:
        if key in metadata:
            try:
                values[key] = _value(key, metadata[key])
            except (ValueError, SyntaxError, ZeroDivisionError):
                raise ModelError(
                    f"{model}: metadata '{key}' = {metadata[key]!r} is not a valid value"
                ) from None
    try:
        return Preprocessing.model_validate(values)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        raise ModelError(f"{model}: metadata '{err['loc'][0]}': {err['msg']}") from None


def merged_preprocessing(card: Preprocessing, config: Preprocessing) -> Preprocessing:
    """Config values where set, else the model card's."""
    explicit = {k: v for k, v in config.model_dump().items() if v is not None}
    return card.model_copy(update=explicit)


def _unit(metadata: dict[str, str], key: str, model: str, zero_ok: bool) -> float | None:
    raw = metadata.get(key)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (0.0 <= value <= 1.0) or (value == 0.0 and not zero_ok):
        low = "0" if zero_ok else "above 0"
        raise ModelError(f"{model}: metadata '{key}' = {raw!r} is not a number from {low} to 1")
    return value


def resolved_thresholds(
    metadata: dict[str, str], conf: float | None, iou: float | None, model: str
) -> tuple[float, float]:
    """(conf_threshold, nms_iou): config where set, else the model card's, else the defaults."""
    card_conf = _unit(metadata, "conf_threshold", model, zero_ok=True)
    card_iou = _unit(metadata, "nms_iou", model, zero_ok=False)
    conf = conf if conf is not None else card_conf
    iou = iou if iou is not None else card_iou
    return (
        DEFAULT_CONF_THRESHOLD if conf is None else conf,
        DEFAULT_NMS_IOU if iou is None else iou,
    )


# --- The quantization card: what `plantvision quantize` measured, kept in the model itself. ---
#
# One metadata key holds the figures as JSON, so a card is either whole or absent. A deployment
# refuses an INT8 model whose card is missing or under its zone-agreement threshold.

QUANT_KEY = "plantvision_quantization"


class SpeedFigures(StrictModel):
    """Bare `session.run` of the FP32 original and the INT8 model, interleaved, one thread count."""

    threads: int = Field(ge=1, le=256, description="onnxruntime intra-op threads")
    runs: int = Field(ge=1, description="timed runs of each model")
    fp32_median_ms: float = Field(gt=0, description="FP32 median")
    fp32_p99_ms: float = Field(gt=0, description="FP32 99th percentile")
    int8_median_ms: float = Field(gt=0, description="INT8 median")
    int8_p99_ms: float = Field(gt=0, description="INT8 99th percentile")

    @property
    def ratio_median(self) -> float:
        """How many times faster the INT8 model is, by the medians."""
        return self.fp32_median_ms / self.int8_median_ms

    @property
    def ratio_p99(self) -> float:
        return self.fp32_p99_ms / self.int8_p99_ms


class ClassAgreementFigures(StrictModel):
    """INT8 detections of one class against FP32's, matched at IoU >= iou_match."""

    name: str = Field(description="class name")
    precision: float = Field(ge=0, le=1, description="INT8 detections that FP32 also made")
    recall: float = Field(ge=0, le=1, description="FP32 detections that INT8 also made")
    fp32_detections: int = Field(ge=0, description="FP32 detections of this class")
    int8_detections: int = Field(ge=0, description="INT8 detections of this class")


class QuantCard(StrictModel):
    """Figures measured on held-out frames (not used for calibration), in one run."""

    scheme: str = Field(description="how it was quantized, e.g. 'static QDQ U8S8 per-channel'")
    backend: str = Field(description="execution provider the speed was measured on")
    calibration_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="hash of the calibration tensors, in order"
    )
    calibration_frames: int = Field(ge=1, description="frames used to calibrate")
    holdout_frames: int = Field(ge=1, description="held-out frames the figures come from")
    conf_threshold: float = Field(ge=0, le=1, description="detection threshold of the figures")
    iou_match: float = Field(gt=0, le=1, description="IoU at which detections match")
    speed: tuple[SpeedFigures, ...] = Field(min_length=1, description="one per thread count")
    detection_agreement: tuple[ClassAgreementFigures, ...] = Field(
        description="per class FP32 detected on the held-out frames"
    )
    zone_agreement_pct: float = Field(
        ge=0, le=100, description="held-out frames where every zone's verdict is the same (%)"
    )
    zones_sha256: str = Field(description="sha256 of the zone file the verdicts come from")
    excluded_nodes: tuple[str, ...] = Field(description="nodes kept in float")
    command: str = Field(description="the command that made the model")


def card_quantization(metadata: dict[str, str], model: str) -> QuantCard | None:
    """The model's quantization card; None when it has none; a ModelError when it is damaged."""
    raw = metadata.get(QUANT_KEY)
    if raw is None:
        return None
    try:
        return QuantCard.model_validate_json(raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "(json)"
        raise ModelError(
            f"{model}: metadata '{QUANT_KEY}' field {where}: {err['msg']} "
            "(re-run plantvision quantize to write a whole card)"
        ) from None


def quantization_metadata(card: QuantCard) -> dict[str, str]:
    """The metadata entries that carry `card` (the inverse of card_quantization)."""
    return {QUANT_KEY: card.model_dump_json()}


# Operator names that only quantized graphs hold. They are stored as plain UTF-8 in the ONNX
# protobuf, so a byte search finds them without the onnx package; a model carrying none of
# them is not quantized.
_QUANT_OPS = (b"DequantizeLinear", b"QLinearConv", b"ConvInteger", b"MatMulInteger")


def is_quantized_file(path: Path) -> bool:
    """Whether the ONNX file holds quantized operators (QDQ or QOperator, static or dynamic)."""
    data = path.read_bytes()
    return any(op in data for op in _QUANT_OPS)
