"""A network camera: the scene over the simulator's belt, served as MJPEG over HTTP.

`MjpegCamera` exposes a frame every 1/fps s on its own thread: it reads (time, belt travel) in one
step (the exposure instant, from the belt's truth), renders the scene at that travel, stamps the
frame number into the picture (`stamp_code`: 16 black/white blocks along the bottom edge, below
the belt), encodes a JPEG and hands it to every client. Each client gets
`multipart/x-mixed-replace` parts (Content-Type, Content-Length, `X-Frame`, and `X-Timestamp`:
the exposure in decimal seconds on the camera's own clock, as mjpg-streamer sends it; that clock
runs from `clock_offset_s` at `drift_ppm` against the host's, so nothing may assume the two
agree) on a thread of its own, newest frame first: a slow client skips frames, as a real camera's
does. Everything between the exposure and the reader's return (render, encode, TCP, the reader's
demux and decode) is the camera's capture latency, which the box knows only if configured
(`source.capture_latency_ms`) or reads from the stamps (`source.frame_stamps: camera`).

`exposure_of(image)` reads the frame number back from a decoded picture and returns its exposure
instant, so a client can measure that latency frame by frame (`measure_latency_ms`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cv2

from plantvision.types import ImageArray

ReadBelt = Callable[[], tuple[int, float]]  # (exposure instant ns, belt travel mm)
BOUNDARY = "plantvisionframe"
CODE_BITS, CODE_PX, CODE_Y = 16, 8, 466  # block size px; the row sits below the belt


def stamp_code(image: ImageArray, number: int) -> None:
    """Write `number` (16 bits) as black/white blocks along the bottom-left edge, in place."""
    for bit in range(CODE_BITS):
        x = CODE_PX * (1 + bit)
        on = (number >> bit) & 1
        image[CODE_Y : CODE_Y + CODE_PX, x : x + CODE_PX] = 255 if on else 0


def read_code(image: ImageArray) -> int:
    """The number `stamp_code` wrote (each block's centre pixel, robust to JPEG)."""
    half = CODE_PX // 2
    number = 0
    for bit in range(CODE_BITS):
        x = CODE_PX * (1 + bit) + half
        if int(image[CODE_Y + half, x].mean()) > 127:
            number |= 1 << bit
    return number


class MjpegCamera:
    """An MJPEG-over-HTTP camera over the belt; `start(read_belt)` returns its stream URL."""

    def __init__(self, render: Callable[[float, float], ImageArray], fps: float,
                 host: str = "127.0.0.1", quality: int = 90, clock_offset_s: float = 1.7e9,
                 drift_ppm: float = 30.0) -> None:  # fmt: skip
        self._render, self._period_ns, self._quality = render, int(1e9 / fps), quality
        self._clock_offset_s, self._rate = clock_offset_s, 1.0 + drift_ppm * 1e-6
        self._cond = threading.Condition()
        self._latest: tuple[int, int, bytes, float] | None = None  # number, exposure, jpeg, mm
        # Called with the belt travel of each frame a client was sent: the frames the box can
        # have grabbed (its reader keeps the newest), for a judge of which belt it ever saw.
        self.on_sent: Callable[[float], None] | None = None
        self._exposures: dict[int, int] = {}  # frame number (16 bits) -> exposure ns, recent
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server = ThreadingHTTPServer((host, 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}/stream.mjpg"

    def start(self, read_belt: ReadBelt) -> str:
        self._threads = [
            threading.Thread(target=self._expose, args=(read_belt,), name="netcam", daemon=True),
            threading.Thread(target=self._server.serve_forever, name="netcam-http", daemon=True),
        ]
        for t in self._threads:
            t.start()
        return self.url

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        for t in self._threads:
            t.join(2.0)

    def camera_clock_s(self, t_ns: int) -> float:
        """The camera's own clock (seconds) at host monotonic instant `t_ns`."""
        return self._clock_offset_s + t_ns * self._rate / 1e9

    def exposure_of(self, image: ImageArray) -> int | None:
        """The exposure instant (monotonic ns) of a decoded frame, if still remembered."""
        with self._cond:
            return self._exposures.get(read_code(image))

    def _expose(self, read_belt: ReadBelt) -> None:
        next_ns, number, t0_ns = time.monotonic_ns(), 0, None
        while not self._stop.is_set():
            delay_s = (next_ns - time.monotonic_ns()) / 1e9
            if delay_s > 0 and self._stop.wait(delay_s):
                return
            next_ns = max(next_ns + self._period_ns, time.monotonic_ns())
            t_ns, travel_mm = read_belt()
            t0_ns = t_ns if t0_ns is None else t0_ns
            image = self._render((t_ns - t0_ns) / 1e9, travel_mm).copy()
            number = (number + 1) & 0xFFFF
            stamp_code(image, number)
            ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self._quality])
            if not ok:
                continue
            with self._cond:
                self._exposures[number] = t_ns
                self._exposures.pop((number - 1000) & 0xFFFF, None)
                self._latest = (number, t_ns, jpeg.tobytes(), travel_mm)
                self._cond.notify_all()

    def _next(self, after: int | None) -> tuple[int, int, bytes, float] | None:
        """The newest frame other than `after`, waiting for one; None once stopped."""
        with self._cond:
            while not self._stop.is_set():
                if self._latest is not None and self._latest[0] != after:
                    return self._latest
                self._cond.wait(0.5)
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/stream.mjpg":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                sent = None
                while (frame := camera._next(sent)) is not None:
                    sent, t_ns, jpeg, travel_mm = frame
                    head = (
                        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                        f"Content-Length: {len(jpeg)}\r\nX-Frame: {sent}\r\n"
                        f"X-Timestamp: {camera.camera_clock_s(t_ns):.6f}\r\n\r\n"
                    )
                    try:
                        self.wfile.write(head.encode() + jpeg + b"\r\n")
                        self.wfile.flush()
                    except OSError:
                        return  # the client went away
                    if camera.on_sent is not None:
                        camera.on_sent(travel_mm)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # no access log on stderr

        return Handler


def measure_latency_ms(
    camera: MjpegCamera, seconds: float, warmup_s: float = 1.0, stamps: str = "arrival"
) -> list[float]:
    """Exposure to `FrameSource`'s stamp, per frame, through the box's own stream reader (as a
    `stream` camera is built: OpenCvGrabber stamping at arrival, or with `stamps` "camera" the
    MjpegGrabber dating each frame by the camera's stamp), for `seconds` after `warmup_s` (the
    reader's first frames were buffered while it probed the stream: 30-130 ms old on this
    machine; a belt at rest when the box starts does not mind them)."""
    from plantvision.frames.grabbers import Grabber, OpenCvGrabber
    from plantvision.frames.mjpeg import MjpegGrabber
    from plantvision.frames.source import FrameSource

    grabber: Grabber = (
        MjpegGrabber(camera.url, "latency") if stamps == "camera"
        else OpenCvGrabber(camera.url, "latency")
    )  # fmt: skip
    source = FrameSource(grabber)
    source.start()
    out: list[float] = []
    try:
        begin = time.monotonic() + warmup_s
        deadline = begin + seconds
        while time.monotonic() < deadline:
            frame = source.read(1.0)
            if time.monotonic() < begin:
                continue
            exposed = None if frame is None else camera.exposure_of(frame.image)
            if frame is not None and exposed is not None:
                out.append((frame.t_capture_ns - exposed) / 1e6)
    finally:
        source.stop()
    return out


__all__ = ["MjpegCamera", "measure_latency_ms", "read_code", "stamp_code"]
