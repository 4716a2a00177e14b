"""Frame sources: latest frame wins, every frame in lockstep, end, loop, reconnect, hangs."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from structlog.testing import capture_logs

from plantvision import log as pvlog
from plantvision.errors import MediaError
from plantvision.frames.grabbers import ImageFolderGrabber, OpenCvGrabber, RenderGrabber
from plantvision.frames.source import FrameSource
from plantvision.types import ImageArray


class ScriptedGrabber:
    """A live or file-like grabber whose images and failures follow a script."""

    def __init__(self, n: int, live: bool = False, fail_at: int = -1) -> None:
        self.source_id, self.nominal_fps, self.live = "fake", None, live
        self.n, self.fail_at, self.i, self.opens = n, fail_at, 0, 0
        self.gate: threading.Event | None = None

    def open(self) -> None:
        self.opens += 1
        if not self.live:
            self.i = 0

    def grab(self) -> ImageArray | None:
        if self.gate is not None:
            self.gate.wait()
        if self.i == self.fail_at:
            self.fail_at = -1
            return None
        if self.i >= self.n:
            return None
        self.i += 1
        return np.full((4, 4, 3), self.i % 256, np.uint8)

    def close(self) -> None:
        pass


def _video(tmp_path: Path, n: int, fps: float = 25.0) -> Path:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (64, 48))
    for i in range(n):
        writer.write(np.full((48, 64, 3), (i * 20) % 256, np.uint8))
    writer.release()
    return path


def _drain(src: FrameSource, timeout_s: float = 2.0) -> list[int]:
    seqs = []
    while (frame := src.read(timeout_s)) is not None:
        seqs.append(frame.seq)
    return seqs


def test_lockstep_delivers_every_frame_of_a_video(tmp_path: Path) -> None:
    """In lockstep a video file yields each frame once, in order, none skipped, then ends."""
    src = FrameSource(OpenCvGrabber(str(_video(tmp_path, 12))), pace="lockstep")
    src.start()
    assert _drain(src) == list(range(12))
    stats = src.stats()
    assert (stats.grabbed, stats.skipped, stats.ended) == (12, 0, True)
    src.stop()


def test_latest_frame_wins_and_skips_are_counted() -> None:
    """A slow reader gets the newest frame; the frames it never saw are counted as skipped."""
    grabber = ScriptedGrabber(50)
    src = FrameSource(grabber, pace="max")
    src.start()
    deadline = time.monotonic() + 5
    while not src.ended and time.monotonic() < deadline:
        time.sleep(0.005)
    frame = src.read(0.5)
    assert frame is not None
    assert frame.seq == 49
    stats = src.stats()
    assert stats.delivered == 1
    assert stats.skipped == 49
    src.stop()


def test_capture_stamp_is_taken_at_grab() -> None:
    """t_capture_ns comes from the injected clock at the moment of the grab."""
    ticks = iter(range(1_000, 10**9, 1_000))
    src = FrameSource(ScriptedGrabber(3), pace="lockstep", clock_ns=lambda: next(ticks))
    src.start()
    stamps = []
    while (frame := src.read(1.0)) is not None:
        stamps.append(frame.t_capture_ns)
    assert len(stamps) == 3
    assert stamps == sorted(stamps)
    src.stop()


def test_file_source_loops_when_asked(tmp_path: Path) -> None:
    """loop=True restarts a file at its end; seq keeps counting up."""
    src = FrameSource(
        OpenCvGrabber(str(_video(tmp_path, 5))), pace="lockstep", loop=True, backoff_ms=(1.0, 1.0)
    )
    src.start()
    seqs = [f.seq for _ in range(12) if (f := src.read(2.0)) is not None]
    assert seqs == list(range(12))
    src.stop()


def test_live_source_reconnects_after_a_failed_read() -> None:
    """A live source that fails a read is reopened and logged as disconnected and reconnected."""
    grabber = ScriptedGrabber(6, live=True, fail_at=3)
    with capture_logs() as logs:
        src = FrameSource(grabber, pace="lockstep", backoff_ms=(1.0, 10.0), log=pvlog.get())
        src.start()
        seqs = [f.seq for _ in range(6) if (f := src.read(2.0)) is not None]
        src.stop()
    assert seqs == list(range(6))
    assert grabber.opens == 2
    events = [e["event"] for e in logs]
    assert events.index("camera_disconnected") < events.index("camera_reconnected")


def test_a_hanging_grab_never_hangs_the_reader() -> None:
    """When the device blocks inside read(), read() returns None after its timeout."""
    grabber = ScriptedGrabber(5, live=True)
    grabber.gate = threading.Event()
    src = FrameSource(grabber, pace="max")
    src.start()
    assert src.read(0.05) is None
    grabber.gate.set()
    assert src.read(2.0) is not None
    src.stop()


def test_image_folder_in_name_order(tmp_path: Path) -> None:
    """An image folder yields its images sorted by name, as BGR uint8."""
    for i, name in enumerate(["b.png", "a.png", "c.jpg"]):
        cv2.imwrite(str(tmp_path / name), np.full((8, 8, 3), 40 * (i + 1), np.uint8))
    (tmp_path / "notes.txt").write_text("ignored")
    src = FrameSource(ImageFolderGrabber(str(tmp_path), fps=100.0), pace="lockstep")
    src.start()
    values = [int(f.image[0, 0, 0]) for _ in range(3) if (f := src.read(2.0)) is not None]
    assert values[:2] == [80, 40]
    assert len(values) == 3
    src.stop()


def test_render_grabber_renders_at_capture_time() -> None:
    """A renderer stands in for a camera and is asked for the picture at the grab's time."""
    now = [0]
    seen: list[float] = []

    def render(t_s: float) -> ImageArray:
        seen.append(t_s)
        return np.zeros((2, 2, 3), np.uint8)

    g = RenderGrabber(render, fps=10.0, clock_ns=lambda: now[0])
    g.open()
    now[0] = 250_000_000
    assert g.grab() is not None
    assert seen == [0.25]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: OpenCvGrabber(str(p / "missing.avi")), "video file not found"),
        (lambda p: OpenCvGrabber(str(p / "junk.avi")), "cannot open video source"),
        (lambda p: ImageFolderGrabber(str(p / "nodir"), 5.0), "image folder not found"),
        (lambda p: ImageFolderGrabber(str(p), 5.0), "no images"),
    ],
)
def test_unreadable_sources_fail_at_start(tmp_path: Path, make: object, message: str) -> None:
    """A source that cannot be opened fails at start with the file named, before anything runs."""
    (tmp_path / "junk.avi").write_bytes(b"not a video at all")
    grabber = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(MediaError, match=message) as info:
        FrameSource(grabber).start()
    assert str(tmp_path) in str(info.value)


@pytest.mark.shared_data
def test_vtest_video_decodes_at_its_native_rate(shared_data: Path) -> None:
    """The real pedestrian footage opens through OpenCV with its 10 fps and 768x576 frames."""
    grabber = OpenCvGrabber(str(shared_data / "video" / "vtest.avi"))
    grabber.open()
    image = grabber.grab()
    grabber.close()
    assert grabber.nominal_fps == pytest.approx(10.0)
    assert image is not None
    assert image.shape == (576, 768, 3)


class RaisingGrabber(ScriptedGrabber):
    """A live grabber whose driver raises something unexpected once, then works again."""

    def __init__(self) -> None:
        super().__init__(100, live=True)
        self.raised = False

    def grab(self) -> ImageArray | None:
        if self.i == 3 and not self.raised:
            self.raised = True
            raise ValueError("driver returned a buffer of the wrong size")
        return super().grab()


def test_an_unexpected_capture_error_is_logged_and_survived() -> None:
    """A grabber that raises an unexpected exception does not kill the capture thread: the
    error is logged as capture_error, the source is reopened after a backoff, frames resume."""
    grabber = RaisingGrabber()
    with capture_logs() as logs:
        src = FrameSource(grabber, pace="lockstep", backoff_ms=(1.0, 10.0), log=pvlog.get())
        src.start()
        seqs = [f.seq for _ in range(6) if (f := src.read(2.0)) is not None]
        alive = src.alive
        src.stop()
    assert seqs == list(range(6)), "capture stopped for good after the error"
    assert alive
    (err,) = [e for e in logs if e["event"] == "capture_error"]
    assert "wrong size" in err["error"]
    assert src.stats().errors == 1
