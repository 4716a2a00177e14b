"""A scripted MJPEG camera on loopback for review 10: each connection runs a script that decides
what goes on the wire and when (stamps on the camera's own clock, transit, trickles), and the
truth (each frame's exposure on the box's monotonic clock) is kept here, apart from the product.

A frame's picture is a uniform grey whose level is its number (JPEG keeps a flat grey exactly),
so a reader can tell which frame it got without trusting any header."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

import cv2
import numpy as np

from plantvision.types import ImageArray

BOUNDARY = "rv10"
HEAD = (
    f"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary={BOUNDARY}\r\n\r\n"
).encode()
CAMERA_EPOCH_S = 1.7e9  # the camera's clock counts from its own epoch

Script = Callable[["Conn"], None]


def jpeg(level: int) -> bytes:
    return bytes(cv2.imencode(".jpg", np.full((16, 16, 3), level, np.uint8))[1])


def level_of(image: ImageArray) -> int:
    return round(float(image.mean()))


def part(level: int, stamp_s: float) -> bytes:
    body = jpeg(level)
    head = (
        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(body)}\r\n"
        f"X-Timestamp: {stamp_s:.6f}\r\n\r\n"
    )
    return head.encode() + body + b"\r\n"


class Conn:
    """One accepted connection, as its script sees it."""

    def __init__(self, sock: socket.socket, index: int, camera: ScriptedCamera) -> None:
        self.sock, self.index, self.camera = sock, index, camera

    @property
    def closed(self) -> bool:
        return self.camera.stopped.is_set()

    def send(self, data: bytes) -> bool:
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True

    def sleep_until(self, t_ns: int) -> None:
        delay = (t_ns - time.monotonic_ns()) / 1e9
        if delay > 0:
            self.camera.stopped.wait(delay)

    def frame(self, level: int, exposure_ns: int, stamp_s: float, send_at_ns: int) -> bool:
        """Expose frame `level` at `exposure_ns` (truth), send it at `send_at_ns` stamped
        `stamp_s` on the camera's clock."""
        self.camera.exposures[level] = exposure_ns
        self.sleep_until(send_at_ns)
        return not self.closed and self.send(part(level, stamp_s))

    def trickle(self, data: bytes, every_s: float) -> None:
        """Send `data` a byte at a time, one every `every_s`, until the camera stops."""
        for b in data:
            if self.camera.stopped.wait(every_s) or not self.send(bytes([b])):
                return


class ScriptedCamera:
    """Answers connection i with scripts[i] (the last script for any later one); the request
    each connection sent is kept in `requests`."""

    def __init__(self, scripts: list[Script]) -> None:
        self.scripts = scripts
        self.exposures: dict[int, int] = {}
        self.requests: list[bytes] = []
        self.stopped = threading.Event()
        self._conns: list[socket.socket] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/video"
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def connections(self) -> int:
        return len(self._conns)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            index = len(self._conns)
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn, index), daemon=True).start()

    def _serve(self, conn: socket.socket, index: int) -> None:
        self.requests.append(conn.recv(4096))
        self.scripts[min(index, len(self.scripts) - 1)](Conn(conn, index, self))
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_WR)
        conn.close()  # the script is done: only the reader's end may stay open

    def stop(self) -> None:
        self.stopped.set()
        self._sock.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()


def read_levels(source: object, last_level: int, timeout_s: float = 15.0) -> dict[int, int]:
    """Frame level -> the frame source's t_capture_ns, for every frame read until `last_level`
    arrived (lockstep sources hand over every frame) or `timeout_s` passed."""
    from plantvision.frames.source import FrameSource

    assert isinstance(source, FrameSource)
    out: dict[int, int] = {}
    deadline = time.monotonic() + timeout_s
    while last_level not in out and time.monotonic() < deadline:
        frame = source.read(0.5)
        if frame is not None:
            out[level_of(frame.image)] = frame.t_capture_ns
    return out
