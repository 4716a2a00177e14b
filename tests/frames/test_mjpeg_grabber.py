"""The box's own MJPEG reader over real HTTP on loopback: frames dated by the camera's stamps."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from plantvision.errors import MediaError
from plantvision.frames.grabbers import OpenCvGrabber
from plantvision.frames.mjpeg import MjpegGrabber
from plantvision.frames.source import FrameSource
from plantvision.types import ImageArray
from simulators.scene.mjpeg import MjpegCamera

MS = 1_000_000
JPEG = cv2.imencode(".jpg", np.full((48, 64, 3), 128, np.uint8))[1].tobytes()


def _latencies_ms(camera: MjpegCamera, source: FrameSource, seconds: float) -> list[float]:
    """Exposure to the frame source's stamp, per frame, after a second to settle."""
    source.start()
    out: list[float] = []
    try:
        begin = time.monotonic() + 1.0
        while time.monotonic() < begin + seconds:
            frame = source.read(1.0)
            exposed = None if frame is None else camera.exposure_of(frame.image)
            if frame is not None and exposed is not None and time.monotonic() > begin:
                out.append((frame.t_capture_ns - exposed) / 1e6)
    finally:
        source.stop()
    return out


def test_camera_stamps_take_the_varying_latency_out_of_a_frames_capture_time() -> None:
    """A camera whose render and encode take 0-15 ms at random (as a loaded camera's do): the
    arrival stamp carries that spread, the camera's stamp mapped onto the box's clock does not
    (the camera's clock has its own epoch and drift; nothing assumes the two agree)."""
    rng = random.Random(7)

    def render(_t: float, _mm: float) -> ImageArray:
        time.sleep(rng.uniform(0.0, 0.015))
        return np.full((480, 640, 3), 90, np.uint8)

    spreads = {}
    for name in ("arrival", "camera"):
        camera = MjpegCamera(render, fps=40.0, drift_ppm=-50.0)
        camera.start(lambda: (time.monotonic_ns(), 0.0))
        try:
            grabber = (
                OpenCvGrabber(camera.url, name) if name == "arrival"
                else MjpegGrabber(camera.url, name)
            )  # fmt: skip
            lat = _latencies_ms(camera, FrameSource(grabber, pace="max"), 3.0)
        finally:
            camera.stop()
        assert len(lat) > 40, f"{name}: {len(lat)} frames"
        assert min(lat) >= 0.0, "a frame stamped before it was exposed"
        spreads[name] = float(np.percentile(lat, 90) - np.percentile(lat, 10))
    assert spreads["arrival"] > 6.0, spreads  # the render's 0-15 ms shows
    assert spreads["camera"] < 3.0, spreads  # the anchor's own wander under load


class _Canned:
    """An HTTP server on loopback answering every connection with `answer`, then holding it."""

    def __init__(self, answer: bytes) -> None:
        self.answer, self.requests = answer, []  # type: ignore[var-annotated]
        self._conns: list[socket.socket] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/video"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            try:
                self.requests.append(conn.recv(4096))
                conn.sendall(self.answer)
                conn.shutdown(socket.SHUT_WR)
            except OSError:  # closed under it at the test's end
                return

    def close(self) -> None:
        self._sock.close()
        for conn in self._conns:
            conn.close()


@pytest.fixture
def canned() -> Iterator[type[_Canned]]:
    made: list[_Canned] = []

    def make(answer: bytes) -> _Canned:
        made.append(_Canned(answer))
        return made[-1]

    yield make  # type: ignore[misc]
    for c in made:
        c.close()


def _part(extra: str = "X-Timestamp: 1700000000.250000\r\n", body: bytes = JPEG) -> bytes:
    return (
        (
            f"--bnd\r\nContent-Type: image/jpeg\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
        ).encode()
        + body
        + b"\r\n"
    )


HEAD = b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=bnd\r\n\r\n"


def test_parts_are_read_by_length_and_the_closing_boundary_ends_the_stream(canned) -> None:  # type: ignore[no-untyped-def]
    stamps = ("1700000000.000000", "1700000000.500000", "1700000001.000000", "1700000001.040000")
    server = canned(
        HEAD + b"".join(_part(f"X-Timestamp: {s}\r\n") for s in stamps) + b"--bnd--\r\n"
    )
    arrivals = iter([10 * MS, 510 * MS, 1_010 * MS, 1_060 * MS])
    g = MjpegGrabber(server.url, clock_ns=arrivals.__next__)
    g.open()
    # The first second settles the anchor (a greeting frame may be old); then frames are dated.
    first = g.grab()
    assert first is not None
    assert first.shape == (48, 64, 3)
    # Arrived 20 ms after its stamp where the fastest took 10: dated by its stamp, 10 ms older.
    assert g.last_capture_ns == 1_050 * MS
    assert g.last_capture_spread_ns == 10 * MS  # a slower path, or the camera's clock went back
    assert g.clock.withheld == 3
    assert g.grab() is None  # ended: the frame source reconnects
    g.close()
    assert server.requests[0].startswith(b"GET /video HTTP/1.0\r\n")


def test_a_part_without_the_stamp_header_is_refused_naming_header_and_fix(canned) -> None:  # type: ignore[no-untyped-def]
    server = canned(HEAD + _part(extra=""))
    g = MjpegGrabber(server.url, stamp_header="X-Timestamp")
    g.open()
    with pytest.raises(MediaError, match=r"'x-timestamp'.*frame_stamps: arrival"):
        g.grab()
    g.close()


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (b"HTTP/1.0 401 Unauthorized\r\n\r\n", "401 Unauthorized"),
        (b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>", "not an MJPEG stream"),
        (b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace\r\n\r\n", "boundary"),
    ],
)
def test_an_answer_that_is_no_mjpeg_stream_is_refused_at_open(canned, answer: bytes,  # type: ignore[no-untyped-def]
                                                              match: str) -> None:  # fmt: skip
    g = MjpegGrabber(canned(answer).url)
    with pytest.raises(MediaError, match=match):
        g.open()


def test_basic_auth_is_sent_and_the_password_never_shows_in_a_message(canned) -> None:  # type: ignore[no-untyped-def]
    server = canned(b"HTTP/1.0 403 Forbidden\r\n\r\n")
    url = server.url.replace("http://", "http://op:s3cret@")
    with pytest.raises(MediaError) as err:
        MjpegGrabber(url).open()
    assert b"Authorization: Basic b3A6czNjcmV0\r\n" in server.requests[0]
    assert "s3cret" not in str(err.value)
    assert "op" not in str(err.value).split("://")[1].split("/")[0]


def test_a_part_that_is_not_a_jpeg_is_refused(canned) -> None:  # type: ignore[no-untyped-def]
    stamps = ("1700000000.000000", "1700000000.500000", "1700000001.000000", "1700000001.040000")
    parts = b"".join(_part(f"X-Timestamp: {s}\r\n", body=b"not a picture") for s in stamps)
    arrivals = iter([0, 500 * MS, 1_000 * MS, 1_040 * MS])
    g = MjpegGrabber(canned(HEAD + parts).url, clock_ns=arrivals.__next__)
    g.open()
    with pytest.raises(MediaError, match="not a JPEG"):  # the first frame the clock dates
        g.grab()
    g.close()


def test_only_http_streams_carry_camera_stamps() -> None:
    with pytest.raises(MediaError, match="http://host MJPEG streams"):
        MjpegGrabber("rtsp://10.0.0.5/stream")


def test_a_stream_without_stamps_delivers_no_frame_and_says_why(canned) -> None:  # type: ignore[no-untyped-def]
    """Through the frame source as the box runs it: the error is logged and retried, no frame is
    stamped by arrival instead (the loop then trips on a stale camera, the safe side)."""
    server = canned(HEAD + _part(extra="") * 3)
    events: list[tuple[str, dict[str, object]]] = []

    class Log:
        def error(self, event: str, **kw: object) -> None:
            events.append((event, kw))

        warning = info = error

    source = FrameSource(MjpegGrabber(server.url, "cam7"), backoff_ms=(20, 40), log=Log())
    source.start()
    try:
        assert source.read(0.5) is None
    finally:
        source.stop()
    errors = [kw for e, kw in events if e == "capture_error"]
    assert errors
    assert "x-timestamp" in str(errors[0]["error"])
    assert source.stats().delivered == 0
