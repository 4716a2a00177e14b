"""An MJPEG-over-HTTP camera read part by part, so each frame's own capture stamp is kept.

OpenCV's reader drops the part headers, so a `stream` source with `frame_stamps: camera` reads
the stream itself: one GET, a `multipart/x-mixed-replace` body, each part's headers (its
`Content-Length` and the stamp header, decimal seconds on the camera's clock as mjpg-streamer's
`X-Timestamp`) then its JPEG. The stamp goes through `CameraClock` onto the box's clock and
becomes the frame's capture time (`last_capture_ns`); a frame the clock withholds (its stamp
disagrees with the anchor) is skipped, and the next part read.

The answer and every part must complete within `timeout_s` of their start (a trickling peer is
given up); a stream that ends, stalls or drops is a failed read (None: the frame source
reconnects); a stream that is not what the deployment says (not multipart, a part without a
length or without the stamp, not a JPEG) raises MediaError naming the fix. Messages name the
camera by scheme://host:port/path only: credentials stay out of every message and log line.
"""

from __future__ import annotations

import base64
import contextlib
import math
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import cv2
import numpy as np

from plantvision.errors import MediaError
from plantvision.frames.grabbers import bgr
from plantvision.frames.http_wire import DeadlineReader, display_url
from plantvision.frames.stamps import CameraClock
from plantvision.types import ImageArray

MAX_HEADER_LINES = 64
MAX_LINE_BYTES = 8192
MAX_PART_BYTES = 64 << 20
MAX_STAMP_S = 1e11  # year 5138: beyond it a stamp is a glitch, not a clock
CAMERA_STAMP_FIX = "set source.frame_stamps: arrival, or make the camera send it"

Report = Callable[..., None]  # report(event, **fields): the clock's steps and late spells


class MjpegGrabber:
    """`http://[user:pass@]host[:port]/path[?query]`, its frames dated by the camera's stamps."""

    def __init__(
        self,
        url: str,
        source_id: str = "cam0",
        *,
        stamp_header: str = "X-Timestamp",
        timeout_s: float = 5.0,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        report: Report | None = None,
    ) -> None:
        parts = urlsplit(url)
        self.name = display_url(parts)
        if parts.scheme != "http" or not parts.hostname:
            raise MediaError(f"{self.name}: camera stamps are read from http://host MJPEG streams")
        self.source_id, self.live = source_id, True
        self.nominal_fps: float | None = None
        self.last_capture_ns: int | None = None
        self.last_capture_spread_ns = 0  # how much older than the truth that date may be
        self.clock = CameraClock()  # kept across reconnects: the path changes, not the clock
        self._parts, self._header = parts, stamp_header.lower()
        self._timeout_s, self._clock_ns, self._report = timeout_s, clock_ns, report
        self._sock: socket.socket | None = None
        self._reader: DeadlineReader | None = None
        self._boundary = b""
        self._stopping = False

    @property
    def clock_steps(self) -> int:
        """Steps of the camera's clock seen since the box started (each reported)."""
        return self.clock.steps

    def open(self) -> None:
        p = self._parts
        try:
            sock = socket.create_connection((p.hostname, p.port or 80), self._timeout_s)
        except OSError as exc:
            raise MediaError(f"{self.name}: cannot connect ({exc.strerror or exc})") from exc
        self._sock, self._reader = sock, DeadlineReader(sock)
        path = (p.path or "/") + (f"?{p.query}" if p.query else "")
        request = [f"GET {path} HTTP/1.0", f"Host: {p.netloc.rpartition('@')[2]}"]
        if p.username is not None:
            user = f"{unquote(p.username)}:{unquote(p.password or '')}"
            request.append(f"Authorization: Basic {base64.b64encode(user.encode()).decode()}")
        try:
            self._reader.start(self._timeout_s)
            sock.sendall(("\r\n".join(request) + "\r\n\r\n").encode())
            status = self._reader.line(MAX_LINE_BYTES)
            headers = self._headers()
        except (OSError, EOFError) as exc:
            self.close()
            raise MediaError(f"{self.name}: no HTTP answer ({type(exc).__name__})") from exc
        self._boundary = self._check_answer(status, headers)

    def _check_answer(self, status: bytes, headers: dict[str, str]) -> bytes:
        fields = status.split(None, 2)
        if len(fields) < 2 or fields[1] != b"200":
            self.close()
            raise MediaError(f"{self.name}: HTTP answer {status.decode(errors='replace')!r}")
        kind = headers.get("content-type", "")
        boundary = next(
            (p.split("=", 1)[1].strip().strip('"') for p in kind.split(";")
             if p.strip().lower().startswith("boundary=")), "",
        )  # fmt: skip
        if not kind.lower().startswith("multipart/") or not boundary:
            self.close()
            raise MediaError(
                f"{self.name}: Content-Type {kind!r} is not an MJPEG stream "
                "(multipart/x-mixed-replace with a boundary); camera stamps need one"
            )
        return ("--" + boundary.removeprefix("--")).encode()

    def grab(self) -> ImageArray | None:
        """The next frame the camera's clock dates; None when the stream failed or ended."""
        while self._reader is not None and not self._stopping:
            try:
                part = self._part()
            except (OSError, EOFError):
                return None
            if part is None:
                return None  # the closing boundary: the stream ended
            body, headers, arrival_ns = part
            mapped = self.clock.map(self._stamp_ns(headers), arrival_ns)
            if mapped.event and self._report is not None:
                self._report(f"camera_clock_{mapped.event}", step_ms=round(mapped.step_ms, 1),
                             withheld=self.clock.withheld)  # fmt: skip
            if mapped.t_ns is None:
                continue  # withheld: never dated by a guess
            image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
            if image is None:
                raise MediaError(f"{self.name}: a part of {len(body)} bytes is not a JPEG")
            self.last_capture_ns = mapped.t_ns
            self.last_capture_spread_ns = mapped.spread_ns
            return bgr(image)
        return None

    def _part(self) -> tuple[bytes, dict[str, str], int] | None:
        reader = self._reader
        assert reader is not None
        reader.start(self._timeout_s)
        for _ in range(MAX_HEADER_LINES):
            line = reader.line(MAX_LINE_BYTES)
            if line == self._boundary:
                break
            if line == self._boundary + b"--":
                return None
        else:
            raise MediaError(f"{self.name}: no part boundary where a part should start")
        headers = self._headers()
        try:
            size = int(headers["content-length"])
        except (KeyError, ValueError):
            raise MediaError(
                f"{self.name}: a part without a Content-Length; camera stamps need one"
            ) from None
        if not 0 < size <= MAX_PART_BYTES:
            raise MediaError(f"{self.name}: a part of {size} bytes")
        body = reader.exactly(size)
        return body, headers, self._clock_ns()

    def interrupt(self) -> None:
        """From another thread (the frame source stopping): wake a read blocked on the socket;
        the capture thread then sees a failed read and ends."""
        self._stopping = True
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed or never connected
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = self._reader = None

    def _headers(self) -> dict[str, str]:
        assert self._reader is not None
        out: dict[str, str] = {}
        for _ in range(MAX_HEADER_LINES):
            line = self._reader.line(MAX_LINE_BYTES)
            if not line:
                return out
            name, _, value = line.decode("latin-1").partition(":")
            out[name.strip().lower()] = value.strip()
        raise MediaError(f"{self.name}: over {MAX_HEADER_LINES} header lines in a part")

    def _stamp_ns(self, headers: dict[str, str]) -> int:
        raw = headers.get(self._header)
        try:
            seconds = float(raw) if raw is not None else math.nan
        except ValueError:
            seconds = math.nan
        if not abs(seconds) < MAX_STAMP_S:  # NaN included
            raise MediaError(
                f"{self.name}: a frame without a readable {self._header!r} header "
                f"(got {raw!r}; decimal seconds expected): {CAMERA_STAMP_FIX}"
            )
        return round(seconds * 1e9)


def log_report(log: Any) -> Report:
    """The clock's events as structured log lines: a late spell (frames withheld from then on)
    and a restart are errors, a forward step and a spell's end warnings."""

    def report(event: str, **fields: Any) -> None:
        if log is not None:
            errors = ("camera_clock_late", "camera_clock_restart")
            (log.error if event in errors else log.warning)(event, **fields)

    return report
