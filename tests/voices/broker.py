"""A real Mosquitto broker on a free loopback port, and a subscriber that records what it hears.

Debian's `mosquitto` (`.ci/run` installs it). Without it the broker tests skip and say why; in
CI they fail.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.waiting import wait_for

MOSQUITTO = Path(os.environ.get("PLANTVISION_MOSQUITTO", "/usr/sbin/mosquitto"))
HANG_S = 60.0  # bounds a hang only: the machine is small and shared


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Broker:
    """Mosquitto with a generated config; `stop` and `start` again keep the port."""

    def __init__(self, folder: Path, persistent: bool = False) -> None:
        if not MOSQUITTO.is_file():
            if os.environ.get("CI"):
                pytest.fail(f"CI must have mosquitto at {MOSQUITTO} (apt-get install mosquitto)")
            pytest.skip(f"no mosquitto at {MOSQUITTO} (apt-get install mosquitto)")
        self.port = free_port()
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "log_type error\nlog_type warning\n"
        )
        if os.geteuid() == 0:  # as root it would switch to `mosquitto`, who cannot write here
            self.conf.write_text(self.conf.read_text() + "user root\n")
        if persistent:  # sessions and their queued messages survive a restart (saved at exit)
            self.conf.write_text(
                self.conf.read_text().replace("persistence false", "persistence true")
                + f"persistence_location {folder}/\n"
            )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Broker:
        self.proc = subprocess.Popen([str(MOSQUITTO), "-c", str(self.conf)])
        assert wait_for(lambda: _accepts(self.port), HANG_S, 0.05), "mosquitto did not listen"
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
        self.proc = None


class Heard:
    """One message as the subscriber got it."""

    def __init__(self, topic: str, payload: bytes, retain: bool) -> None:
        self.topic, self.raw, self.retain = topic, payload, retain
        self.doc: dict[str, Any] = json.loads(payload) if payload else {}


class Listener:
    """A subscriber on `topic` (QoS 1) that records every message, in arrival order."""

    def __init__(
        self, broker: Broker, topic: str = "plantvision/#", session: str | None = None
    ) -> None:
        """`session`: a persistent session under that client id (the broker keeps the
        subscription and queues QoS 1 messages while this subscriber is away)."""
        self.heard: list[Heard] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=session or "", protocol=paho.MQTTv5)

        def on_connect(c: Any, u: Any, flags: Any, rc: Any, p: Any) -> None:
            if not flags.session_present:
                c.subscribe(topic, qos=1)

        c.on_connect = on_connect
        c.on_subscribe = lambda c, u, mid, rcs, p: self._subscribed.set()
        c.on_message = self._on_message
        c.reconnect_delay_set(1, 1)
        props = None
        if session is not None:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
        c.connect("127.0.0.1", broker.port, keepalive=30, clean_start=session is None,
                  properties=props)  # fmt: skip
        c.loop_start()
        self.client = c
        assert self._subscribed.wait(HANG_S), "subscription not acknowledged"

    def _on_message(self, c: Any, u: Any, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.heard.append(Heard(msg.topic, msg.payload, bool(msg.retain)))

    def on(self, suffix: str) -> list[Heard]:
        with self._lock:
            return [h for h in self.heard if h.topic.endswith(suffix)]

    def last(self, suffix: str) -> dict[str, Any] | None:
        got = self.on(suffix)
        return got[-1].doc if got else None

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
