"""A model that records its family and pre-processing in ONNX metadata runs with no config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plantvision.detect import ModelSpec, load_detector
from plantvision.errors import ModelError
from tests.detect.onnx_graphs import constant_model

# [1, 4+C, N] at one stride 8 on a 64x64 input: N = 64 anchors, which no multi-stride head has,
# so the family cannot be told from the shapes alone.
ONE_STRIDE = {"out": np.zeros((1, 7, 64), np.float32)}
CARD = {"family": "yolov8", "resize": "stretch", "channel_order": "bgr", "scale": "1/255",
        "names": "{0: 'person', 1: 'item', 2: 'defect'}"}  # fmt: skip


def test_family_and_preprocessing_come_from_the_model_card(tmp_path: Path) -> None:
    """family auto + a card: the declared family decodes and its pre-processing is used."""
    model = constant_model(tmp_path / "m.onnx", ONE_STRIDE, metadata=CARD)
    det = load_detector(ModelSpec(path=model))
    assert det.family == "yolov8"
    assert det.preprocessing.resize == "stretch"
    assert det.preprocessing.channel_order == "bgr"
    assert det.preprocessing.scale == pytest.approx(1 / 255)
    assert det.class_names == ("person", "item", "defect")


def test_config_wins_over_the_card(tmp_path: Path) -> None:
    """A value set in config overrides what the model declares."""
    model = constant_model(tmp_path / "m.onnx", ONE_STRIDE, metadata=CARD)
    det = load_detector(ModelSpec.model_validate(
        {"path": model, "preprocessing": {"channel_order": "rgb"}}
    ))  # fmt: skip
    assert det.preprocessing.channel_order == "rgb"
    assert det.preprocessing.resize == "stretch"


def test_without_a_card_the_shape_is_ambiguous(tmp_path: Path) -> None:
    """The same outputs with no card and no family in config are refused, asking for family."""
    model = constant_model(tmp_path / "m.onnx", ONE_STRIDE)
    with pytest.raises(ModelError, match="set family"):
        load_detector(ModelSpec(path=model))


@pytest.mark.parametrize(
    ("key", "value"), [("scale", "one/255"), ("resize", "squash"), ("mean", "[1, 2")]
)
def test_a_bad_card_value_names_the_key(tmp_path: Path, key: str, value: str) -> None:
    """A malformed metadata value is a ModelError naming the model and the key."""
    model = constant_model(tmp_path / "m.onnx", ONE_STRIDE, metadata={**CARD, key: value})
    with pytest.raises(ModelError, match=f"'{key}'"):
        load_detector(ModelSpec(path=model))


# One yolov8 box (cx, cy, w, h = 32, 32, 16, 16 input px) scoring 0.5 for class 0: a detector
# at the card's 0.55 drops it, one at the family default 0.3 keeps it.
ONE_BOX = np.zeros((1, 7, 64), np.float32)
ONE_BOX[0, :5, 0] = (32, 32, 16, 16, 0.5)


def test_threshold_and_nms_iou_come_from_the_model_card(tmp_path: Path) -> None:
    """A card that says conf_threshold 0.55 and nms_iou 0.6 is run at 0.55 / 0.6 when the
    deployment sets neither: its box at 0.5 is dropped."""
    meta = {**CARD, "conf_threshold": "0.55", "nms_iou": "0.6"}
    model = constant_model(tmp_path / "m.onnx", {"out": ONE_BOX}, metadata=meta)
    det = load_detector(ModelSpec(path=model))
    assert (det.conf_threshold, det.nms_iou) == (0.55, 0.6)
    assert len(det.detect(np.zeros((64, 64, 3), np.uint8))) == 0


def test_config_wins_over_the_card_per_value(tmp_path: Path) -> None:
    """A threshold set in the deployment overrides the card's; the unset NMS IoU still comes
    from the card."""
    meta = {**CARD, "conf_threshold": "0.55", "nms_iou": "0.6"}
    model = constant_model(tmp_path / "m.onnx", {"out": ONE_BOX}, metadata=meta)
    det = load_detector(ModelSpec(path=model, conf_threshold=0.3))
    assert (det.conf_threshold, det.nms_iou) == (0.3, 0.6)
    assert len(det.detect(np.zeros((64, 64, 3), np.uint8))) == 1


def test_without_a_card_threshold_the_defaults_hold(tmp_path: Path) -> None:
    """No threshold in config or card: 0.3 and 0.45, as documented in the model config."""
    model = constant_model(tmp_path / "m.onnx", {"out": ONE_BOX}, metadata=CARD)
    det = load_detector(ModelSpec(path=model))
    assert (det.conf_threshold, det.nms_iou) == (0.3, 0.45)


@pytest.mark.parametrize(("key", "value"), [("conf_threshold", "high"), ("nms_iou", "1.5")])
def test_a_bad_card_threshold_names_the_key(tmp_path: Path, key: str, value: str) -> None:
    """A threshold the card gets wrong is a ModelError naming the key, not a silent default."""
    model = constant_model(tmp_path / "m.onnx", ONE_STRIDE, metadata={**CARD, key: value})
    with pytest.raises(ModelError, match=f"'{key}'"):
        load_detector(ModelSpec(path=model))
