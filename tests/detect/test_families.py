"""Every output family decodes through onnxruntime, from tiny graphs that emit known tensors.

The image is 64 high and 128 wide, the model input 64x64. Ultralytics families letterbox it
centred (scale 0.5, 16 px padding top), YOLOX top-left (scale 0.5, no padding), grid and DETR
stretch it (x scale 0.5, y scale 1). In input pixels the two objects are class 1 at
xyxy (15,25,25,35) score 0.72 and class 0 at (16,25,26,35) score 0.81.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from plantvision.detect import ModelSpec, load_detector
from plantvision.detect.families import anchor_points, detect_family
from plantvision.errors import ModelError
from tests.detect.onnx_graphs import constant_model

F = npt.NDArray[np.float32]
IMAGE = np.full((64, 128, 3), 60, np.uint8)
N = anchor_points((64, 64))  # 84 anchor points at strides 8/16/32


def logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def yolov5_out() -> dict[str, F]:
    out = np.zeros((1, 3 * N, 8), np.float32)
    out[0, 0] = [20, 30, 10, 10, 0.9, 0.1, 0.8, 0.1]  # class 1, 0.72
    out[0, 1] = [21, 30, 10, 10, 0.8, 0.0, 0.8, 0.0]  # class 1, 0.64: suppressed by row 0
    out[0, 2] = [21, 30, 10, 10, 0.9, 0.9, 0.0, 0.0]  # class 0, 0.81: other class, kept
    out[0, 3] = [40, 40, 10, 10, 0.2, 1.0, 0.0, 0.0]  # below the confidence threshold
    return {"output0": out}


def yolov8_out() -> dict[str, F]:
    rows = yolov5_out()["output0"][0, :4]
    cols = np.concatenate([rows[:, :4], rows[:, 4:5] * rows[:, 5:]], axis=1)
    out = np.zeros((1, 7, N), np.float32)
    out[0, :, :4] = cols.T
    return {"output0": out}


def end2end_out() -> dict[str, F]:
    out = np.zeros((1, 10, 6), np.float32)
    out[0, 0] = [15, 25, 25, 35, 0.72, 1]
    out[0, 1] = [16, 25, 26, 35, 0.81, 0]
    out[0, 2] = [40, 40, 50, 50, 0.10, 2]
    return {"output0": out}


def yolox_out() -> dict[str, F]:
    out = np.zeros((1, N, 8), np.float32)
    # Row 19 = level stride 8, cell (x 3, y 2); row 69 = level stride 16, cell (x 1, y 1).
    out[0, 19] = [20 / 8 - 3, 30 / 8 - 2, np.log(10 / 8), np.log(10 / 8), 0.9, 0.1, 0.8, 0.1]
    out[0, 69] = [21 / 16 - 1, 30 / 16 - 1, np.log(10 / 16), np.log(10 / 16), 0.9, 0.9, 0, 0]
    return {"output": out}


def grid_out() -> dict[str, F]:
    out = np.zeros((1, 8, 4, 4), np.float32)  # 4x4 cells of 16 px
    out[0, 0] = 0.01  # objectness everywhere else stays below the filter
    size = logit(10 / 64)
    out[0, :, 1, 1] = [0.9, np.arctanh(0.25), np.arctanh(30 / 16 - 1), size, size, 0.1, 0.8, 0.1]
    return {"758": out}


def detr_out() -> dict[str, F]:
    boxes = np.full((1, 5, 4), 0.5, np.float32)
    boxes[0, 0] = np.array([20, 30, 10, 10]) / 64
    boxes[0, 1] = np.array([21, 30, 10, 10]) / 64
    logits = np.full((1, 5, 3), -10, np.float32)
    logits[0, 0] = [logit(0.1), logit(0.72), logit(0.1)]
    logits[0, 1] = [logit(0.81), -10, -10]
    return {"dets": boxes, "labels": logits}


def detr_fused_out() -> dict[str, F]:
    d = detr_out()
    probs = 1 / (1 + np.exp(-d["labels"]))
    return {"output0": np.concatenate([d["dets"], probs], axis=2).astype(np.float32)}


GRID_SCORE = 0.9**0.6 * 0.8**0.4
CENTRED = [[32, 18, 52, 38], [30, 18, 50, 38]]  # letterbox centre: (x/0.5, (y-16)/0.5)
STRETCHED = [[32, 25, 52, 35], [30, 25, 50, 35]]  # stretch: (x/0.5, y/1)
TOP_LEFT = [[32, 50, 52, 64], [30, 50, 50, 64]]  # letterbox top-left: /0.5, y2 70 clipped to 64

Case = tuple[str, str, Callable[[], dict[str, F]], list[list[float]], list[float], list[int]]
CASES: list[Case] = [
    # (case, configured family, outputs, expected xyxy, scores, class ids)
    ("yolov5", "auto", yolov5_out, CENTRED, [0.81, 0.72], [0, 1]),
    ("yolov8", "auto", yolov8_out, CENTRED, [0.81, 0.72], [0, 1]),
    ("end2end", "auto", end2end_out, CENTRED, [0.81, 0.72], [0, 1]),
    ("yolox", "auto", yolox_out, TOP_LEFT, [0.81, 0.72], [0, 1]),
    ("grid", "auto", grid_out, [[30, 25, 50, 35]], [GRID_SCORE], [1]),
    ("detr", "auto", detr_out, STRETCHED, [0.81, 0.72], [0, 1]),
    ("detr fused", "detr", detr_fused_out, STRETCHED, [0.81, 0.72], [0, 1]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "family", "outputs", "xyxy", "scores", "class_ids"), CASES, ids=[c[0] for c in CASES]
)
def test_family_decodes_known_tensors_to_image_pixels(
    tmp_path: Path,
    case: str,
    family: str,
    outputs: Callable[[], dict[str, F]],
    xyxy: list[list[float]],
    scores: list[float],
    class_ids: list[int],
) -> None:
    """Each family's layout decodes to the known boxes, in original-image pixels, best first;
    a lower same-class duplicate is suppressed and a low-confidence row is dropped."""
    model = constant_model(tmp_path / "m.onnx", outputs())
    spec = ModelSpec(path=model, family=family, conf_threshold=0.3, intra_op_threads=1)
    det = load_detector(spec)
    assert det.family == case.split()[0]
    d = det.detect(IMAGE)
    np.testing.assert_allclose(d.xyxy, np.array(xyxy, np.float32), atol=1e-3)
    np.testing.assert_allclose(d.confidence, scores, atol=1e-4)
    assert d.class_id.tolist() == class_ids


def test_fp16_model_gets_a_float16_input_and_decodes(tmp_path: Path) -> None:
    """A float16 model is fed float16 and its float16 outputs decode like float32 ones."""
    out = {k: v.astype(np.float16) for k, v in yolov8_out().items()}
    model = constant_model(tmp_path / "m.onnx", out, input_dtype=np.float16)  # type: ignore[arg-type]
    d = load_detector(ModelSpec(path=model, intra_op_threads=1)).detect(IMAGE)
    np.testing.assert_allclose(d.xyxy, np.array(CENTRED, np.float32), atol=0.1)
    np.testing.assert_allclose(d.confidence, [0.81, 0.72], atol=2e-3)


def test_class_names_come_from_ultralytics_metadata(tmp_path: Path) -> None:
    """Names in the model's `names` metadata win over the config's names."""
    meta = {"names": "{0: 'person', 1: 'box', 2: 'forklift'}"}
    model = constant_model(tmp_path / "m.onnx", yolov8_out(), metadata=meta)
    spec = ModelSpec(path=model, class_names=("a", "b", "c"), intra_op_threads=1)
    det = load_detector(spec)
    assert det.class_names == ("person", "box", "forklift")
    assert det.detect(IMAGE).name_of(1) == "box"


def test_class_names_fall_back_to_config_then_names_file(tmp_path: Path) -> None:
    """Without metadata, config names apply; else the names file, one name per line."""
    model = constant_model(tmp_path / "m.onnx", yolov8_out())
    by_config = load_detector(ModelSpec(path=model, class_names=("a", "b", "c")))
    names = tmp_path / "names.txt"
    names.write_text("person\n\nbox\nforklift\n")
    by_file = load_detector(ModelSpec(path=model, names_file=names))
    assert by_config.class_names == ("a", "b", "c")
    assert by_file.class_names == ("person", "box", "forklift")


def test_dynamic_input_takes_the_configured_size(tmp_path: Path) -> None:
    """A model with symbolic height/width runs at config input_size; without it, a clear error."""
    model = constant_model(tmp_path / "m.onnx", yolov8_out(), input_shape=(1, 3, "h", "w"))
    det = load_detector(ModelSpec(path=model, input_size=(64, 64), intra_op_threads=1))
    assert det.input_size == (64, 64)
    assert len(det.detect(IMAGE)) == 2
    with pytest.raises(ModelError, match=r"m\.onnx: .*dynamic.*set input_size"):
        load_detector(ModelSpec(path=model))


def test_config_overrides_family_preprocessing(tmp_path: Path) -> None:
    """Pre-processing set in config replaces the family default (here: top-left letterbox)."""
    model = constant_model(tmp_path / "m.onnx", yolov8_out())
    spec = ModelSpec.model_validate(
        {"path": model, "preprocessing": {"letterbox_align": "top_left", "channel_order": "bgr"}}
    )
    det = load_detector(spec)
    assert det.preprocessing.letterbox_align == "top_left"
    assert det.preprocessing.scale == pytest.approx(1 / 255)
    np.testing.assert_allclose(det.detect(IMAGE).xyxy, TOP_LEFT)


SHAPES = [
    # (output shapes, input h/w, family or None when ambiguous / unknown)
    ([(1, 3549, 85)], (416, 416), "yolox"),
    ([(1, 3 * 3549, 85)], (416, 416), "yolov5"),
    ([(1, 25200, 85)], (640, 640), "yolov5"),
    ([(1, 84, 8400)], (640, 640), "yolov8"),
    ([(1, 300, 6)], (640, 640), "end2end"),
    ([(1, 8400, 6)], (640, 640), "yolox"),  # one-class YOLOX, not end-to-end
    ([(1, 85, 22, 22)], (352, 352), "grid"),
    ([(1, 300, 4), (1, 300, 91)], (560, 560), "detr"),
    ([(1, 300, 91), (1, 300, 4)], (560, 560), "detr"),
    ([(1, 300, 84)], (640, 640), None),  # fused DETR or a wrong-size YOLO: needs family
    ([(1, 1000)], (224, 224), None),  # a classifier
    ([(1, None, 85)], (416, 416), None),  # symbolic dims decide nothing
    ([(1, 85, 21, 22)], (352, 352), None),  # grid that does not tile the input
]


@pytest.mark.parametrize(("shapes", "input_hw", "family"), SHAPES)
def test_family_is_detected_only_when_unambiguous(
    shapes: list[tuple[int | None, ...]], input_hw: tuple[int, int], family: str | None
) -> None:
    """Auto-detection names the one family the output shapes fit, or nothing."""
    assert detect_family(shapes, input_hw) == family
