"""Grabbers: the thin device seam under a frame source. Each yields images and nothing else.

A grabber's `grab()` may block (a dead RTSP stream can block `VideoCapture.read()` for ever),
which is why only the capture thread in frames.py ever calls it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import cv2
import numpy as np

from plantvision.errors import MediaError
from plantvision.frames.http_wire import display_url
from plantvision.types import ImageArray

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})


class Grabber(Protocol):
    """Opens a device, yields images, closes. `nominal_fps` is None for live sources.

    A grabber that knows when its image was exposed (a hardware timestamp, a renderer) may set
    `last_capture_ns` (monotonic ns) in `grab()`; the frame source stamps the frame with it
    instead of the time `grab()` returned, which matters for belt positions. One that maps a
    camera's own clock counts the steps it saw in `clock_steps`; one whose `grab()` blocks on a
    socket may offer `interrupt()`, which the frame source calls from another thread on stop."""

    source_id: str
    nominal_fps: float | None
    live: bool

    def open(self) -> None: ...

    def grab(self) -> ImageArray | None:
        """The next image, or None at end of stream or on a failed read."""
        ...

    def close(self) -> None: ...


def bgr(image: np.ndarray) -> ImageArray:
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return np.asarray(image, dtype=np.uint8)  # no copy for uint8 input


class OpenCvGrabber:
    """A camera index, a video file, or an RTSP/HTTP URL through cv2.VideoCapture."""

    def __init__(self, uri: str, source_id: str = "cam0") -> None:
        self.uri, self.source_id = uri, source_id
        # Messages name a URL without its credentials (user:password@, or in the query).
        self.name = display_url(urlsplit(uri)) if "://" in uri else uri
        self.live = uri.isdigit() or bool(re.match(r"^[a-z]+://", uri))
        self.nominal_fps: float | None = None
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        if not self.live and not Path(self.uri).is_file():
            raise MediaError(f"{self.uri}: video file not found")
        cap = cv2.VideoCapture(int(self.uri) if self.uri.isdigit() else self.uri)
        if not cap.isOpened():
            cap.release()
            raise MediaError(f"{self.name}: cannot open video source (not a readable video)")
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        self.nominal_fps = fps if 0.0 < fps < 1000.0 and not self.live else None
        self._cap = cap

    def grab(self) -> ImageArray | None:
        if self._cap is None:
            return None
        ok, image = self._cap.read()
        return bgr(image) if ok and image is not None else None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class ImageFolderGrabber:
    """The images in a folder, in name order, at a fixed rate."""

    def __init__(self, folder: str, fps: float, source_id: str = "cam0") -> None:
        self.folder, self.source_id, self.live = folder, source_id, False
        self.nominal_fps: float | None = fps
        self._paths: list[Path] = []
        self._next = 0

    def open(self) -> None:
        root = Path(self.folder)
        if not root.is_dir():
            raise MediaError(f"{self.folder}: image folder not found")
        self._paths = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._paths:
            raise MediaError(f"{self.folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self._next = 0

    def grab(self) -> ImageArray | None:
        if self._next >= len(self._paths):
            return None
        path = self._paths[self._next]
        self._next += 1
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise MediaError(f"{path}: not a readable image")
        return bgr(image)

    def close(self) -> None:
        self._next = len(self._paths)


class RenderGrabber:
    """Images from a function of time since open, e.g. a scene simulator standing in for a camera.

    `render(t_s)` is called with the time the grab happens, so the picture matches its capture
    stamp; `clock_ns` is injected so tests and simulations can drive it.
    """

    def __init__(
        self,
        render: Callable[[float], ImageArray],
        fps: float,
        clock_ns: Callable[[], int],
        source_id: str = "sim0",
    ) -> None:
        self._render, self._clock_ns = render, clock_ns
        self.source_id, self.live = source_id, True
        self.nominal_fps: float | None = fps
        self._t0_ns = 0
        self.last_capture_ns: int | None = None

    def open(self) -> None:
        self._t0_ns = self._clock_ns()

    def grab(self) -> ImageArray | None:
        # The picture shows the scene at this instant, however long it takes to render.
        self.last_capture_ns = self._clock_ns()
        return self._render((self.last_capture_ns - self._t0_ns) / 1e9)

    def close(self) -> None:
        pass
