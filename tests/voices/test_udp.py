"""The UDP result stream over a real socket, from a real controller stepped by hand."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plantvision.loop.voices_config import UdpModel
from plantvision.voices.udp import UdpVoice, encode
from tests.loop.rig import INSIDE, OUTSIDE, Rig

HANG_S = 30.0


class Receiver:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(HANG_S)
        self.port = int(self.sock.getsockname()[1])
        self.sizes: list[int] = []

    def frame(self, seq: int) -> dict[str, Any]:
        """The datagram for frame `seq` (earlier ones are passed over); a hang fails."""
        while True:
            data = self.sock.recv(65535)
            self.sizes.append(len(data))
            doc: dict[str, Any] = json.loads(data)
            if doc["seq"] == seq:
                return doc
            assert doc["seq"] < seq, f"frame {seq} never sent"


@pytest.fixture
def stream(tmp_path: Path) -> Iterator[tuple[Rig, Receiver, UdpVoice]]:
    rig, rx = Rig(tmp_path), Receiver()
    voice = UdpVoice(
        UdpModel(port=rx.port, max_datagram_bytes=1024), rig.ctl, {"cam0": rig.cam.zones}
    )
    voice.start()
    yield rig, rx, voice
    voice.stop()
    rx.sock.close()


def test_each_decided_frame_arrives_as_a_datagram_that_matches_it(
    stream: tuple[Rig, Receiver, UdpVoice],
) -> None:
    """Seq, detections, zone verdicts and the permit, as the loop decided them."""
    rig, rx, _ = stream
    rig.start_running()
    clear = rx.frame(rig.seq)
    assert clear["camera"] == "cam0"
    assert clear["permit"] is True
    assert clear["zones"] == {"press": "clear", "aisle": "clear"}
    assert [d["xyxy"] for d in clear["detections"]] == [OUTSIDE]
    assert clear["detections"][0]["class"] == "person"

    assert not rig.step([INSIDE])
    trip = rx.frame(rig.seq)
    assert trip["permit"] is False
    assert trip["cause"] == "stop_zone"
    assert trip["zones"] == {"press": "occupied", "aisle": "warning"}
    assert [d["xyxy"] for d in trip["detections"]] == [INSIDE]
    assert trip["truncated"] is False
    assert trip["t_capture_ns"] == rig.clock.ns  # captured at the stepped clock's now


def test_a_long_detection_list_is_cut_to_the_size_bound_and_flagged(
    stream: tuple[Rig, Receiver, UdpVoice],
) -> None:
    rig, rx, voice = stream
    many = [[10.0 + i, 10.0, 20.0 + i, 30.0] for i in range(300)]
    rig.step(many)
    doc = rx.frame(rig.seq)
    assert rx.sizes[-1] <= 1024
    assert doc["truncated"] is True
    assert doc["detections_total"] == 300
    assert 0 < len(doc["detections"]) < 300
    assert [d["xyxy"] for d in doc["detections"]] == many[: len(doc["detections"])]
    assert voice.truncated >= 1


def test_the_bound_holds_for_any_list() -> None:
    """The longest prefix that fits, never a byte over (pure)."""
    doc = {"camera": "c", "seq": 1, "zones": {}, "truncated": False,
           "detections": [{"xyxy": [1.5, 2.5, 3.5, 4.5], "conf": 0.5}] * 1000}  # fmt: skip
    for bound in (512, 1000, 4096):
        body = encode(doc, bound)
        got = json.loads(body)
        k = len(got["detections"])
        assert len(body) <= bound
        assert got["truncated"] is True
        one_more = {**got, "detections": doc["detections"][: k + 1]}
        assert len(json.dumps(one_more, separators=(",", ":"))) > bound
    assert json.loads(encode(doc, 65000))["truncated"] is False
