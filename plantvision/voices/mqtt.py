"""The box's MQTT voice: retained status and camera state, and every event, QoS 1, in order.

Topics (prefix `plantvision` unless configured):
    <prefix>/<box>/status             retained: online with version, deployment and file hashes;
                                      the last will (retained) says offline, so the broker marks
                                      a dead or unplugged box offline within keepalive x 1.5
    <prefix>/<box>/<camera>/state     retained: permit, cause, zone, fault code, online, trips
    <prefix>/<box>/<camera>/events    one JSON object per event: its number n (order, for ever),
                                      name, level, wall time t, t_capture where known, fields
    <prefix>/<box>/events             events that belong to no camera (PLC link, shutdown)

Never on the trip path: one thread of its own does everything (paho's network loop included,
so the spool is touched by one thread only). It reads the loop's published snapshots and a tap
on the log (a bounded deque the log calls append to); the loop never waits on it, and nothing
it does can raise into a cycle. Events go to the on-disk spool first and leave it only when the
broker has acknowledged them (PUBACK): while the broker is away they wait, in order, with their
original timestamps, across a restart of the box too.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plantvision.face.events import EventInbox
from plantvision.face.server import lower_priority
from plantvision.loop.voices_config import MqttModel
from plantvision.voices import mqtt_client as mc
from plantvision.voices.cell import Identity, event_doc
from plantvision.voices.spool import Spool

STEP_S = 0.05  # network loop slice: events leave within about this much of being told
WINDOW = 16  # events in flight (sent, not yet acknowledged)
BACKOFF_S = (0.25, 5.0)  # reconnect delay: first, at most
FAREWELL_S = 2.0  # at stop: time to flush the spool and say offline

States = Callable[[], list[dict[str, Any]]]


def dumps(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), allow_nan=False, default=str).encode()


class MqttVoice:
    """Publish `identity`'s status, `states()` and the events arriving in `inbox`."""

    def __init__(
        self,
        cfg: MqttModel,
        identity: Identity,
        states: States,
        inbox: EventInbox,
        spool_path: Path,
        *,
        secrets: mc.Secrets | None = None,
        log: Any = None,
    ) -> None:
        self.cfg, self.identity, self.states, self.inbox = cfg, identity, states, inbox
        self.spool_path, self.log = spool_path, log
        self.secrets = secrets or mc.Secrets()
        self.root = f"{cfg.topic_prefix}/{identity.box}"
        self.status_topic = f"{self.root}/status"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = False  # CONNACK received, session usable
        self._open = False  # socket open (CONNECT sent)
        self._tried = False
        self._next_try = 0.0
        self._backoff_s = BACKOFF_S[0]
        self._inflight: dict[int, int] = {}  # paho mid -> spool n
        self._handed = 0  # highest spool n handed to paho
        self._last_state: dict[str, bytes] = {}
        self.connects = self.published = self.errors = 0

    # -- life cycle (caller's thread) --------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="voice-mqtt", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = FAREWELL_S + 3.0) -> None:
        """Flush what the broker takes within FAREWELL_S, say offline, disconnect; what is left
        stays in the spool for the next start."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    @property
    def connected(self) -> bool:
        return self._ready

    # -- the voice's thread ------------------------------------------------------------------

    def _run(self) -> None:
        lower_priority()
        spool = Spool(self.spool_path, self.cfg.spool_max_events)
        client = self._client(spool)
        try:
            while not self._stop.is_set():
                try:
                    self._step(client, spool)
                except Exception as exc:  # a bug here ends nothing but this slice
                    self.errors += 1
                    self._say("error", "mqtt_error", error=repr(exc))
                    self._drop_connection(client)
                    self._stop.wait(1.0)
            self._farewell(client, spool)
        finally:
            spool.close()

    def _client(self, spool: Spool) -> mc.Client:
        offline = dumps(self.identity.status(False, reason="connection_lost"))
        client = mc.new_client(
            f"{self.cfg.topic_prefix}-{self.identity.box}",
            self.cfg.protocol,
            self.secrets,
            self.cfg.tls is not None,
            will=(self.status_topic, offline),
        )

        def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
            if not mc.reason_ok(reason):
                self._say("warning", "mqtt_refused", reason=str(reason))
                return
            self._ready, self._backoff_s = True, BACKOFF_S[0]
            self.connects += 1
            self._say("info", "mqtt_connected", broker=f"{self.cfg.host}:{self.cfg.port}")
            status = self.identity.status(True, spool_dropped=spool.dropped)
            c.publish(self.status_topic, dumps(status), qos=1, retain=True)
            self._last_state.clear()  # the broker may have lost them: say every state again

        def on_disconnect(c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
            self._ready = self._open = False

        def on_publish(c: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
            n = self._inflight.pop(mid, None)
            if n is not None:
                spool.done(n)
                self.published += 1

        client.on_connect, client.on_disconnect = on_connect, on_disconnect
        client.on_publish = on_publish
        return client

    def _step(self, client: mc.Client, spool: Spool) -> None:
        now = time.monotonic()
        if not self._open and now >= self._next_try:
            self._connect(client, now)
        self._take_events(spool)
        if not self._open:
            self._stop.wait(STEP_S)
            return
        if self._ready:
            self._publish_states(client)
            self._pump(client, spool)
        rc = client.loop(timeout=STEP_S)
        if rc != mc.SUCCESS:
            self._drop_connection(client)

    def _connect(self, client: mc.Client, now: float) -> None:
        try:
            if not self._tried:  # connect() once (it stores the address), reconnect() after
                self._tried = True
                rc = client.connect(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
            else:
                rc = client.reconnect()
            self._open = rc == mc.SUCCESS
        except (OSError, ValueError):
            self._open = False
        if not self._open:
            self._next_try = now + self._backoff_s
            self._backoff_s = min(self._backoff_s * 2, BACKOFF_S[1])

    def _drop_connection(self, client: mc.Client) -> None:
        """The broker went away: paho keeps what was in flight and sends it again, first,
        after the next CONNACK; nothing here is handed over twice."""
        if self._ready:
            self._say("warning", "mqtt_disconnected", spooled=len(self._inflight))
        self._ready = self._open = False
        self._next_try = time.monotonic() + self._backoff_s

    def _take_events(self, spool: Spool) -> None:
        rows = []
        for ev in self.inbox.drain():
            if ev.event.startswith("mqtt_"):
                continue  # the voice's own lines: not events of the cell
            cam = ev.fields.get("camera")
            topic = f"{self.root}/{cam}/events" if isinstance(cam, str) else f"{self.root}/events"
            rows.append((topic, dumps(event_doc(ev))))
        spool.put(rows)

    def _publish_states(self, client: mc.Client) -> None:
        for doc in self.states():
            body = dumps(doc)
            cam = str(doc["camera"])
            if self._last_state.get(cam) != body:
                client.publish(f"{self.root}/{cam}/state", body, qos=1, retain=True)
                self._last_state[cam] = body

    def _pump(self, client: mc.Client, spool: Spool) -> None:
        room = WINDOW - len(self._inflight)
        if room <= 0:
            return
        for entry in spool.after(self._handed, room):
            info = client.publish(entry.topic, entry.numbered(), qos=1)
            self._inflight[info.mid] = entry.n
            self._handed = entry.n

    def _farewell(self, client: mc.Client, spool: Spool) -> None:
        deadline = time.monotonic() + FAREWELL_S
        self._take_events(spool)
        while self._open and time.monotonic() < deadline:
            if self._ready:
                self._pump(client, spool)
                if not self._inflight:
                    break
            if client.loop(timeout=STEP_S) != mc.SUCCESS:
                self._open = self._ready = False
        if self._ready:
            bye = client.publish(
                self.status_topic,
                dumps(self.identity.status(False, reason="stopped")),
                qos=1,
                retain=True,
            )
            while not bye.is_published() and time.monotonic() < deadline + 1.0:
                if client.loop(timeout=STEP_S) != mc.SUCCESS:
                    break
            client.disconnect()

    def _say(self, level: str, event: str, **fields: Any) -> None:
        if self.log is not None:
            with contextlib.suppress(Exception):  # a failing log must not end the voice
                getattr(self.log, level)(event, **fields)
