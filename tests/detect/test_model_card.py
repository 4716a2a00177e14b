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
