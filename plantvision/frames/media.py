"""Still images and video files as BGR frames, for the offline commands (detect, bench).

The live camera path is frames.py; this reads files and fails with a MediaError naming the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from plantvision.errors import MediaError
from plantvision.types import ImageArray

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm"})


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def read_image(path: Path) -> ImageArray:
    """A 3-channel BGR image (grey files are expanded), or a MediaError naming the file."""
    if not path.is_file():
        raise MediaError(f"{path}: image file not found")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise MediaError(f"{path}: cannot decode image (corrupt or unsupported format)")
    return np.asarray(image, dtype=np.uint8)


def iter_video(
    path: Path, every: int = 1, max_frames: int | None = None
) -> Iterator[tuple[int, ImageArray]]:
    """(frame index, BGR frame) for every `every`-th frame, at most `max_frames` of them."""
    if not path.is_file():
        raise MediaError(f"{path}: video file not found")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise MediaError(f"{path}: cannot open video (corrupt or unsupported format)")
        index = yielded = 0
        while max_frames is None or yielded < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            if index % every == 0:
                yield index, np.asarray(frame, dtype=np.uint8)
                yielded += 1
            index += 1
        if index == 0:
            raise MediaError(f"{path}: video holds no readable frame")
    finally:
        cap.release()


def iter_media(
    path: Path, every: int = 1, max_frames: int | None = None
) -> Iterator[tuple[int, ImageArray]]:
    """Frames of an image (one, index 0) or a video file, chosen by the file suffix."""
    if is_image_path(path):
        yield 0, read_image(path)
    else:
        yield from iter_video(path, every, max_frames)
