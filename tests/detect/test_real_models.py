"""Both shared models reproduce the reference detections on the real images and video frames."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from plantvision.detect import Detector, ModelSpec, load_detector
from plantvision.detect.boxes import iou_matrix
from plantvision.types import Detections, ImageArray, StageTimes

SCORE_TOL = 0.02
MIN_IOU = 0.9
MODELS = {  # reference key -> (model file, confidence threshold used for the reference)
    "yolox_nano": ("models/yolox_nano.onnx", 0.3),
    "FastestDet": ("models/FastestDet.onnx", 0.5),
}
FRAMES = (0, 100, 400, 700)


@pytest.fixture(scope="module")
def reference(shared_data: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((shared_data / "reference_detections.json").read_text())
    return data


@pytest.fixture(scope="module")
def video_frames(shared_data: Path) -> dict[str, ImageArray]:
    """vtest.avi frames 0/100/400/700, read sequentially as the reference was."""
    cap = cv2.VideoCapture(str(shared_data / "video" / "vtest.avi"))
    frames: dict[str, ImageArray] = {}
    for i in range(max(FRAMES) + 1):
        ok, frame = cap.read()
        assert ok, f"vtest.avi ended before frame {i}"
        if i in FRAMES:
            frames[f"video/vtest.avi#frame{i}"] = frame
    cap.release()
    return frames


@pytest.fixture(scope="module", params=sorted(MODELS))
def model(request: pytest.FixtureRequest, shared_data: Path) -> tuple[str, Detector]:
    key: str = request.param
    path, conf = MODELS[key]
    spec = ModelSpec(
        path=shared_data / path,
        conf_threshold=conf,
        nms_iou=0.45,
        names_file=shared_data / "coco80_classes.txt",
        intra_op_threads=1,
        warmup_runs=0,
    )
    return key, load_detector(spec)


def _image(shared_data: Path, frames: dict[str, ImageArray], name: str) -> ImageArray:
    if "#" in name:
        return frames[name]
    img = cv2.imread(str(shared_data / name))
    assert img is not None, name
    return img


def _assert_persons_match(got: Detections, expected: list[dict[str, Any]], where: str) -> None:
    persons = got.select(got.class_mask(["person"]))
    assert len(persons) == len(expected), f"{where}: {len(persons)} persons"
    if not expected:
        return
    ref_boxes = np.array([e["xyxy"] for e in expected], np.float32)
    iou = iou_matrix(ref_boxes, persons.xyxy)
    for i, e in enumerate(expected):
        j = int(iou[i].argmax())
        assert iou[i, j] >= MIN_IOU, f"{where}: no box matches {e['xyxy']}"
        assert abs(float(persons.confidence[j]) - e["score"]) <= SCORE_TOL, where
        iou[:, j] = -1  # one detection matches one reference box


def _assert_others_match(got: Detections, expected: list[dict[str, Any]], where: str) -> None:
    others = got.select(~got.class_mask(["person"]))
    found = sorted((others.name_of(i), float(others.confidence[i])) for i in range(len(others)))
    want = sorted((e["class"], e["score"]) for e in expected)
    assert [c for c, _ in found] == [c for c, _ in want], where
    assert np.allclose([s for _, s in found], [s for _, s in want], atol=SCORE_TOL), where


def test_model_reproduces_reference_on_every_image_and_frame(
    model: tuple[str, Detector],
    reference: dict[str, Any],
    shared_data: Path,
    video_frames: dict[str, ImageArray],
) -> None:
    """Each reference image and frame gives the same persons (IoU >= 0.9, score +-0.02) and
    the same other classes; the negative images (dog.jpg, coffee.png) hold no person."""
    key, detector = model
    results = reference[key]["results"]
    assert len(results) == 11
    for name, expected in results.items():
        got = detector.detect(_image(shared_data, video_frames, name))
        _assert_persons_match(got, expected["persons"], f"{key} {name}")
        _assert_others_match(got, expected["other"], f"{key} {name}")
    for negative in ("images/dog.jpg", "images/coffee.png"):
        assert not results[negative]["persons"]


def test_detections_lie_inside_the_image(model: tuple[str, Detector], shared_data: Path) -> None:
    """Boxes are in original-image pixels, clipped to the image, sorted by score."""
    _, detector = model
    img = cv2.imread(str(shared_data / "images" / "kite.jpg"))
    d = detector.detect(img)
    h, w = img.shape[:2]
    assert len(d) > 0
    assert (d.xyxy >= 0).all()
    assert (d.xyxy[:, [0, 2]] <= w).all()
    assert (d.xyxy[:, [1, 3]] <= h).all()
    assert (np.diff(d.confidence) <= 0).all()


def test_model_reports_provider_family_and_size(model: tuple[str, Detector]) -> None:
    """The detector says which provider runs, which family decodes, and the input size."""
    key, detector = model
    assert detector.provider == "CPUExecutionProvider"
    assert detector.family == {"yolox_nano": "yolox", "FastestDet": "grid"}[key]
    assert detector.input_size == {"yolox_nano": (416, 416), "FastestDet": (352, 352)}[key]
    assert detector.class_names[0] == "person"
    assert len(detector.class_names) == 80


def test_stage_times_are_filled(model: tuple[str, Detector], shared_data: Path) -> None:
    """detect() adds preprocess, infer and decode durations when given a StageTimes."""
    _, detector = model
    times = StageTimes()
    detector.detect(cv2.imread(str(shared_data / "images" / "person.jpg")), times)
    assert set(times.ns) == {"preprocess", "infer", "decode"}
    assert all(v > 0 for v in times.ns.values())
