"""Leak: `stop()` while the capture thread is reconnecting to a camera slow to accept cannot
wake it, and the socket it opens afterwards is never closed.

`MjpegGrabber.interrupt()` shuts down the socket it holds, but during `open()`'s connect it
holds none (`create_connection` blocks up to `timeout_s`, 5 s by default, on a camera whose SYN
queue is full or that is booting). `FrameSource.stop()` joins for its timeout, sees the thread
alive and skips `close()` ("a grab blocked in a driver may outlive this"); the connect then
completes, `open()` sends the request and reads the answer without looking at `_stopping`, the
thread sees the stop and returns, and nobody closes the new socket: the camera streams into a
connection the box never reads (one of its few client slots taken), the fd stays open for as
long as the grabber lives. In the product `stop()` runs at shutdown, so the process exit ends
it; any caller that stops a source and goes on (a bench, a command, a future hot reload) keeps
it.

Truth: the camera's own end of the connection (a test listener): no FIN while the test waits.

Suggested fix: the capture thread closes its grabber on its way out when stopped (a `finally`
in `FrameSource._run`), and `open()` checks `_stopping` after the connect and before the
request (closing the socket it made).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from plantvision.frames.mjpeg import MjpegGrabber
from plantvision.frames.source import FrameSource
from tests.review10.netcam import CAMERA_EPOCH_S, HEAD, part
from tests.waiting import wait_for


class SlowCamera:
    """A listener with an accept queue of one: while `filler` waits un-accepted, a connect's SYN
    is dropped and retried (1 s, then 3 s) until `come_back()` accepts everything."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/video"
        self.conns: list[socket.socket] = []
        self.accepted: list[socket.socket] = []
        self.filler: socket.socket | None = None
        self.dropped = threading.Event()

    def serve_one_frame_then_drop(self) -> None:
        """One frame, the accept queue filled, then the stream drops: the box reconnects into
        a connect that hangs."""
        conn, _ = self.sock.accept()
        conn.recv(4096)
        self.filler = socket.create_connection(self.sock.getsockname())
        conn.sendall(HEAD + part(20, CAMERA_EPOCH_S + time.monotonic_ns() / 1e9))
        conn.close()
        self.dropped.set()

    def come_back(self) -> None:
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)
            if self.filler is None or conn.getpeername() != self.filler.getsockname():
                self.conns.append(conn)  # the box's, not the filler's
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    @staticmethod
    def _answer(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.settimeout(10)
            if conn.recv(4096):
                conn.sendall(HEAD)

    def close(self) -> None:
        for s in [self.sock, self.filler, *self.accepted]:
            if s is not None:
                s.close()


def test_a_source_stopped_while_reconnecting_leaves_no_connection_open() -> None:
    camera = SlowCamera()
    threading.Thread(target=camera.serve_one_frame_then_drop, daemon=True).start()
    grabber = MjpegGrabber(camera.url, "cam1", timeout_s=5.0)
    source = FrameSource(grabber, pace="max", backoff_ms=(20, 40))
    source.start()
    try:
        assert camera.dropped.wait(5.0), "the camera never served its frame"
        time.sleep(0.3)  # let the capture thread reach its reconnect's connect
        source.stop(0.5)
        camera.come_back()
        # Bounds a hang only: the connect's SYN is retried after 1 s.
        assert wait_for(lambda: not source.alive, timeout_s=10.0), "the thread never ended"
        boxes = list(camera.conns)
        assert boxes, "the box never reconnected: not this hole"
        open_ends = []
        for conn in boxes:
            conn.settimeout(2.0)  # bounds the wait for the box's FIN only
            try:
                while conn.recv(4096):  # the request, then EOF once the box closes
                    pass
            except TimeoutError:
                open_ends.append(conn.getpeername())
    finally:
        source.stop(2.0)
        camera.close()
    assert not open_ends, f"connections the stopped box left open: {open_ends}"
