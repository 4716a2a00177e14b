"""The page in a process of its own: clients cost the box's process a bounded amount, the page
process can ask the box for nothing but answers, its death is logged and the loop runs on, and
no page outlives its box. Real processes and sockets on loopback, no browser."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from plantvision import log as pvlog
from plantvision.face.events import EventInbox
from plantvision.face.server import FaceServer
from plantvision.face.wire import Want, counters_of, want_of
from plantvision.loop.deployment import HttpModel
from tests.face.conftest import REPO
from tests.face.test_server import INFO
from tests.loop.rig import OUTSIDE, Rig
from tests.waiting import wait_for

CAMS = frozenset({"cam0"})


@pytest.mark.parametrize(
    ("header", "want"),
    [
        ({"kind": "want", "want": "state"}, Want("state")),
        ({"kind": "want", "want": "metrics"}, Want("metrics")),
        ({"kind": "want", "want": "view", "camera": "cam0"}, Want("view", "cam0")),
        ({"kind": "want", "want": "view", "camera": "nope"}, None),
        ({"kind": "want", "want": "view"}, None),
        ({"kind": "want", "want": "state", "camera": "cam0"}, None),
        ({"kind": "want", "want": "reset"}, None),
        ({"kind": "want", "want": "outputs"}, None),
        ({"kind": "want", "want": ["state"]}, None),
        ({"kind": "reset"}, None),
        ({"want": "state"}, None),
    ],
)
def test_the_page_process_can_ask_for_answers_only(header: dict[str, object], want: Want) -> None:
    """Anything the page process sends but a want for state, metrics or a known camera's view
    is ignored by the box: a page process taken over by a client can change nothing."""
    assert want_of(header, CAMS) == want


def test_counters_from_the_page_process_must_be_counts() -> None:
    good = {"kind": "counters", "refused": 1, "limited": 2, "connections": 3}
    assert counters_of(good) == {"refused": 1, "limited": 2, "connections": 3}
    assert counters_of({**good, "limited": -1}) is None
    assert counters_of({**good, "refused": "1"}) is None
    assert counters_of({**good, "kind": "want"}) is None


def test_clients_cost_the_box_at_most_one_answer_per_period(tmp_path: Path) -> None:
    """However many requests come, the box builds /api/state at most every 0.1 s and /metrics
    at most every 0.5 s: the rest are served by the page process."""
    rig = Rig(tmp_path)
    face = FaceServer(rig.ctl, HttpModel(port=0), INFO, EventInbox())
    face.start()
    try:
        rig.start_running()
        t0 = time.monotonic()
        for _ in range(60):
            for path in ("api/state", "metrics"):
                with urllib.request.urlopen(face.url + path, timeout=10) as r:
                    assert r.status == 200
        elapsed_s = time.monotonic() - t0
    finally:
        face.stop()
    assert 1 <= face.answered["state"] <= elapsed_s / 0.1 + 1
    assert 1 <= face.answered["metrics"] <= elapsed_s / 0.5 + 1


def test_a_dead_page_process_is_logged_and_the_loop_runs_on(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    face = FaceServer(rig.ctl, HttpModel(port=0), INFO, EventInbox(), log=pvlog.get())
    face.start()
    try:
        rig.start_running()
        with capture_logs() as logs:
            os.kill(face.pid, signal.SIGKILL)
            assert wait_for(lambda: face.failures == 1, 10)
        stopped = [e for e in logs if e["event"] == "http_stopped"]
        assert len(stopped) == 1
        assert stopped[0]["exit_code"] == -signal.SIGKILL
        assert rig.step([OUTSIDE])  # the loop decides and writes as before
        assert rig.link.writes[-1].permit
    finally:
        face.stop()


BOX = """
import sys, time
from pathlib import Path
from plantvision.face.events import EventInbox
from plantvision.face.server import FaceServer
from plantvision.loop.deployment import HttpModel
from tests.face.test_server import INFO
from tests.loop.rig import Rig
face = FaceServer(Rig(Path(sys.argv[1])).ctl, HttpModel(port=0), INFO, EventInbox())
print(face.start(), face.pid, flush=True)
time.sleep(600)
"""


def test_no_page_outlives_its_box(tmp_path: Path) -> None:
    """A box killed outright takes its page with it: nobody is shown a dead box's last state."""
    with subprocess.Popen(
        [sys.executable, "-c", BOX, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    ) as box:
        try:
            assert box.stdout is not None
            url, pid = box.stdout.readline().split()
            with urllib.request.urlopen(url + "api/state", timeout=10) as r:
                assert json.loads(r.read())["cameras"][0]["id"] == "cam0"
            box.kill()
            box.wait(10)
            port = int(url.rsplit(":", 1)[1].strip("/"))
            assert wait_for(lambda: _refused(port), 20)
            assert wait_for(lambda: _gone(int(pid)), 20)
        finally:
            box.kill()


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def _gone(pid: int) -> bool:
    """Ended: no such process, or a zombie waiting for a reaper."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"
