"""The annotated live view: the newest frame with its boxes (class and score, coloured by what
they did), encoded as JPEG in the face's thread, at most `view_fps` times a second per camera
however many clients ask. Zones and masks are drawn by the page (SVG) over the image.

The frame is the loop's own array, taken by reference from the snapshot: it is copied here, in
the face's thread, before anything is drawn on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from plantvision.loop.publish import CameraSnapshot
from plantvision.types import ImageArray

# BGR, matching the page's colours for the same states.
OCCUPIED = (60, 60, 235)
WARNING = (0, 176, 255)
MASKED = (150, 150, 150)
OTHER = (230, 200, 40)


@dataclass(frozen=True)
class Jpeg:
    data: bytes
    seq: int  # the frame's seq (-1: placeholder)


def box_colours(snap: CameraSnapshot) -> list[tuple[int, int, int]]:
    """Per detection: red in a stop zone, amber in a warning zone, grey masked, else cyan."""
    det, hits = snap.detections, snap.hits
    n = 0 if det is None else len(det)
    if hits is None or hits.hits.shape[1] != n or hits.masked.shape[0] != n:
        return [OTHER] * n
    in_stop = np.asarray(hits.hits[hits.is_stop].any(axis=0), bool).tolist()
    in_warn = np.asarray(hits.hits[~hits.is_stop].any(axis=0), bool).tolist()
    masked = np.asarray(hits.masked, bool).tolist()
    return [
        OCCUPIED if s else WARNING if w else MASKED if m else OTHER
        for s, w, m in zip(in_stop, in_warn, masked, strict=True)
    ]


def annotate(snap: CameraSnapshot) -> ImageArray:
    """A copy of the snapshot's frame with its detections drawn on it."""
    assert snap.frame is not None
    img: ImageArray = snap.frame.image.copy()
    det = snap.detections
    if det is None:
        return img
    scale = max(img.shape[0] / 480, 0.6)
    for i, colour in enumerate(box_colours(snap)):
        x1, y1, x2, y2 = (round(float(v)) for v in det.xyxy[i])
        cv2.rectangle(img, (x1, y1), (x2, y2), colour, max(1, round(2 * scale)))
        label = f"{det.name_of(i)} {float(det.confidence[i]):.2f}"
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale, 1)
        y = max(y1, th + 4)
        cv2.rectangle(img, (x1, y - th - 4), (x1 + tw + 4, y), colour, -1)
        cv2.putText(
            img,
            label,
            (x1 + 2, y - 3),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45 * scale,
            (20, 20, 20),
            1,
            cv2.LINE_AA,
        )
    return img


def encode(image: ImageArray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return bytes(buf)


def placeholder(quality: int) -> Jpeg:
    img = np.full((480, 640, 3), 40, np.uint8)
    cv2.putText(
        img,
        "waiting for the first frame",
        (140, 245),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.7,
        (200, 200, 200),
        1,
        cv2.LINE_AA,
    )
    return Jpeg(encode(img, quality), -1)


class ViewCache:
    """One camera's view: the last JPEG, encoded again only for a newer frame or other
    detections (the page process asks at most `view_fps` times a second; the box's own
    bound on asking is in face/server.py)."""

    def __init__(self, quality: int) -> None:
        self._quality = quality
        self._cached = placeholder(quality)
        self._key: tuple[int, int] = (-1, 0)
        self.encodes = 0

    def get(self, snap: CameraSnapshot | None) -> Jpeg:
        """The view of `snap` (None: the last one)."""
        if snap is None or snap.frame is None:
            return self._cached
        key = (snap.frame.seq, id(snap.detections))
        if key != self._key:
            self._cached = Jpeg(encode(annotate(snap), self._quality), snap.frame.seq)
            self._key = key
            self.encodes += 1
        return self._cached
