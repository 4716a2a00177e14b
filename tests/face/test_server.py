"""The face in-process over the loop test rig: what the loop publishes, the metrics, and the
server's bounds (read-only, token, clients, rate). Real sockets on loopback, no browser."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from plantvision import log as pvlog
from plantvision.errors import ConfigError
from plantvision.face.events import EventInbox, EventTap
from plantvision.face.metrics import Observer
from plantvision.face.server import FaceServer, bearer_token, http_override
from plantvision.face.state import RunInfo
from plantvision.face.web import RateBound
from plantvision.guard.latch import Guard, GuardConfig
from plantvision.loop.deployment import HttpModel
from tests.loop.rig import INSIDE, OUTSIDE, Rig
from tests.waiting import wait_for

INFO = RunInfo("rig", "dep.yaml", "0" * 64, "127.0.0.1:502", time.time())


def _tapped_rig(tmp_path: Path) -> tuple[Rig, EventInbox]:
    """The loop rig with its controller telling events through an event tap, as `run` wires
    it (the guard returns its events; the loop tells them after the write)."""
    rig, inbox = Rig(tmp_path), EventInbox()
    rig.ctl.log = EventTap(pvlog.get(), inbox)
    cfg = GuardConfig(clear_hold_ms=500, min_off_ms=80, warn_hold_ms=300)
    rig.cam.guard = Guard(cfg, rig.cam.zones.sha256)
    return rig, inbox


def _get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> Any:
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as err:
        err.close()
        return err.code, dict(err.headers), b""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Rig, FaceServer]]:
    rig, inbox = _tapped_rig(tmp_path)
    face = FaceServer(rig.ctl, HttpModel(port=0), INFO, inbox)
    face.start()
    yield rig, face
    face.stop()


def test_the_loop_publishes_its_frame_by_reference(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.start_running()
    frame = rig.frame()
    rig.detector.boxes = [INSIDE]
    rig.clock.advance_ms(33)
    rig.ctl.cycle(rig.cam, frame)
    snap = rig.cam.published
    assert snap is not None
    assert snap.frame is frame, "published by reference, never copied"
    assert snap.detections is not None
    assert len(snap.detections) == 1
    assert not snap.output.permit
    assert snap.output.cause == "stop_zone"
    assert not snap.plc.permit
    assert snap.frames == rig.cam.frames
    assert snap.trips == 1
    rig.step(no_frame=True)  # between frames the last frame stays on show
    assert rig.cam.published is not snap
    assert rig.cam.published.frame is frame
    ticks = list(rig.cam.tape)
    assert len(ticks) == 23
    assert ticks[-1].end_to_end_ns is None
    assert ticks[-2].end_to_end_ns


def test_metrics_count_every_frame_and_trip(tmp_path: Path) -> None:
    rig, inbox = _tapped_rig(tmp_path)
    obs = Observer(rig.ctl, inbox)
    rig.start_running()
    rig.step([INSIDE])
    rig.step([OUTSIDE])
    obs.drain()
    value = obs.registry.get_sample_value
    assert value("plantvision_frames_total", {"camera": "cam0"}) == rig.cam.frames == 23
    assert value("plantvision_e2e_latency_seconds_count", {"camera": "cam0"}) == 23
    assert value("plantvision_trips_total", {"camera": "cam0", "cause": "stop_zone"}) == 1
    assert value("plantvision_permit", {"camera": "cam0"}) == 0
    assert value("plantvision_plc_permit") == 0
    assert value("plantvision_plc_connected") == 1
    assert value("plantvision_plc_write_seconds_count") == 23
    assert value("plantvision_log_lines_dropped_total") == 0
    assert [e.event for e in obs.recent if e.event in ("reset", "trip")] == ["reset", "trip"]
    assert obs.last_reset is not None
    assert obs.last_reset.event == "reset"
    other = Observer(rig.ctl, EventInbox())  # a registry per observer: several can coexist
    assert other.registry is not obs.registry


def test_state_view_and_metrics_over_http(served: tuple[Rig, FaceServer]) -> None:
    rig, face = served
    rig.start_running()
    rig.step([INSIDE])
    status, _, body = _get(face.url + "api/state")
    assert status == 200
    cam = json.loads(body)["cameras"][0]
    assert (cam["permit"], cam["cause"], cam["zone"], cam["fault_code"]) == (
        False, "stop_zone", "press", 2,
    )  # fmt: skip
    press = next(z for z in cam["zones"]["zones"] if z["id"] == "press")
    want = [[300 / 640, 200 / 480], [500 / 640, 200 / 480], [500 / 640, 400 / 480],
            [300 / 640, 400 / 480]]  # fmt: skip
    assert np.allclose(press["polygon"], want, atol=1e-5)
    assert press["state"] == "occupied"
    status, headers, body = _get(face.url + "camera/cam0/frame.jpg")
    assert status == 200
    assert headers["X-Frame-Seq"] == str(rig.seq)
    image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (480, 640, 3)
    status, _, body = _get(face.url + "metrics")
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert {"plantvision_frames", "plantvision_trips", "plantvision_e2e_latency_seconds",
            "plantvision_stage_latency_seconds", "plantvision_plc_write_seconds",
            "plantvision_budget_overruns", "plantvision_rejects",
            "plantvision_log_lines_dropped"} <= names  # fmt: skip
    assert _get(face.url + "camera/nope/frame.jpg")[0] == 404


def test_only_get_and_head(served: tuple[Rig, FaceServer]) -> None:
    _, face = served
    assert _get(face.url + "metrics", method="HEAD")[0] == 200
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        status, headers, _ = _get(face.url + "api/state", method=method)
        assert (status, headers.get("Allow")) == (405, "GET, HEAD")


def test_a_token_guards_the_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PV_FACE_TOKEN", "s3cret-token")
    cfg = HttpModel(port=0, token_env="PV_FACE_TOKEN")
    rig, inbox = _tapped_rig(tmp_path)
    face = FaceServer(rig.ctl, cfg, INFO, inbox, token=bearer_token(cfg, "dep.yaml"))
    face.start()
    try:
        assert _get(face.url + "api/state")[0] == 401
        assert _get(face.url + "metrics", {"Authorization": "Bearer wrong"})[0] == 401
        assert _get(face.url + "metrics", {"Authorization": "Bearer s3cret-token"})[0] == 200
        assert _get(face.url)[0] == 200  # the page itself holds no data
    finally:
        face.stop()


def test_connections_over_the_bound_are_refused(tmp_path: Path) -> None:
    rig, inbox = _tapped_rig(tmp_path)
    face = FaceServer(rig.ctl, HttpModel(port=0, max_clients=2), INFO, inbox)
    port = int(face.start().rsplit(":", 1)[1].strip("/"))
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
    try:
        assert wait_for(lambda: face.connections == 2, 10)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as third:
            assert third.recv(64).startswith(b"HTTP/1.1 503")
        assert wait_for(lambda: face.refused == 1, 10)  # told by the page process
    finally:
        for s in idle:
            s.close()
        face.stop()


def test_requests_over_the_rate_get_429(tmp_path: Path) -> None:
    rig, inbox = _tapped_rig(tmp_path)
    face = FaceServer(rig.ctl, HttpModel(port=0, max_requests_per_s=0.01), INFO, inbox)
    face.start()
    try:
        status, headers, _ = _get(face.url + "metrics")
        assert (status, headers.get("Retry-After")) == (429, "1")
    finally:
        face.stop()


def test_the_rate_bound_allows_a_second_of_burst_then_the_rate() -> None:
    bound = RateBound(2.0, now_s=0.0)
    assert [bound.take(0.0) for _ in range(3)] == [True, True, False]
    assert not bound.take(0.4)  # 0.8 of a token back
    assert bound.take(0.5)
    assert [bound.take(100.0) for _ in range(3)] == [True, True, False]  # never more than 2


def test_http_option_and_exposure_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    base = HttpModel()
    assert not http_override(base, "off").enabled
    assert http_override(base, "127.0.0.1:9000").port == 9000
    assert http_override(base, "[::1]:9000").host == "::1"
    with pytest.raises(ConfigError, match="token_env"):
        http_override(base, "0.0.0.0:8080")
    with pytest.raises(ConfigError, match="HOST:PORT"):
        http_override(base, "8080")
    with pytest.raises(ValueError, match="token_env"):
        HttpModel(host="192.168.1.10")
    exposed = HttpModel(host="0.0.0.0", token_env="PV_UNSET_TOKEN")
    monkeypatch.delenv("PV_UNSET_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="PV_UNSET_TOKEN is unset"):
        bearer_token(exposed, "dep.yaml")


def test_the_event_tap_passes_through_and_drops_oldest_when_full() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    class Inner:
        def bind(self, **kw: Any) -> Inner:
            return self

        def info(self, event: str, **kw: Any) -> None:
            calls.append((event, kw))

    inbox = EventInbox(length=2)
    tap = EventTap(Inner(), inbox).bind(camera="c1")
    for i in range(3):
        tap.info("trip", cause="stop_zone", n=i)
    tap.info("cycle", frames=1)  # chatty lines reach the log, not the page
    assert len(calls) == 4
    got = inbox.drain()
    assert [(e.event, e.fields["n"], e.fields["camera"]) for e in got] == [
        ("trip", 1, "c1"), ("trip", 2, "c1"),
    ]  # fmt: skip


def test_stuck_clients_hold_up_nobody(served: tuple[Rig, FaceServer]) -> None:
    """A client that never reads its answers and one that never finishes its request: the
    loop cycles and other clients are served meanwhile."""
    rig, face = served
    rig.start_running()
    port = int(face.url.rsplit(":", 1)[1].strip("/"))
    greedy = socket.create_connection(("127.0.0.1", port))
    greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    request = b"GET /camera/cam0/frame.jpg HTTP/1.1\r\nHost: x\r\n\r\n"
    greedy.sendall(request * 50)  # pipelined, never read
    slow = socket.create_connection(("127.0.0.1", port))
    slow.sendall(b"GET /api/state HTTP/1.1\r\nHost:")  # and nothing more
    try:
        for _ in range(5):
            rig.step([OUTSIDE])
        status, _, body = _get(face.url + "api/state")
        assert status == 200
        assert json.loads(body)["cameras"][0]["frames"] == rig.cam.frames
    finally:
        greedy.close()
        slow.close()


def test_a_blind_segment_is_a_reject_outcome_of_the_belt(tmp_path: Path) -> None:
    """Each `blind_segment` event counts in plantvision_rejects_total, ejector "-" (the belt
    that no decided frame proved, not one ejector's push)."""
    rig, inbox = _tapped_rig(tmp_path)
    obs = Observer(rig.ctl, inbox)
    for segment in (1, 2):
        inbox.put("warning", "blind_segment", {"camera": "belt", "segment": segment})
    obs.drain()
    labels = {"camera": "belt", "ejector": "-", "outcome": "blind_segment"}
    assert obs.registry.get_sample_value("plantvision_rejects_total", labels) == 2
