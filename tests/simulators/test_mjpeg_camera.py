"""The simulator's network camera over real HTTP on loopback, read by the box's own `stream`
source (OpenCvGrabber in a FrameSource): frames arrive, each names its exposure, and the box's
stamp comes after it (the capture latency that `source.capture_latency_ms` is for)."""

from __future__ import annotations

import time
import urllib.request

import numpy as np
import pytest

from plantvision.frames.grabbers import OpenCvGrabber
from plantvision.frames.source import FrameSource
from plantvision.types import ImageArray
from simulators.scene.mjpeg import BOUNDARY, MjpegCamera, read_code, stamp_code


def _grey(_t_s: float, travel_mm: float) -> ImageArray:
    return np.full((480, 640, 3), 90 + int(travel_mm) % 50, np.uint8)


@pytest.mark.parametrize("number", [0, 1, 0x8001, 0xFFFF])
def test_the_frame_number_survives_the_picture(number: int) -> None:
    image = _grey(0.0, 0.0)
    stamp_code(image, number)
    assert read_code(image) == number


def test_the_box_reads_the_stream_and_stamps_each_frame_after_its_exposure() -> None:
    camera = MjpegCamera(_grey, fps=25.0)
    camera.start(lambda: (time.monotonic_ns(), 0.0))
    source = FrameSource(OpenCvGrabber(camera.url, "net"))
    try:
        source.start()
        seen: list[tuple[int, int]] = []  # (exposure, stamp) ns
        deadline = time.monotonic() + 10
        while len(seen) < 10 and time.monotonic() < deadline:
            frame = source.read(1.0)
            exposed = None if frame is None else camera.exposure_of(frame.image)
            if frame is not None and exposed is not None:
                assert frame.image.shape == (480, 640, 3)
                seen.append((exposed, frame.t_capture_ns))
        assert len(seen) == 10, "the stream delivered no frames the camera had exposed"
        assert all(stamp > exposed for exposed, stamp in seen)
        assert [e for e, _ in seen] == sorted(e for e, _ in seen), "frames out of order"
    finally:
        source.stop()
        camera.stop()


def test_each_part_carries_its_frame_number_and_exposure_on_the_cameras_own_clock() -> None:
    """What some IP cameras send per part (mjpg-streamer's X-Timestamp, decimal seconds);
    OpenCV's reader drops them, the box's own MJPEG reader uses them. The camera's clock is not
    the host's: a reader that took it for the host's clock would be off by decades."""
    camera = MjpegCamera(_grey, fps=25.0)
    camera.start(lambda: (time.monotonic_ns(), 0.0))
    try:
        with urllib.request.urlopen(camera.url, timeout=5) as resp:
            assert resp.headers["Content-Type"] == (
                f"multipart/x-mixed-replace; boundary={BOUNDARY}"
            )
            head = resp.read(300).split(b"\r\n\r\n")[0].decode()
        assert head.startswith(f"--{BOUNDARY}")
        assert "Content-Type: image/jpeg" in head
        assert "X-Frame: " in head
        stamp = dict(line.split(": ", 1) for line in head.split("\r\n")[1:])["X-Timestamp"]
        assert abs(float(stamp) - time.monotonic()) > 1e8
        assert len(stamp.split(".")[1]) == 6  # microseconds, as mjpg-streamer sends
    finally:
        camera.stop()
