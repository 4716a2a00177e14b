"""An MJPEG-over-HTTP camera read part by part, so each frame's own capture stamp is kept.

OpenCV's reader drops the part headers, so a `stream` source with `frame_stamps: camera` reads
the stream itself: one GET, a `multipart/x-mixed-replace` body, each part's headers (its
`Content-Length` and the stamp header, decimal seconds on the camera's clock as mjpg-streamer's
`X-Timestamp`) then its JPEG. The stamp goes through `CameraClock` onto the box's clock and
becomes the frame's capture time (`last_capture_ns`).

A stream that ends, stalls past `timeout_s` or drops the connection is a failed read (None: the
frame source reconnects); a stream that is not what the deployment says (not multipart, a part
without a length or without the stamp, not a JPEG) raises MediaError naming the fix.
"""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Callable
from typing import BinaryIO
from urllib.parse import urlsplit

import cv2
import numpy as np

from plantvision.errors import MediaError
from plantvision.frames.grabbers import bgr
from plantvision.frames.stamps import CameraClock
from plantvision.types import ImageArray

MAX_HEADER_LINES = 64
MAX_PART_BYTES = 64 << 20
CAMERA_STAMP_FIX = "set source.frame_stamps: arrival, or make the camera send it"


class MjpegGrabber:
    """`http://[user:pass@]host[:port]/path`, its frames stamped by the camera (module doc)."""

    def __init__(
        self,
        url: str,
        source_id: str = "cam0",
        *,
        stamp_header: str = "X-Timestamp",
        timeout_s: float = 5.0,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        on_step: Callable[[float], None] | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise MediaError(f"{url}: camera stamps are read from http:// MJPEG streams only")
        self.url, self.source_id, self.live = url, source_id, True
        self.nominal_fps: float | None = None
        self.last_capture_ns: int | None = None
        self.clock = CameraClock()
        self._parts, self._header = parts, stamp_header.lower()
        self._timeout_s, self._clock_ns, self._on_step = timeout_s, clock_ns, on_step
        self._sock: socket.socket | None = None
        self._stream: BinaryIO | None = None
        self._boundary = b""

    def open(self) -> None:
        p = self._parts
        try:
            sock = socket.create_connection((p.hostname, p.port or 80), self._timeout_s)
        except OSError as exc:
            raise MediaError(f"{self._safe_url()}: cannot connect ({exc})") from exc
        self._sock, self._stream = sock, sock.makefile("rb")
        self.clock.reset()  # a reconnected camera may have restarted its clock
        path = (p.path or "/") + (f"?{p.query}" if p.query else "")
        request = [f"GET {path} HTTP/1.0", f"Host: {p.netloc.rpartition('@')[2]}"]
        if p.username is not None:
            token = base64.b64encode(f"{p.username}:{p.password or ''}".encode()).decode()
            request.append(f"Authorization: Basic {token}")
        try:
            sock.sendall(("\r\n".join(request) + "\r\n\r\n").encode())
            status = self._line()
            headers = self._headers()
        except (OSError, EOFError) as exc:
            self.close()
            raise MediaError(f"{self._safe_url()}: no HTTP answer ({exc})") from exc
        self._boundary = self._check_answer(status, headers)

    def _check_answer(self, status: bytes, headers: dict[str, str]) -> bytes:
        fields = status.split(None, 2)
        if len(fields) < 2 or fields[1] != b"200":
            self.close()
            raise MediaError(f"{self._safe_url()}: HTTP answer {status.decode(errors='replace')!r}")
        kind = headers.get("content-type", "")
        boundary = next(
            (p.split("=", 1)[1].strip().strip('"') for p in kind.split(";")
             if p.strip().lower().startswith("boundary=")), "",
        )  # fmt: skip
        if not kind.lower().startswith("multipart/") or not boundary:
            self.close()
            raise MediaError(
                f"{self._safe_url()}: Content-Type {kind!r} is not an MJPEG stream "
                "(multipart/x-mixed-replace with a boundary); camera stamps need one"
            )
        return ("--" + boundary.removeprefix("--")).encode()

    def grab(self) -> ImageArray | None:
        if self._stream is None:
            return None
        try:
            for _ in range(MAX_HEADER_LINES):
                line = self._line()
                if line == self._boundary:
                    break
                if line == self._boundary + b"--":
                    return None  # the closing boundary: the stream ended
            else:
                raise MediaError(f"{self._safe_url()}: no part boundary where a part should start")
            headers = self._headers()
            body = self._body(headers)
            arrival_ns = self._clock_ns()
        except (OSError, EOFError):
            return None
        stamp_ns = self._stamp_ns(headers)
        image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise MediaError(f"{self._safe_url()}: a part of {len(body)} bytes is not a JPEG")
        mapped = self.clock.map(stamp_ns, arrival_ns)
        if mapped.step_ms is not None and self._on_step is not None:
            self._on_step(mapped.step_ms)
        self.last_capture_ns = mapped.t_ns
        return bgr(image)

    @property
    def clock_steps(self) -> int:
        """Steps of the camera's clock seen since the box started (each logged by the caller)."""
        return self.clock.steps

    def close(self) -> None:
        for closing in (self._stream, self._sock):
            if closing is not None:
                closing.close()
        self._stream = self._sock = None

    def _line(self) -> bytes:
        assert self._stream is not None
        raw = self._stream.readline(8192)
        if not raw:
            raise EOFError("the stream ended")
        return raw.rstrip(b"\r\n")

    def _headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for _ in range(MAX_HEADER_LINES):
            line = self._line()
            if not line:
                return out
            name, _, value = line.decode("latin-1").partition(":")
            out[name.strip().lower()] = value.strip()
        raise MediaError(f"{self._safe_url()}: over {MAX_HEADER_LINES} header lines in a part")

    def _body(self, headers: dict[str, str]) -> bytes:
        assert self._stream is not None
        try:
            size = int(headers["content-length"])
        except (KeyError, ValueError):
            raise MediaError(
                f"{self._safe_url()}: a part without a Content-Length; camera stamps need one"
            ) from None
        if not 0 < size <= MAX_PART_BYTES:
            raise MediaError(f"{self._safe_url()}: a part of {size} bytes")
        body = self._stream.read(size)
        if len(body) < size:
            raise EOFError("the stream ended inside a part")
        return body

    def _stamp_ns(self, headers: dict[str, str]) -> int:
        raw = headers.get(self._header)
        try:
            seconds = float(raw) if raw is not None else float("nan")
        except ValueError:
            seconds = float("nan")
        if not np.isfinite(seconds):
            raise MediaError(
                f"{self._safe_url()}: a frame without a readable {self._header!r} header "
                f"(got {raw!r}; decimal seconds expected): {CAMERA_STAMP_FIX}"
            )
        return round(seconds * 1e9)

    def _safe_url(self) -> str:
        """The URL with its password left out, for messages and logs."""
        p = self._parts
        if p.password is None:
            return self.url
        return self.url.replace(f":{p.password}@", ":***@", 1)
