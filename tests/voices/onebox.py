"""One box's MQTT voice alone in a process, for tests that kill it: `python -m tests.voices.onebox
PORT BOX SPOOL`. Prints `ready` once connected, then publishes until killed."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from plantvision.face.events import EventInbox
from plantvision.loop.voices_config import MqttModel
from plantvision.voices.cell import Identity
from plantvision.voices.mqtt import MqttVoice


def fake_state(camera: str) -> dict[str, object]:
    return {"camera": camera, "permit": True, "cause": None, "zone": None, "fault_code": 0,
            "online": True, "trips": 0}  # fmt: skip


def voice(port: int, box: str, spool: Path, keepalive_s: int = 2) -> MqttVoice:
    cfg = MqttModel(host="127.0.0.1", port=port, box_id=box, keepalive_s=keepalive_s)
    ident = Identity(box, f"line-{box}", "0" * 64, {"cam": "1" * 64}, time.time(),
                     page=f"http://127.0.0.1:8080/#{box}")  # fmt: skip
    states = [fake_state("cam")]
    return MqttVoice(cfg, ident, lambda: states, EventInbox(), spool)


if __name__ == "__main__":
    v = voice(int(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
    v.start()
    while not v.connected:
        time.sleep(0.01)
    print("ready", flush=True)
    while True:
        time.sleep(1)
