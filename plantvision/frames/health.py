"""Pure checks on frames: frozen (identical images), black or covered (no light, no texture).

A camera that keeps delivering the same picture, or a lens that is covered, must not be taken for
an empty zone. Numpy only; the loop feeds these and turns their verdicts into guard faults.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plantvision.types import ImageArray

# A 1-in-8 subsample in each axis keeps the per-frame cost to a few microseconds at 640x480 while
# any real scene change (sensor noise alone) still alters it.
_STEP = 8


def fingerprint(image: ImageArray) -> bytes:
    """A cheap digest of a subsample; equal fingerprints mean a frozen picture in practice."""
    return bytes(np.ascontiguousarray(image[::_STEP, ::_STEP]).data)


def is_dark(image: ImageArray, max_mean: float, max_std: float) -> bool:
    """True when the picture is nearly uniform and dark: a covered lens or a dead sensor."""
    sample = image[::_STEP, ::_STEP]
    return float(sample.mean()) <= max_mean and float(sample.std()) <= max_std


@dataclass(slots=True)
class FrozenDetector:
    """Times runs of identical pictures: `update` says True once the same picture has been
    seen for `limit_ms` (capture time of this frame minus that of the run's first frame).

    In milliseconds, not frames, so the bound a deployment states holds at any frame rate: a
    frozen camera is noticed at most `limit_ms` plus one frame period after it froze.
    """

    limit_ms: float
    _last: bytes = b""
    _run_start_ns: int = 0

    def update(self, image: ImageArray, t_capture_ns: int) -> bool:
        fp = fingerprint(image)
        if fp != self._last:
            self._last, self._run_start_ns = fp, t_capture_ns
            return False
        return t_capture_ns - self._run_start_ns >= self.limit_ms * 1e6
