"""Frozen and covered cameras are recognised, so a dead picture never reads as an empty zone."""

from __future__ import annotations

import numpy as np
import pytest

from plantvision.frames.health import FrozenDetector, is_dark


def test_frozen_after_limit_identical_frames() -> None:
    """The same picture `limit` times in a row after the first is reported frozen."""
    det = FrozenDetector(limit=3)
    still = np.full((48, 64, 3), 90, np.uint8)
    assert [det.update(still) for _ in range(4)] == [False, False, False, True]


def test_noise_keeps_a_live_camera_unfrozen() -> None:
    """Sensor noise alone is enough to count as a changing picture."""
    rng = np.random.default_rng(1)
    det = FrozenDetector(limit=2)
    base = np.full((48, 64, 3), 90, np.int16)
    frames = [
        np.clip(base + rng.integers(-2, 3, base.shape), 0, 255).astype(np.uint8) for _ in range(10)
    ]
    assert not any(det.update(f) for f in frames)


@pytest.mark.parametrize(
    ("value", "noise", "dark"),
    [(0, 0, True), (12, 1, True), (12, 40, False), (120, 0, False)],
)
def test_dark_uniform_picture_is_covered(value: int, noise: int, dark: bool) -> None:
    """A dark, textureless picture is a covered lens; dark but textured or bright is not."""
    rng = np.random.default_rng(0)
    img = np.clip(value + rng.integers(-noise, noise + 1, (48, 64, 3)), 0, 255).astype(np.uint8)
    assert is_dark(img, max_mean=20.0, max_std=5.0) is dark
