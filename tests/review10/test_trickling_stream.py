"""Availability: a camera that trickles bytes holds the capture thread for ever.

`MjpegGrabber` reads through a buffered socket file whose timeout (`timeout_s`, 5 s by default)
bounds each recv, not a line, a part or a frame: a peer that sends one byte every 0.1 s (a
half-dead camera, a proxy stuck mid-part, a slowloris) keeps every recv inside its timeout, and
`readline` / `read(Content-Length)` never return. The capture thread stays alive and blocked:
no `camera_disconnected`, no reconnect, no error counted. The loop trips on the stale camera
(safe), but the box never recovers on its own, and `FrameSource.stop()` cannot end the thread
or close its socket (it skips `close()` while the thread lives).

Truth: the scripted camera counts the connections it accepted and what it served on each.

Suggested fix: a deadline per frame, not per recv: the grabber gives up (returns None, so the
frame source reconnects) when a part has not completed within `timeout_s` of its start (and an
answer within `timeout_s` of the request), e.g. `sock.settimeout` on the remaining time before
each read or a monotonic check in `_line` / `_body` over small reads; and `close()` called from
`stop()` may shut the socket down under a blocked reader (`sock.shutdown(SHUT_RDWR)`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from plantvision.frames.mjpeg import MjpegGrabber
from plantvision.frames.source import FrameSource
from tests.review10.netcam import (
    CAMERA_EPOCH_S,
    HEAD,
    Conn,
    ScriptedCamera,
    jpeg,
    part,
)
from tests.waiting import wait_for

TIMEOUT_S, DRIP_S = 0.5, 0.1  # every drip well inside the grabber's timeout


def _now_s() -> float:
    return CAMERA_EPOCH_S + time.monotonic_ns() / 1e9


def _good(conn: Conn) -> None:
    """A live stream of frames at level 99 until the camera stops."""
    conn.send(HEAD)
    while not conn.closed and conn.send(part(99, _now_s())):
        conn.camera.stopped.wait(0.04)


def _header_drip(conn: Conn) -> None:
    conn.send(HEAD + part(20, _now_s()))
    conn.trickle(part(21, _now_s()), DRIP_S)


def _body_drip(conn: Conn) -> None:
    body = jpeg(21)
    head = f"--rv10\r\nContent-Length: {len(body)}\r\nX-Timestamp: {_now_s():.6f}\r\n\r\n"
    conn.send(HEAD + part(20, _now_s()) + head.encode())
    conn.trickle(body, DRIP_S)


def _one_then_close(conn: Conn) -> None:
    conn.send(HEAD + part(20, _now_s()))


def _answer_drip(conn: Conn) -> None:
    conn.trickle(HEAD, DRIP_S)


SCRIPTS: dict[str, list[Callable[[Conn], None]]] = {
    "a part's header line drips": [_header_drip, _good],
    "a part's body drips": [_body_drip, _good],
    "the answer to a reconnect drips": [_one_then_close, _answer_drip, _good],
}


@pytest.mark.parametrize("case", list(SCRIPTS))
def test_a_trickling_camera_is_given_up_and_the_box_reconnects(case: str) -> None:
    scripts = SCRIPTS[case]
    camera = ScriptedCamera(scripts)
    source = FrameSource(
        MjpegGrabber(camera.url, "cam1", timeout_s=TIMEOUT_S), pace="max", backoff_ms=(20, 40)
    )
    source.start()
    levels: list[int] = []

    def live_again() -> bool:
        frame = source.read(0.05)
        if frame is not None:
            levels.append(round(float(frame.image.mean())))
        return 99 in levels

    try:
        # Bounds a hang only: the grabber's timeout is 0.5 s.
        recovered = wait_for(live_again, timeout_s=6.0)
        seen = f"{case}: frames {levels}, {camera.connections} connections, {source.stats()}"
    finally:
        camera.stop()
        source.stop(2.0)
    assert recovered, seen


def _settled_then_drip(conn: Conn) -> None:
    """Live frames for 1.5 s (the box's clock settles on the first second), then a drip."""
    conn.send(HEAD)
    for _ in range(38):
        conn.send(part(20, _now_s()))
        conn.camera.stopped.wait(0.04)
    conn.trickle(part(21, _now_s()), DRIP_S)


def test_stop_ends_a_capture_blocked_in_a_trickling_read() -> None:
    camera = ScriptedCamera([_settled_then_drip])
    source = FrameSource(MjpegGrabber(camera.url, "cam1", timeout_s=TIMEOUT_S), pace="max")
    source.start()
    try:
        assert source.read(3.0) is not None  # a good part, once the clock settled
        time.sleep(1.0)  # the capture thread is now inside the dripping part's headers
        source.stop(1.0)
        ended = not source.alive
    finally:
        camera.stop()
        source.stop(2.0)
    assert ended, "the capture thread outlived stop(), its socket still open"
