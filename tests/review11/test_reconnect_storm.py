"""Availability: a camera that answers and then ends the stream at once is reconnected in a
tight loop, thousands of times a second, two log lines each.

`MjpegGrabber.open()` succeeds on the answer alone (200, multipart); `grab()` then returns None
when the stream ends before a dated frame (the closing boundary, the peer closing, or only
withheld frames: a greeting picture that is late on the anchor). The frame source treats None
from a live source as a drop and reconnects at once (its backoff grows only when `open()`
raises), and a successful open starts the next round with no delay again. A camera at its
client limit that answers 200 and closes (several do), an MJPEG proxy whose upstream is down,
a camera rebooting whose web server is up before its sensor: ~2400 connections a second on
loopback, each a `camera_disconnected` warning and a `camera_reconnected` info line (the log
queue drops and counts the overflow), a core of a two-core box burnt, and the camera's own
connection table flooded. OpenCV's reader does not do this: its open fails on such a stream
(MediaError), which backs off.

Truth: the scripted camera counts the connections it accepted.

Suggested fix: back off on a drop that delivered no frame since the open (a drop after frames
reconnects at once; one with none since the last open doubles the delay like a failed open),
or let `MjpegGrabber.open()` read until its first part before it reports success.
"""

from __future__ import annotations

import time

from plantvision.frames.mjpeg import MjpegGrabber
from plantvision.frames.source import FrameSource
from tests.review10.netcam import BOUNDARY, HEAD, Conn, ScriptedCamera

BACKOFF_MS = (200.0, 5000.0)  # the frame source's default
WATCH_S = 1.0


def _answer_then_end(conn: Conn) -> None:
    conn.send(HEAD + f"--{BOUNDARY}--\r\n".encode())


def test_a_camera_ending_every_stream_at_once_is_reconnected_with_backoff() -> None:
    camera = ScriptedCamera([_answer_then_end])
    source = FrameSource(MjpegGrabber(camera.url, "cam1"), pace="max", backoff_ms=BACKOFF_MS)
    source.start()
    try:
        time.sleep(WATCH_S)  # what is judged is a rate of connections over a span of time
        connections = camera.connections
    finally:
        source.stop(2.0)
        camera.stop()
    # With the backoff of a failed open (200, 400, 800 ms ...), at most a handful.
    assert connections <= 10, f"{connections} connections in {WATCH_S} s, no backoff"
