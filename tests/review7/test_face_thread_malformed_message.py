"""One malformed message from the page process ended the box's face thread, unlogged, uncounted.

The box's face thread (`FaceServer._run`) caught only EOFError and OSError around
`_on_message`, whose `unpack` raises ValueError for a line that is not a JSON object
(json.JSONDecodeError, UnicodeDecodeError, "a message header must be an object"). The page
process is the side a hostile client would take over (wire.py's threat model), so what it sends
is untrusted: one bad line kills the thread through threading's excepthook, with no structured
event and no count in `failures`; the page then answers 503 to every request while the page
process lives on. The loop runs on (the face's thread is not on the trip path), so this is the
page's own availability and the rule that a fault is logged and counted, not safety.

The real FaceServer and its pair's real socket; the page process's end is held by the test
instead of a page process, so it can send what a taken-over page process could.
"""

from __future__ import annotations

import socket
import threading
from multiprocessing.connection import Connection
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from plantvision import log as pvlog
from plantvision.face.events import EventInbox
from plantvision.face.server import FaceServer
from plantvision.face.wire import pack, unpack
from plantvision.loop.deployment import HttpModel
from tests.face.test_server import INFO
from tests.loop.rig import Rig


@pytest.mark.parametrize("bad", [b"not json\n", b"[1, 2]\n", b"\xff\xfe\n"])
def test_a_malformed_message_neither_ends_the_face_nor_goes_uncounted(
    tmp_path: Path, bad: bytes
) -> None:
    rig = Rig(tmp_path)
    face = FaceServer(rig.ctl, HttpModel(port=0), INFO, EventInbox(), log=pvlog.get(room="face"))
    ours, theirs = socket.socketpair()
    face._conn = Connection(ours.detach())  # the box's end, as start() sets it
    page = Connection(theirs.detach())  # ... and the page process's end, held here
    thread = threading.Thread(target=face._run, name="face", daemon=True)
    with capture_logs() as logs:
        thread.start()
        page.send_bytes(bad)
        page.send_bytes(pack({"kind": "want", "want": "state"}))
        answer = unpack(page.recv_bytes())[0] if page.poll(5.0) else None
        face._stopping.set()
        thread.join(5.0)
    page.close()
    assert answer is not None, "the face's thread answered nothing after the bad message"
    assert answer["key"] == "state"
    assert face.failures == 1
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["face_error"]
