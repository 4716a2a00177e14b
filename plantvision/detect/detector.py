"""The detector stage: pre-process, run the session, decode, NMS, map boxes to image pixels."""

from __future__ import annotations

import ast
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from plantvision.detect.backends import open_session
from plantvision.detect.boxes import nms, to_original
from plantvision.detect.decoders import Candidates
from plantvision.detect.families import Decoder, make_decoder
from plantvision.detect.model_card import (
    card_family,
    card_preprocessing,
    merged_preprocessing,
    resolved_thresholds,
)
from plantvision.detect.names import resolve_names
from plantvision.detect.preprocess import InputTransform, Preprocessor
from plantvision.detect.runtime import ModelSession
from plantvision.detect.spec import ModelSpec, family_preprocessing
from plantvision.errors import ModelError
from plantvision.types import Detections, ImageArray, StageTimes


class Detector:
    """Runs one ONNX detector on BGR frames. Build it with `load_detector(spec)`.

    `provider` is what actually runs the model (an onnxruntime execution provider, or
    OpenVINO: `spec.backend`; decoding is the same code whichever), `family` the decoder in use,
    `input_size` the model's (height, width), `class_names` the names in id order,
    `conf_threshold` / `nms_iou` the values in use (config, else the model card, else defaults),
    `session` what runs the model (its own, or a camera's view of shared workers, shared.py).
    """

    def __init__(
        self,
        spec: ModelSpec,
        session: ModelSession,
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.spec = spec
        self.session = session
        self._clock_ns = clock_ns
        self.provider = session.provider
        self.input_size = _input_size(spec, session)
        shapes = [o.shape for o in session.outputs]
        family: str = spec.family
        if family == "auto":
            family = card_family(session.metadata) or "auto"
        self._decoder: Decoder = make_decoder(family, shapes, self.input_size, str(spec.path))
        self.family: str = self._decoder.family
        card = card_preprocessing(session.metadata, str(spec.path))
        self.preprocessing = family_preprocessing(
            self.family, merged_preprocessing(card, spec.preprocessing)
        )
        self._pre = Preprocessor(self.input_size, self.preprocessing, session.input_dtype)
        self.class_names = resolve_names(session.metadata, spec.class_names, spec.names_file)
        self.conf_threshold, self.nms_iou = resolved_thresholds(
            session.metadata, spec.conf_threshold, spec.nms_iou, str(spec.path)
        )
        self.metadata: dict[str, str] = session.metadata  # the model card, for deployment checks
        for _ in range(spec.warmup_runs):
            self.session.run(self._pre.tensor)

    def detect(self, image: ImageArray, times: StageTimes | None = None) -> Detections:
        """Detections in `image` (HxWx3 uint8 BGR), in its pixels, best score first.

        When `times` is given, adds ns spent to its "preprocess", "infer" and "decode" stages.
        """
        t0 = self._clock_ns()
        tensor, transform = self._pre(image)
        t1 = self._clock_ns()
        outputs = self.session.run(tensor)
        t2 = self._clock_ns()
        dets = self.decode(outputs, transform)
        if times is not None:
            times.add("preprocess", t1 - t0)
            times.add("infer", t2 - t1)
            times.add("decode", self._clock_ns() - t2)
        return dets

    def decode(self, outputs: list[npt.NDArray[Any]], transform: InputTransform) -> Detections:
        """Raw outputs -> Detections: confidence filter, NMS when the family needs it, mapping."""
        spec = self.spec
        cand: Candidates = self._decoder(outputs, self.conf_threshold)
        if cand.scores.size == 0:
            return Detections.empty(self.class_names)
        if self._decoder.needs_nms:
            keep = nms(cand.xyxy, cand.scores, cand.class_id, self.nms_iou, spec.max_detections)
        else:
            keep = np.argsort(-cand.scores, kind="stable")[: spec.max_detections]
        xyxy = to_original(
            cand.xyxy[keep],
            (transform.scale_x, transform.scale_y),
            (transform.pad_x, transform.pad_y),
            transform.orig_hw,
        )
        return Detections(
            xyxy, cand.scores[keep].astype(np.float32), cand.class_id[keep], self.class_names
        )

    def session_run_once(self) -> None:
        """One bare `session.run` on the current input tensor: the benchmark's reference."""
        self.session.run(self._pre.tensor)


def _input_size(spec: ModelSpec, session: ModelSession) -> tuple[int, int]:
    """The model's fixed (h, w); config may only repeat it. Dynamic models need it in config."""
    fixed_h, fixed_w = session.input_shape[2], session.input_shape[3]
    if fixed_h is not None and fixed_w is not None:
        if spec.input_size is not None and spec.input_size != (fixed_h, fixed_w):
            raise ModelError(
                f"{spec.path}: input size mismatch: config input_size "
                f"{spec.input_size[0]}x{spec.input_size[1]} but the model takes "
                f"{fixed_h}x{fixed_w} (remove input_size or set it to [{fixed_h}, {fixed_w}])"
            )
        return (fixed_h, fixed_w)
    if spec.input_size is not None:
        return spec.input_size
    imgsz = _metadata_imgsz(session.metadata)
    if imgsz is not None:
        return imgsz
    raise ModelError(
        f"{spec.path}: the model's input size is dynamic {list(session.input_shape)}; "
        "set input_size [height, width] in the model config"
    )


def _metadata_imgsz(metadata: dict[str, str]) -> tuple[int, int] | None:
    """Ultralytics exports write "imgsz" as "[640, 640]"."""
    try:
        value = ast.literal_eval(metadata.get("imgsz", ""))
    except (ValueError, SyntaxError):
        return None
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int) for v in value)
    ):
        return (int(value[0]), int(value[1]))
    return None


def load_detector(spec: ModelSpec) -> Detector:
    """Open the model and build its Detector; any problem is a ModelError/ConfigError."""
    return Detector(spec, open_session(spec))
