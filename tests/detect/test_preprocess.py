"""Pre-processing fills its persistent tensor exactly as the plain numpy recipe would."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from plantvision.detect.preprocess import Preprocessor
from plantvision.detect.spec import Preprocessing, family_preprocessing
from plantvision.errors import MediaError

RNG = np.random.default_rng(3)
IMAGE = RNG.integers(0, 256, (48, 96, 3), dtype=np.uint8)


def _naive(image: np.ndarray, pp: Preprocessing, family: str) -> np.ndarray:
    r = family_preprocessing(family, pp)
    canvas = np.full((64, 64, 3), r.pad_value, np.uint8)
    if r.resize == "stretch":
        canvas[:] = cv2.resize(image, (64, 64), interpolation=cv2.INTER_AREA)
    else:
        small = cv2.resize(image, (64, 32), interpolation=cv2.INTER_LINEAR)
        top = 16 if r.letterbox_align == "center" else 0
        canvas[top : top + 32] = small
    if r.channel_order == "rgb":
        canvas = canvas[..., ::-1]
    x = canvas.transpose(2, 0, 1).astype(np.float32) * np.float32(r.scale)
    x = (x - np.array(r.mean, np.float32)[:, None, None]) / np.array(r.std, np.float32)[
        :, None, None
    ]
    return x[None]


@pytest.mark.parametrize(
    ("family", "override"),
    [
        ("yolox", Preprocessing()),
        ("yolov8", Preprocessing()),
        ("grid", Preprocessing(interpolation="area")),
        ("yolov8", Preprocessing(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))),
    ],
)
def test_tensor_matches_the_plain_recipe(family: str, override: Preprocessing) -> None:
    """Letterbox/stretch, channel order, scale and mean/std give the reference tensor."""
    pre = Preprocessor((64, 64), family_preprocessing(family, override))
    tensor, _ = pre(IMAGE)
    np.testing.assert_allclose(tensor, _naive(IMAGE, override, family), rtol=1e-5, atol=1e-5)


def test_buffer_is_reused_and_stale_padding_is_cleared() -> None:
    """The same tensor object comes back each frame; a smaller image leaves no old pixels."""
    pre = Preprocessor((64, 64), family_preprocessing("yolox", Preprocessing()))
    first, _ = pre(np.full((64, 64, 3), 200, np.uint8))
    second, t = pre(np.full((32, 64, 3), 10, np.uint8))
    assert first is second
    assert (second[0, :, 32:] == 114).all()
    assert t.scale_x == 1.0


def test_non_bgr_image_is_refused() -> None:
    """A grey or float image is a MediaError, not a silent wrong tensor."""
    pre = Preprocessor((64, 64), family_preprocessing("yolox", Preprocessing()))
    with pytest.raises(MediaError, match="HxWx3 uint8"):
        pre(np.zeros((10, 10), np.uint8))
