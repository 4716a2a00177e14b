"""The quantization card: what `plantvision quantize` measured, kept in the INT8 model itself.

One metadata key holds the figures as JSON, so a card is either whole or absent. The figures
come per backend (onnxruntime, openvino): the same INT8 file runs as different code in each,
so speed and agreement hold only for the runtime they were measured on, and a deployment's
gate reads the set for the backend its camera uses. Agreement is always counted against the
FP32 original on onnxruntime (the reference every backend's INT8 model must decide like).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError

from plantvision.configio import StrictModel
from plantvision.detect.spec import Backend
from plantvision.errors import ModelError

QUANT_KEY = "plantvision_quantization"
REFERENCE = "FP32 on onnxruntime"


class SpeedFigures(StrictModel):
    """Bare inference of the FP32 original and the INT8 model on one backend, one thread count,
    interleaved with every other model timed in the same run."""

    threads: int = Field(ge=1, le=256, description="inference threads")
    runs: int = Field(ge=1, description="timed runs of each model")
    fp32_median_ms: float = Field(gt=0, description="FP32 median on this backend")
    fp32_p99_ms: float = Field(gt=0, description="FP32 99th percentile on this backend")
    int8_median_ms: float = Field(gt=0, description="INT8 median")
    int8_p99_ms: float = Field(gt=0, description="INT8 99th percentile")

    @property
    def ratio_median(self) -> float:
        """How many times faster the INT8 model is than FP32 on this backend, by the medians."""
        return self.fp32_median_ms / self.int8_median_ms

    @property
    def ratio_p99(self) -> float:
        return self.fp32_p99_ms / self.int8_p99_ms


class ClassAgreementFigures(StrictModel):
    """INT8 detections of one class against the reference's, matched at IoU >= iou_match."""

    name: str = Field(description="class name")
    precision: float = Field(ge=0, le=1, description="INT8 detections the reference also made")
    recall: float = Field(ge=0, le=1, description="reference detections INT8 also made")
    fp32_detections: int = Field(ge=0, description="reference detections of this class")
    int8_detections: int = Field(ge=0, description="INT8 detections of this class")


class BackendFigures(StrictModel):
    """What the INT8 model gave on one backend, on the held-out frames."""

    backend: Backend = Field(description="runtime the figures hold for")
    provider: str = Field(description="what ran it (execution provider, or OpenVINO and device)")
    speed: tuple[SpeedFigures, ...] = Field(min_length=1, description="one per thread count")
    detection_agreement: tuple[ClassAgreementFigures, ...] = Field(
        description="per class the reference detected on the held-out frames"
    )
    zone_agreement_pct: float = Field(
        ge=0, le=100, description="held-out frames where every zone's verdict is the reference's"
    )
    fp32_zone_agreement_pct: float = Field(
        ge=0, le=100, description="the same for the FP32 model on this backend (the runtime's own "
        "share of any difference)",
    )  # fmt: skip


class QuantCard(StrictModel):
    """Figures measured on held-out frames (not used for calibration), in one run."""

    scheme: str = Field(description="how it was quantized, e.g. 'static QDQ U8S8 per-channel'")
    made_for: Backend = Field(description="backend the Q/DQ placement and the search targeted")
    reference: str = Field(default=REFERENCE, description="what agreement is counted against")
    calibration_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="hash of the calibration tensors, in order"
    )
    calibration_frames: int = Field(ge=1, description="frames used to calibrate")
    holdout_frames: int = Field(ge=1, description="held-out frames the figures come from")
    conf_threshold: float = Field(ge=0, le=1, description="detection threshold of the figures")
    iou_match: float = Field(gt=0, le=1, description="IoU at which detections match")
    figures: tuple[BackendFigures, ...] = Field(
        min_length=1, description="one set per backend measured"
    )
    zones_sha256: str = Field(description="sha256 of the zone file the verdicts come from")
    excluded_nodes: tuple[str, ...] = Field(description="nodes kept in float")
    command: str = Field(description="the command that made the model")

    def figures_for(self, backend: str) -> BackendFigures | None:
        """The figures measured on `backend`, or None when the card has none for it."""
        return next((f for f in self.figures if f.backend == backend), None)


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
