"""A page process taken over by a hostile client can only ask (wire.py), but it could ask
without pause, and each answer costs the box's face thread a share of the interpreter lock the
camera loops need. The box reads at most twice what an honest page process can ask for.

The real FaceServer thread and its socket pair; the page process's end is held by the test.
"""

from __future__ import annotations

import socket
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

from structlog.testing import capture_logs

from plantvision import log as pvlog
from plantvision.face.events import EventInbox
from plantvision.face.server import FaceServer
from plantvision.face.wire import MessageBudget, pack, unpack
from plantvision.loop.deployment import HttpModel
from tests.face.test_server import INFO
from tests.loop.rig import Rig


def test_the_budget_refills_at_its_rate_and_holds_one_second() -> None:
    budget = MessageBudget(10.0, now_s=0.0)
    assert [budget.take(0.0) for _ in range(10)] == [0.0] * 10
    assert budget.take(0.0) == 0.1  # empty: the next token in a tenth of a second
    assert budget.take(0.05) == 0.05
    assert budget.take(0.1) == 0.0
    assert [budget.take(100.0) for _ in range(11)][-1] > 0  # a long pause: still one second


def test_a_flooding_page_process_gets_at_most_its_budget_answered_and_is_logged(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path)
    face = FaceServer(rig.ctl, HttpModel(port=0), INFO, EventInbox(), log=pvlog.get(room="face"))
    ours, theirs = socket.socketpair()
    face._conn = Connection(ours.detach())
    page = Connection(theirs.detach())
    thread = threading.Thread(target=face._run, name="face", daemon=True)
    answers = 0
    stop = threading.Event()

    def flood() -> None:  # as fast as the pair takes them
        while not stop.is_set():
            try:
                page.send_bytes(pack({"kind": "want", "want": "state"}))
            except OSError:
                return

    flooder = threading.Thread(target=flood, daemon=True)
    with capture_logs() as logs:
        thread.start()
        t0 = time.monotonic()
        flooder.start()
        while time.monotonic() - t0 < 2.0:
            if page.poll(0.1):
                assert unpack(page.recv_bytes())[0]["key"] == "state"
                answers += 1
        elapsed = time.monotonic() - t0
        stop.set()
        face._stopping.set()
        thread.join(5.0)
    page.close()
    flooder.join(5.0)
    rate = face.message_rate_per_s
    assert answers <= rate * (elapsed + 1.0) + 1, (answers, rate, elapsed)  # a second's burst
    assert answers >= rate * elapsed * 0.5, (answers, rate)  # and it still answers
    assert face.floods == 1
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["face_flooded"]
