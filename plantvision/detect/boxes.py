"""Box geometry on arrays: class-aware NMS and mapping model-input boxes back to the image.

Pure numpy (no cv2, no onnxruntime). Inputs are the few candidates that passed the confidence
filter, so an N x N IoU matrix is cheap; `max_candidates` bounds it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from plantvision.types import FloatArray, IntArray

IndexArray = npt.NDArray[np.intp]


def cxcywh_to_xyxy(cxcywh: FloatArray) -> FloatArray:
    """N x 4 centre/size boxes to corner boxes, same units."""
    half = cxcywh[:, 2:4] * 0.5
    return np.concatenate([cxcywh[:, 0:2] - half, cxcywh[:, 0:2] + half], axis=1)


def iou_matrix(a: FloatArray, b: FloatArray) -> FloatArray:
    """Pairwise IoU of N x 4 and M x 4 xyxy boxes (N x M); degenerate boxes give 0."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0).astype(np.float32)


def nms(
    xyxy: FloatArray,
    scores: FloatArray,
    class_id: IntArray,
    iou_threshold: float,
    max_keep: int = 300,
    max_candidates: int = 2000,
) -> IndexArray:
    """Class-aware greedy NMS: indices of kept boxes, highest score first.

    A box is dropped when a higher-scoring box of the same class overlaps it with IoU above
    `iou_threshold`. Only the `max_candidates` best-scoring boxes are considered.
    """
    order = np.argsort(-scores, kind="stable")[:max_candidates]
    if order.size == 0:
        return order
    boxes, cls = xyxy[order], class_id[order]
    # Suppression matrix: same class and overlapping too much. Row i suppresses later rows only.
    over = (iou_matrix(boxes, boxes) > iou_threshold) & (cls[:, None] == cls[None, :])
    over = np.triu(over, k=1)
    # Greedy NMS keeps j iff no *kept* earlier box suppresses it. That recursive rule is the
    # fixed point of keep = ~any(over[keep]); iterating from all-kept reaches it in as many
    # steps as the longest suppression chain (usually 2-3), with one array op per step.
    keep = np.ones(order.size, dtype=bool)
    for _ in range(order.size):
        new_keep = ~over[keep].any(axis=0)
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    return order[keep][:max_keep]


def to_original(
    xyxy: FloatArray,
    scale_xy: tuple[float, float],
    pad_xy: tuple[float, float],
    orig_hw: tuple[int, int],
) -> FloatArray:
    """Boxes in model-input pixels -> original-image pixels, clipped to the image.

    `orig = (inp - pad) / scale` per axis; the result lies in [0, W] x [0, H].
    """
    sx, sy = scale_xy
    px, py = pad_xy
    h, w = orig_hw
    offset = np.array([px, py, px, py], dtype=np.float32)
    inv = np.array([1 / sx, 1 / sy, 1 / sx, 1 / sy], dtype=np.float32)
    out = (xyxy.astype(np.float32, copy=False) - offset) * inv
    hi = np.array([w, h, w, h], dtype=np.float32)
    clipped: FloatArray = np.clip(out, 0, hi).astype(np.float32, copy=False)
    return clipped
