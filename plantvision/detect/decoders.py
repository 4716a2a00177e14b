"""Output decoders, one per model family. Pure numpy: raw output tensors -> candidate boxes.

Every decoder applies the confidence filter first, on the cheapest column that bounds the final
score (objectness, or the max class score), and decodes only the rows that pass. Boxes come out
as xyxy in model-input pixels; `boxes.to_original` maps them back to the image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from plantvision.detect.boxes import cxcywh_to_xyxy
from plantvision.types import FloatArray, IntArray

Outputs = Sequence[npt.NDArray[Any]]
YOLO_STRIDES = (8, 16, 32)


@dataclass(frozen=True, slots=True)
class Candidates:
    """Boxes that passed the confidence filter, before NMS: xyxy in model-input pixels."""

    xyxy: FloatArray
    scores: FloatArray
    class_id: IntArray

    @classmethod
    def empty(cls) -> Candidates:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32))


def _f32(a: npt.NDArray[Any]) -> FloatArray:
    return a if a.dtype == np.float32 else a.astype(np.float32)


def _best_class(scores: FloatArray, conf: float) -> tuple[FloatArray, IntArray, npt.NDArray[Any]]:
    """Per-row best class: (score, class id, mask of rows at or above `conf`)."""
    cid = scores.argmax(axis=1)
    best = np.take_along_axis(scores, cid[:, None], axis=1)[:, 0]
    return best, cid.astype(np.int32), best >= conf


def grid_points(input_hw: tuple[int, int], strides: Sequence[int]) -> tuple[FloatArray, FloatArray]:
    """Anchor-point grid of a multi-stride head: (N x 2 cell x/y, N strides), level by level,
    row-major within a level (row = y * W + x), as YOLOX and YOLOv8 order their outputs."""
    cells, level_strides = [], []
    for s in strides:
        gh, gw = -(-input_hw[0] // s), -(-input_hw[1] // s)
        ys, xs = np.mgrid[0:gh, 0:gw]
        cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        level_strides.append(np.full(gh * gw, s))
    return (
        np.concatenate(cells).astype(np.float32),
        np.concatenate(level_strides).astype(np.float32),
    )


class YoloxDecoder:
    """YOLOX `[1, N, 5+C]`: raw offsets and log-sizes per anchor point, obj and cls sigmoided.

    cx = (o0 + grid_x) * stride, w = exp(o2) * stride; score = obj * cls.
    """

    family = "yolox"
    needs_nms = True

    def __init__(self, input_hw: tuple[int, int], strides: Sequence[int] = YOLO_STRIDES) -> None:
        self.grid, self.strides = grid_points(input_hw, strides)

    def __call__(self, outputs: Outputs, conf: float) -> Candidates:
        out = outputs[0][0]
        rows = np.flatnonzero(out[:, 4] >= conf)  # cls <= 1, so obj bounds the score
        if rows.size == 0:
            return Candidates.empty()
        sub = _f32(out[rows])
        score, cid, ok = _best_class(sub[:, 5:] * sub[:, 4:5], conf)
        sub, rows = sub[ok], rows[ok]
        stride = self.strides[rows, None]
        cxcy = (sub[:, 0:2] + self.grid[rows]) * stride
        wh = np.exp(sub[:, 2:4]) * stride
        return Candidates(cxcywh_to_xyxy(np.concatenate([cxcy, wh], axis=1)), score[ok], cid[ok])


class Yolov5Decoder:
    """YOLOv5/v7 `[1, N, 5+C]`: boxes already cxcywh in input pixels; score = obj * cls."""

    family = "yolov5"
    needs_nms = True

    def __call__(self, outputs: Outputs, conf: float) -> Candidates:
        out = outputs[0][0]
        sub = _f32(out[out[:, 4] >= conf])
        score, cid, ok = _best_class(sub[:, 5:] * sub[:, 4:5], conf)
        return Candidates(cxcywh_to_xyxy(sub[ok, 0:4]), score[ok], cid[ok])


class Yolov8Decoder:
    """YOLOv8/YOLO11 `[1, 4+C, N]`: cxcywh in input pixels, sigmoided class scores, no obj."""

    family = "yolov8"
    needs_nms = True

    def __call__(self, outputs: Outputs, conf: float) -> Candidates:
        out = outputs[0][0]
        cols = np.flatnonzero(out[4:].max(axis=0) >= conf)
        sub = _f32(out[:, cols].T)
        score, cid, _ = _best_class(sub[:, 4:], conf)
        return Candidates(cxcywh_to_xyxy(sub[:, 0:4]), score, cid)


class End2endDecoder:
    """NMS-free `[1, K, 6]` (YOLOv10 style): x1, y1, x2, y2 in input pixels, score, class."""

    family = "end2end"
    needs_nms = False

    def __call__(self, outputs: Outputs, conf: float) -> Candidates:
        out = outputs[0][0]
        sub = _f32(out[out[:, 4] >= conf])
        return Candidates(sub[:, 0:4].copy(), sub[:, 4].copy(), sub[:, 5].astype(np.int32))


class GridDecoder:
    """FastestDet-style single grid `[1, 5+C, GH, GW]`, channel-first.

    Channel 0 obj (sigmoided), 1-2 centre offsets (tanh), 3-4 sizes (sigmoid, normalised to the
    whole image), 5.. class probabilities (softmaxed). score = obj**0.6 * cls**0.4.
    """

    family = "grid"
    needs_nms = True
    OBJ_EXP, CLS_EXP = 0.6, 0.4

    def __init__(self, input_hw: tuple[int, int]) -> None:
        self.input_hw = input_hw

    def __call__(self, outputs: Outputs, conf: float) -> Candidates:
        out = outputs[0][0]
        n_ch, gh, gw = out.shape
        flat = out.reshape(n_ch, gh * gw)
        # cls <= 1 so score <= obj**0.6: cells below conf**(1/0.6) cannot pass.
        cells = np.flatnonzero(flat[0] >= conf ** (1 / self.OBJ_EXP))
        sub = _f32(flat[:, cells].T)
        score_all = sub[:, 0:1] ** self.OBJ_EXP * sub[:, 5:] ** self.CLS_EXP
        score, cid, ok = _best_class(score_all, conf)
        sub, cells = sub[ok], cells[ok]
        in_h, in_w = self.input_hw
        cx = (cells % gw + np.tanh(sub[:, 1])) / gw * in_w
        cy = (cells // gw + np.tanh(sub[:, 2])) / gh * in_h
        w = 1 / (1 + np.exp(-sub[:, 3])) * in_w
        h = 1 / (1 + np.exp(-sub[:, 4])) * in_h
        boxes = cxcywh_to_xyxy(np.stack([cx, cy, w, h], axis=1).astype(np.float32))
        return Candidates(boxes, score[ok], cid[ok])


class DetrDecoder:
    """DETR family (RF-DETR, RT-DETR): normalised cxcywh boxes per query plus class scores.

    Two outputs (boxes `[1, Q, 4]`, logits `[1, Q, C]`, RF-DETR / RT-DETR raw export): the
    sigmoid is applied here. One output `[1, Q, 4+C]` (ultralytics RT-DETR): scores are already
    probabilities. Queries are set predictions, so no NMS.
    """

    family = "detr"
    needs_nms = False

    def __init__(self, input_hw: tuple[int, int], boxes_index: int | None) -> None:
        self.input_hw = input_hw
        self.boxes_index = boxes_index  # None: single fused output

    def __call__(self, outputs: Outputs, conf: float) -> Candidates:
        if self.boxes_index is None:
            fused = outputs[0][0]
            boxes_n, scores = fused[:, :4], fused[:, 4:]
            threshold = conf
        else:
            boxes_n = outputs[self.boxes_index][0]
            scores = outputs[1 - self.boxes_index][0]
            # Compare logits against logit(conf): no sigmoid over all Q x C values.
            threshold = (
                float(np.log(conf / (1 - conf)))
                if 0 < conf < 1
                else (-np.inf if conf <= 0 else np.inf)
            )
        best, cid, ok = _best_class(scores, threshold)
        best, cid = _f32(best[ok]), cid[ok]
        if self.boxes_index is not None:
            best = (1 / (1 + np.exp(-best))).astype(np.float32)
        in_h, in_w = self.input_hw
        size = np.array([in_w, in_h, in_w, in_h], dtype=np.float32)
        return Candidates(cxcywh_to_xyxy(_f32(boxes_n[ok]) * size), best, cid)
