"""A socket read with a deadline per message, and camera URLs fit for messages.

A socket timeout bounds one recv, not a line or a part: a peer that trickles a byte every
0.1 s (a half-dead camera, a proxy stuck mid-part) keeps every recv inside any timeout and a
buffered `readline` never returns. `DeadlineReader` checks a deadline the caller sets per
message before every recv, so a message that does not complete in time is a failed read.
"""

from __future__ import annotations

import socket
import time
from urllib.parse import SplitResult

CHUNK = 65536


class ExpiredError(OSError):
    """The message did not complete before its deadline."""


def display_url(parts: SplitResult) -> str:
    """scheme://host[:port]/path: no user, password or query (cameras take credentials in
    either), for every message and log line."""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}{parts.path or '/'}"


class DeadlineReader:
    """Lines and fixed-size bodies off a connected socket, each within the current deadline."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock, self._buf = sock, bytearray()
        self.deadline_s = float("inf")

    def start(self, timeout_s: float) -> None:
        """A new message: it must be complete within `timeout_s` from now."""
        self.deadline_s = time.monotonic() + timeout_s

    def _fill(self) -> None:
        left = self.deadline_s - time.monotonic()
        if left <= 0:
            raise ExpiredError("no complete message within the timeout")
        self._sock.settimeout(left)
        chunk = self._sock.recv(CHUNK)
        if not chunk:
            raise EOFError("the stream ended")
        self._buf += chunk

    def line(self, limit: int) -> bytes:
        """One line without its CR LF; OSError past the deadline or `limit` bytes."""
        while (end := self._buf.find(b"\n")) < 0:
            if len(self._buf) > limit:
                raise ExpiredError(f"a line over {limit} bytes")
            self._fill()
        if end > limit:
            raise ExpiredError(f"a line over {limit} bytes")
        raw = bytes(self._buf[: end + 1])
        del self._buf[: end + 1]
        return raw.rstrip(b"\r\n")

    def exactly(self, size: int) -> bytes:
        while len(self._buf) < size:
            self._fill()
        body = bytes(self._buf[:size])
        del self._buf[:size]
        return body
