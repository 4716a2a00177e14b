"""The bundled cell detector: YOLOv8 layout, self-describing metadata, and it sees the scene."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import pytest

from plantvision.detect import ModelSpec, load_detector
from simulators.scene.evaluate import F32, Yolov8Onnx, evaluate, match_counts, nms
from simulators.scene.randomize import random_scenario
from simulators.scene.render import SceneRenderer

MODEL = Path(__file__).resolve().parents[2] / "plantvision" / "models" / "cell_detector.onnx"
CARD = MODEL.with_suffix(".md")
# Held-out seeds: training draws scenario seeds from 1_000_000 up (simulators/scene/train.py).
HELD_OUT = range(700_000, 700_024)


@pytest.fixture(scope="module")
def model() -> Yolov8Onnx:
    return Yolov8Onnx.load(MODEL, threads=1)


def test_model_is_small_and_has_a_card() -> None:
    """The shipped model is at most 5 MB and has its model card beside it."""
    assert MODEL.stat().st_size <= 5 * 1024 * 1024
    assert "precision" in CARD.read_text()


def test_metadata_says_how_to_feed_and_read_the_model() -> None:
    """Metadata names the family, classes (ultralytics style), size, resize, channels, scale."""
    meta = {p.key: p.value for p in onnx.load(str(MODEL)).metadata_props}
    assert meta["family"] == "yolov8"
    assert ast.literal_eval(meta["names"]) == {0: "person", 1: "item", 2: "defect"}
    assert ast.literal_eval(meta["imgsz"]) == [240, 320]
    assert (meta["resize"], meta["channel_order"], meta["scale"]) == ("stretch", "bgr", "1/255")
    assert 0 < float(meta["conf_threshold"]) < 1


def test_output_is_yolov8_layout(model: Yolov8Onnx) -> None:
    """Input `images` [1,3,240,320]; one output [1, 4+3, N] with scores in 0..1."""
    inp = model.session.get_inputs()[0]
    assert (inp.name, inp.shape) == ("images", [1, 3, 240, 320])
    out = model.infer(np.full((480, 640, 3), 90, np.uint8))
    assert out.shape[:2] == (1, 7)
    assert out.shape[2] > 0
    assert np.all((out[0, 4:] >= 0) & (out[0, 4:] <= 1))
    assert np.all(out[0, 2:4] >= 0)


class ProjectDetector:
    """The product's own detector stage, loaded from the model file alone (no model config:
    family, pre-processing, names, threshold and NMS IoU all come from the model's card)."""

    def __init__(self) -> None:
        self.det = load_detector(ModelSpec(path=MODEL))

    def detect(self, image: npt.NDArray[np.uint8]) -> tuple[F32, npt.NDArray[np.intp], F32]:
        d = self.det.detect(image)
        return np.asarray(d.xyxy), d.class_id.astype(np.intp), np.asarray(d.confidence)


def test_project_detector_reads_the_model_unchanged(model: Yolov8Onnx) -> None:
    """plantvision.detect, given only the file, decodes the same boxes as the independent
    reference decoder (family, pre-processing and names come from the model's metadata)."""
    project = ProjectDetector()
    assert project.det.family == "yolov8"
    assert (project.det.conf_threshold, project.det.nms_iou) == (model.conf, 0.45) == (0.55, 0.45)
    assert project.det.class_names == ("person", "item", "defect")
    renderer = SceneRenderer(random_scenario(HELD_OUT[0]))
    for t in (1.0, 3.0, 5.0):
        img, _ = renderer.render(t)
        ref_boxes, ref_cls, ref_scores = model.detect(img)
        boxes, cls, scores = project.detect(img)
        assert len(boxes) == len(ref_boxes)
        order, ref_order = np.argsort(-scores), np.argsort(-ref_scores)
        np.testing.assert_allclose(boxes[order], ref_boxes[ref_order], atol=1.0)
        assert cls[order].tolist() == ref_cls[ref_order].tolist()


def test_held_out_scenes_meet_the_card_figures() -> None:
    """On unseen rendered scenes, through the project's detector, person and defect precision
    and recall are at least 0.95."""
    counts = evaluate(ProjectDetector(), HELD_OUT, frames=3)
    for name in ("person", "defect"):
        tp, fp, fn = counts[name]
        assert tp + fn > 20, f"too few {name} boxes in the held-out set to judge"
        assert tp / (tp + fp) >= 0.95, (name, counts[name])
        assert tp / (tp + fn) >= 0.95, (name, counts[name])
    tp, fp, fn = counts["item"]
    assert tp / (tp + fp) >= 0.9, counts["item"]
    assert tp / (tp + fn) >= 0.9, counts["item"]


@pytest.mark.parametrize(
    ("truth", "dets", "ignore", "expected"),
    [
        ([[0, 0, 10, 10]], [[0, 0, 10, 10]], None, (1, 0)),
        ([[0, 0, 10, 10]], [[0, 0, 10, 10], [1, 0, 11, 10]], None, (1, 1)),  # duplicate is FP
        ([[0, 0, 10, 10]], [[20, 20, 30, 30]], None, (0, 1)),
        ([], [[20, 20, 30, 30]], [[20, 20, 30, 31]], (0, 0)),  # hard truth: neither
        ([[0, 0, 10, 10]], [[0, 0, 10, 30]], None, (0, 1)),  # IoU 1/3 < 0.5
    ],
)
def test_matching_at_iou_half(
    truth: list[list[float]],
    dets: list[list[float]],
    ignore: list[list[float]] | None,
    expected: tuple[int, int],
) -> None:
    """Each truth box matches at most one detection at IoU >= 0.5; ignored boxes cost nothing."""
    t = np.array(truth, np.float32).reshape(-1, 4)
    d = np.array(dets, np.float32).reshape(-1, 4)
    ign = None if ignore is None else np.array(ignore, np.float32)
    assert match_counts(t, d, ign) == expected


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    """Of two heavily overlapping boxes only the higher-scored survives; a distant one stays."""
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float32)
    keep = nms(boxes, np.array([0.6, 0.9, 0.5], np.float32), 0.45)
    assert keep.tolist() == [1, 2]


NO_TORCH = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="torch is not installed (it is the optional `train` extra, not a dev dependency)",
)


@NO_TORCH
def test_mirrored_targets_equal_targets_of_mirrored_boxes() -> None:
    """The flip augmentation moves targets exactly as re-assigning mirrored boxes would."""
    import dataclasses

    from simulators.scene.randomize import random_scenario
    from simulators.scene.render import SceneRenderer
    from simulators.scene.train import WIDTH, _flip, targets
    from simulators.scene.truth import GroundTruth

    _, gt = SceneRenderer(random_scenario(5)).render(3.0)
    gx, gy = np.meshgrid(np.arange(40) * 8 + 4.0, np.arange(30) * 8 + 4.0)
    anchors = np.stack([gx.ravel(), gy.ravel()]).astype(np.float32)
    mirrored = gt.xyxy.copy()
    mirrored[:, [0, 2]] = 640 - gt.xyxy[:, [2, 0]]
    gt2: GroundTruth = dataclasses.replace(gt, xyxy=mirrored)
    flipped = _flip(*targets(gt, 0.5, 0.5, anchors), WIDTH)
    direct = targets(gt2, 0.5, 0.5, anchors)
    pos = direct[2]
    assert pos.sum() > 0
    for k in (0, 2, 3):  # class targets, positives, valid anchors
        assert np.array_equal(flipped[k], direct[k])
    assert np.allclose(flipped[1][:, pos], direct[1][:, pos])  # boxes matter at positives only


@pytest.mark.slow
@NO_TORCH
def test_smoke_training_exports_a_yolov8_layout_model(tmp_path: Path) -> None:
    """A few training steps export an ONNX file the evaluator loads and runs."""
    import torch

    from simulators.scene import train

    torch.set_num_threads(1)
    out = tmp_path / "tiny.onnx"
    train.train(out, epochs=1, epoch_size=4, batch=2, seed=3, lr=1e-3, pool=2)
    m = Yolov8Onnx.load(out)
    assert m.infer(np.zeros((480, 640, 3), np.uint8)).shape == (1, 7, 1200)
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["family"] == "yolov8"
    assert meta["data_seed"] == "3"
