"""Draw into the colour image and an object-label image at once, so truth matches pixels.

Every primitive is drawn twice with the same geometry: in colour on the image and with the
object's label on a uint8 label image. Ground-truth boxes are then read back from the label
image, so a box holds exactly the object's visible pixels, occlusion included. No
anti-aliasing: an anti-aliased edge would colour pixels the label does not claim.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

Colour = tuple[int, int, int]
# Coordinates are drawn with 2 fractional bits: smooth motion without anti-aliasing.
_SHIFT = 2
_SCALE = 1 << _SHIFT


def _fix(p: Sequence[float]) -> tuple[int, int]:
    return round(p[0] * _SCALE), round(p[1] * _SCALE)


class Painter:
    """Draws one object at a time on `image` (BGR) and `label` (object label, 0 = none).

    `background` is what the frame shows with no objects; `erase` restores it.
    """

    def __init__(
        self,
        image: npt.NDArray[np.uint8],
        label: npt.NDArray[np.uint8],
        background: npt.NDArray[np.uint8],
    ) -> None:
        self.image = image
        self.label = label
        self.background = background
        self.obj = 0

    def line(self, p0: Sequence[float], p1: Sequence[float], thick: float, c: Colour) -> None:
        t = max(1, round(thick))
        a, b = _fix(p0), _fix(p1)
        cv2.line(self.image, a, b, c, t, cv2.LINE_8, _SHIFT)
        cv2.line(self.label, a, b, self.obj, t, cv2.LINE_8, _SHIFT)

    def circle(self, centre: Sequence[float], radius: float, c: Colour) -> None:
        r = max(1, round(radius * _SCALE))
        cv2.circle(self.image, _fix(centre), r, c, -1, cv2.LINE_8, _SHIFT)
        cv2.circle(self.label, _fix(centre), r, self.obj, -1, cv2.LINE_8, _SHIFT)

    def poly(self, points: npt.NDArray[np.float64], c: Colour) -> None:
        pts = np.round(points * _SCALE).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(self.image, [pts], c, cv2.LINE_8, _SHIFT)
        cv2.fillPoly(self.label, [pts], self.obj, cv2.LINE_8, _SHIFT)

    def ellipse(
        self, centre: Sequence[float], axes: Sequence[float], angle: float, c: Colour
    ) -> None:
        ax = (max(1, round(axes[0] * _SCALE)), max(1, round(axes[1] * _SCALE)))
        cv2.ellipse(self.image, _fix(centre), ax, angle, 0, 360, c, -1, cv2.LINE_8, _SHIFT)
        cv2.ellipse(self.label, _fix(centre), ax, angle, 0, 360, self.obj, -1, cv2.LINE_8, _SHIFT)

    def erase(self, points: npt.NDArray[np.float64]) -> None:
        """Restore the background under a polygon and remove every label there."""
        h, w = self.label.shape
        x0, y0 = np.clip(np.floor(points.min(axis=0)).astype(int) - 1, 0, (w, h))
        x1, y1 = np.clip(np.ceil(points.max(axis=0)).astype(int) + 2, 0, (w, h))
        if x1 <= x0 or y1 <= y0:
            return
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        local = np.round((points - (x0, y0)) * _SCALE).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(mask, [local], 1, cv2.LINE_8, _SHIFT)
        hit = mask.astype(bool)
        self.image[y0:y1, x0:x1][hit] = self.background[y0:y1, x0:x1][hit]
        self.label[y0:y1, x0:x1][hit] = 0


def label_boxes(
    label: npt.NDArray[np.uint8], rois: npt.NDArray[np.int32], ids: npt.NDArray[np.int32]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Tight xyxy box (pixel edges, x1/y1 exclusive) and pixel count of each label in its roi.

    `rois` (N x 4 int xyxy) bound where each label may be; an absent label gets count 0.
    """
    n = len(ids)
    boxes = np.zeros((n, 4), np.float32)
    counts = np.zeros(n, np.int64)
    h, w = label.shape
    for i in range(n):  # one pass per object; objects per frame are few
        x0, y0 = max(0, int(rois[i, 0])), max(0, int(rois[i, 1]))
        x1, y1 = min(w, int(rois[i, 2])), min(h, int(rois[i, 3]))
        if x1 <= x0 or y1 <= y0:
            continue
        m = label[y0:y1, x0:x1] == ids[i]
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        if rows.size == 0:
            continue
        counts[i] = int(np.count_nonzero(m))
        boxes[i] = (x0 + cols[0], y0 + rows[0], x0 + cols[-1] + 1, y0 + rows[-1] + 1)
    return boxes, counts
