"""The model description: which ONNX file, which output family, how to pre-process, thresholds.

A family implies the pre-processing its upstream trains with (YOLOX: BGR, top-left letterbox pad
114, pixel values 0..255; FastestDet grid: stretch, /255); anything set explicitly in config wins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from plantvision.configio import StrictModel

Family = Literal["auto", "yolox", "grid", "yolov5", "yolov8", "end2end", "detr"]
Backend = Literal["onnxruntime", "openvino"]
BACKENDS: tuple[Backend, ...] = ("onnxruntime", "openvino")
FAMILIES: tuple[str, ...] = ("yolox", "grid", "yolov5", "yolov8", "end2end", "detr")


class Preprocessing(StrictModel):
    """How a BGR uint8 frame becomes the model's input tensor. None means: the family's default."""

    resize: Literal["letterbox", "stretch"] | None = Field(
        default=None,
        description="letterbox keeps the aspect ratio and pads; stretch fills the input",
    )
    interpolation: Literal["linear", "area", "cubic", "nearest"] | None = Field(
        default=None, description="OpenCV resize interpolation"
    )
    letterbox_align: Literal["top_left", "center"] | None = Field(
        default=None, description="where the resized image sits on the padded canvas"
    )
    pad_value: int | None = Field(
        default=None, ge=0, le=255, description="grey level of the padding"
    )
    channel_order: Literal["bgr", "rgb"] | None = Field(
        default=None, description="channel order the model expects (frames arrive BGR)"
    )
    scale: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="multiplier applied to 0..255 pixels (1/255 = 0.00392...)",
    )
    mean: tuple[float, float, float] | None = Field(
        default=None,
        description="per-channel mean subtracted after scaling, in the model's channel order",
    )
    std: tuple[float, float, float] | None = Field(
        default=None,
        description="per-channel std divided after the mean, in the model's channel order",
    )

    @field_validator("std")
    @classmethod
    def _std_positive(
        cls, v: tuple[float, float, float] | None
    ) -> tuple[float, float, float] | None:
        if v is not None and min(v) <= 0:
            raise ValueError("std values must be > 0 (use 1.0 for no division)")
        return v


class ResolvedPreprocessing(StrictModel):
    """Preprocessing with every value decided (family defaults filled in)."""

    resize: Literal["letterbox", "stretch"] = Field(description="letterbox or stretch")
    interpolation: Literal["linear", "area", "cubic", "nearest"] = Field(
        description="OpenCV resize interpolation"
    )
    letterbox_align: Literal["top_left", "center"] = Field(description="canvas placement")
    pad_value: int = Field(ge=0, le=255, description="grey level of the padding")
    channel_order: Literal["bgr", "rgb"] = Field(description="model channel order")
    scale: float = Field(gt=0, le=1, description="pixel multiplier")
    mean: tuple[float, float, float] = Field(description="per-channel mean")
    std: tuple[float, float, float] = Field(description="per-channel std")


# Upstream conventions. YOLOX >= 0.1.1 feeds raw BGR 0..255 on a top-left 114 canvas;
# FastestDet stretches BGR and divides by 255; ultralytics (v5/v8/v10) centres an RGB letterbox
# padded with 114 and divides by 255; RF-DETR / RT-DETR stretch RGB /255 (RF-DETR adds ImageNet
# mean/std, which config sets, since RT-DETR has none). FastestDet's own onnxruntime example
# resizes with INTER_AREA, and the shared reference detections match that, not INTER_LINEAR
# (scores move by up to 0.15 and boxes appear or vanish with linear).
_FAMILY_DEFAULTS: dict[str, ResolvedPreprocessing] = {
    "yolox": ResolvedPreprocessing(
        resize="letterbox", interpolation="linear", letterbox_align="top_left",
        pad_value=114, channel_order="bgr",
        scale=1.0, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
    ),
    "grid": ResolvedPreprocessing(
        resize="stretch",
        interpolation="area", letterbox_align="top_left", pad_value=0, channel_order="bgr",
        scale=1 / 255, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
    ),
    "ultralytics": ResolvedPreprocessing(
        resize="letterbox", interpolation="linear", letterbox_align="center",
        pad_value=114, channel_order="rgb",
        scale=1 / 255, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
    ),
    "detr": ResolvedPreprocessing(
        resize="stretch",
        interpolation="linear", letterbox_align="top_left", pad_value=0, channel_order="rgb",
        scale=1 / 255, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
    ),
}  # fmt: skip
_DEFAULTS_KEY = {"yolov5": "ultralytics", "yolov8": "ultralytics", "end2end": "ultralytics"}


def family_preprocessing(family: str, override: Preprocessing) -> ResolvedPreprocessing:
    """The family's upstream pre-processing with every value set in `override` taking its place."""
    base = _FAMILY_DEFAULTS[_DEFAULTS_KEY.get(family, family)]
    explicit = {k: v for k, v in override.model_dump().items() if v is not None}
    return base.model_copy(update=explicit)


class ModelSpec(StrictModel):
    """One detector: the ONNX file and everything needed to run it unchanged."""

    path: Path = Field(description="ONNX model file")
    family: Family = Field(
        default="auto", description="output layout; auto detects it from the output shapes"
    )
    input_size: tuple[int, int] | None = Field(
        default=None,
        description="(height, width) in pixels; default: the model's fixed input shape",
    )
    class_names: tuple[str, ...] | None = Field(
        default=None, description="class names in id order; default: ONNX metadata, then names_file"
    )
    names_file: Path | None = Field(
        default=None, description="text file with one class name per line"
    )
    conf_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="detections scoring below this are dropped; default: the model card's "
        "`conf_threshold` (ONNX metadata), else 0.3",
    )
    nms_iou: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description="class-aware NMS drops boxes overlapping more than this; default: the model "
        "card's `nms_iou`, else 0.45",
    )
    max_detections: int = Field(
        default=300, ge=1, le=10_000, description="most detections per frame"
    )
    preprocessing: Preprocessing = Field(
        default_factory=lambda: Preprocessing(),
        description="overrides of the family's pre-processing",
    )
    backend: Backend = Field(
        default="onnxruntime",
        description="inference runtime: onnxruntime, or openvino (OpenVINO's own runtime on the "
        "CPU, the `openvino` extra); decoding and zones are the same whichever runs the model",
    )
    providers: tuple[str, ...] = Field(
        default=("CPUExecutionProvider",),
        min_length=1,
        description="onnxruntime execution providers, tried in order (onnxruntime backend only)",
    )
    intra_op_threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description="inference threads (onnxruntime intra-op, openvino INFERENCE_NUM_THREADS); "
        "0: a deployment shares the box's cores evenly among its cameras (at least 1 each), a "
        "bare model command lets the runtime choose",
    )
    spin_wait: bool | None = Field(
        default=None,
        description="onnxruntime's pool threads busy-wait for the next run instead of sleeping: "
        "a camera alone on the box infers faster (YOLOX-Nano at 15 fps: 5.9-6.5 ms median, "
        "9.4-10.3 without), but spinning threads burn the cores other cameras, the capture "
        "threads and the PLC link need (8 cameras: 37 frames/s decided spinning, 70 not); "
        "default: a deployment spins only with one camera, a bare model command never",
    )
    graph_optimization: Literal["disable", "basic", "extended", "all"] = Field(
        default="all", description="onnxruntime graph optimisation level (onnxruntime backend only)"
    )
    warmup_runs: int = Field(
        default=3, ge=0, le=100, description="inference runs at start, not timed"
    )

    @field_validator("input_size")
    @classmethod
    def _size_bounds(cls, v: tuple[int, int] | None) -> tuple[int, int] | None:
        if v is not None and not all(16 <= s <= 8192 for s in v):
            raise ValueError("input_size is (height, width), each between 16 and 8192 pixels")
        return v

    @model_validator(mode="after")
    def _names_once(self) -> ModelSpec:
        if self.class_names is not None and self.names_file is not None:
            raise ValueError("set class_names or names_file, not both")
        return self
