"""Frozen and covered cameras are recognised, so a dead picture never reads as an empty zone."""

from __future__ import annotations

import numpy as np
import pytest

from plantvision.frames.health import FrozenDetector, is_dark


@pytest.mark.parametrize("fps", [2.0, 15.0, 60.0])
def test_frozen_after_limit_ms_of_identical_frames_at_any_frame_rate(fps: float) -> None:
    """The same picture for `limit_ms` (by capture times) is frozen, whatever the frame rate:
    the bound is a time, not a count of frames."""
    det = FrozenDetector(limit_ms=500.0)
    still = np.full((48, 64, 3), 90, np.uint8)
    period_ns = int(1e9 / fps)
    frozen_at = next(k for k in range(1000) if det.update(still, k * period_ns))
    assert (frozen_at - 1) * period_ns < 500_000_000 <= frozen_at * period_ns


def test_a_changed_picture_restarts_the_run() -> None:
    """One changed picture restarts the clock: frozen means identical all along."""
    det = FrozenDetector(limit_ms=100.0)
    a = np.full((48, 64, 3), 90, np.uint8)
    b = np.full((48, 64, 3), 91, np.uint8)
    ms = 1_000_000
    seen = [det.update(img, t * ms) for img, t in [(a, 0), (a, 60), (b, 90), (b, 150), (b, 190)]]
    assert seen == [False, False, False, False, True]


def test_noise_keeps_a_live_camera_unfrozen() -> None:
    """Sensor noise alone is enough to count as a changing picture."""
    rng = np.random.default_rng(1)
    det = FrozenDetector(limit_ms=1.0)
    base = np.full((48, 64, 3), 90, np.int16)
    frames = [
        np.clip(base + rng.integers(-2, 3, base.shape), 0, 255).astype(np.uint8) for _ in range(10)
    ]
    assert not any(det.update(f, k * 100_000_000) for k, f in enumerate(frames))


@pytest.mark.parametrize(
    ("value", "noise", "dark"),
    [(0, 0, True), (12, 1, True), (12, 40, False), (120, 0, False)],
)
def test_dark_uniform_picture_is_covered(value: int, noise: int, dark: bool) -> None:
    """A dark, textureless picture is a covered lens; dark but textured or bright is not."""
    rng = np.random.default_rng(0)
    img = np.clip(value + rng.integers(-noise, noise + 1, (48, 64, 3)), 0, 255).astype(np.uint8)
    assert is_dark(img, max_mean=20.0, max_std=5.0) is dark
