"""NMS and the input->image box mapping keep their invariants for any boxes (Hypothesis)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from plantvision.detect.boxes import iou_matrix, nms, to_original
from plantvision.detect.preprocess import plan_layout
from plantvision.detect.spec import Preprocessing, family_preprocessing

F = npt.NDArray[np.float32]


@st.composite
def box_sets(draw: st.DrawFn, max_n: int = 30) -> tuple[F, F, npt.NDArray[np.int32]]:
    """Up to `max_n` xyxy boxes in a 200 px square, scores in (0, 1], 3 classes."""
    n = draw(st.integers(0, max_n))
    xy = draw(arrays(np.float32, (n, 2), elements=st.floats(0, 150, width=32)))
    wh = draw(arrays(np.float32, (n, 2), elements=st.floats(1, 50, width=32)))
    scores = draw(arrays(np.float32, n, elements=st.floats(0.0625, 1, width=32), unique=True))
    cls = draw(arrays(np.int32, n, elements=st.integers(0, 2)))
    return np.concatenate([xy, xy + wh], axis=1), scores, cls


@settings(max_examples=150, deadline=None)
@given(box_sets(), st.floats(0.1, 0.9))
def test_nms_keeps_no_same_class_overlap_and_explains_every_drop(
    boxes: tuple[F, F, npt.NDArray[np.int32]], thr: float
) -> None:
    """Kept boxes are best-first and never overlap a same-class kept box above the threshold;
    every dropped box overlaps a higher-scoring kept box of its own class."""
    xyxy, scores, cls = boxes
    keep = nms(xyxy, scores, cls, thr)
    assert len(set(keep.tolist())) == len(keep)
    assert (np.diff(scores[keep]) <= 0).all()
    iou = iou_matrix(xyxy, xyxy)
    same = cls[:, None] == cls[None, :]
    kk = np.ix_(keep, keep)
    assert not np.triu((iou[kk] > thr) & same[kk], k=1).any()
    dropped = np.setdiff1d(np.arange(len(scores)), keep)
    for d in dropped:
        blockers = keep[(iou[d, keep] > thr) & same[d, keep] & (scores[keep] >= scores[d])]
        assert blockers.size > 0


@settings(max_examples=100, deadline=None)
@given(box_sets(), st.floats(0.1, 0.9))
def test_nms_is_per_class(boxes: tuple[F, F, npt.NDArray[np.int32]], thr: float) -> None:
    """NMS over all classes keeps exactly the union of NMS run on each class alone."""
    xyxy, scores, cls = boxes
    together = set(nms(xyxy, scores, cls, thr).tolist())
    apart: set[int] = set()
    for c in np.unique(cls):
        idx = np.flatnonzero(cls == c)
        apart |= set(idx[nms(xyxy[idx], scores[idx], cls[idx], thr)].tolist())
    assert together == apart


@settings(max_examples=100, deadline=None)
@given(box_sets(), st.integers(-100, 100), st.integers(-100, 100))
def test_nms_ignores_where_the_boxes_are(
    boxes: tuple[F, F, npt.NDArray[np.int32]], dx: int, dy: int
) -> None:
    """Moving every box by the same whole-pixel offset keeps the same boxes."""
    xyxy, scores, cls = boxes
    # Whole-pixel boxes: areas and overlaps stay exact under a whole-pixel shift, so an IoU
    # that sits exactly on the threshold cannot round differently after the move.
    xyxy = np.round(xyxy)
    moved = xyxy + np.array([dx, dy, dx, dy], np.float32)
    a = nms(xyxy.astype(np.float64), scores, cls, 0.5)
    b = nms(moved.astype(np.float64), scores, cls, 0.5)
    assert a.tolist() == b.tolist()


def test_nms_keeps_at_most_max_keep() -> None:
    """max_keep bounds the result to the best boxes."""
    xyxy = np.array([[i * 10, 0, i * 10 + 5, 5] for i in range(10)], np.float32)
    scores = np.linspace(0.9, 0.1, 10).astype(np.float32)
    assert nms(xyxy, scores, np.zeros(10, np.int32), 0.5, max_keep=3).tolist() == [0, 1, 2]


@settings(max_examples=200, deadline=None)
@given(
    st.integers(16, 2000),
    st.integers(16, 2000),
    st.sampled_from([(416, 416), (352, 352), (640, 384)]),
    st.sampled_from(["yolox", "grid", "yolov8"]),
    st.lists(st.floats(0, 1), min_size=4, max_size=4),
)
def test_box_mapping_inverts_the_preprocessing_layout(
    h: int, w: int, input_hw: tuple[int, int], family: str, frac: list[float]
) -> None:
    """A box in the image, carried to input pixels the way pre-processing moves pixels, maps
    back to itself (to within a pixel of float error), and never leaves the image."""
    pp = family_preprocessing(family, Preprocessing())
    t = plan_layout((h, w), input_hw, pp).transform
    x1, x2 = sorted((frac[0] * w, frac[1] * w))
    y1, y2 = sorted((frac[2] * h, frac[3] * h))
    orig = np.array([[x1, y1, x2, y2]], np.float32)
    scale = np.array([t.scale_x, t.scale_y] * 2, np.float32)
    pad = np.array([t.pad_x, t.pad_y] * 2, np.float32)
    back = to_original(orig * scale + pad, (t.scale_x, t.scale_y), (t.pad_x, t.pad_y), (h, w))
    np.testing.assert_allclose(back, orig, atol=1e-3 * max(h, w))


@settings(max_examples=100, deadline=None)
@given(arrays(np.float32, (8, 4), elements=st.floats(-500, 1500, width=32)))
def test_mapped_boxes_are_clipped_to_the_image(inp: F) -> None:
    """Whatever the model emits, mapped boxes lie inside [0, W] x [0, H]."""
    out = to_original(inp, (0.5, 0.25), (3.0, 7.0), (480, 640))
    assert (out >= 0).all()
    assert (out[:, [0, 2]] <= 640).all()
    assert (out[:, [1, 3]] <= 480).all()
