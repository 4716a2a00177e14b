"""The UDP result stream: one JSON datagram per decided frame, fire-and-forget.

Its own thread looks at each camera's published snapshot every `poll_ms` and sends one datagram
for each frame it has not sent yet: camera, seq, capture time (wall clock and the box's
monotonic ns), detections, zone verdicts, permit and cause. A frame decided and replaced between
two looks is not sent; the next datagram's `skipped` counts those (seq gaps). The socket never
blocks (a full buffer or an unreachable receiver drops the datagram and counts it), and every
datagram fits `max_datagram_bytes`: a detection list too long for it is cut, with `truncated`
set and `detections_total` the full count.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any

from plantvision.face.server import lower_priority
from plantvision.face.state import zone_states
from plantvision.loop.publish import CameraSnapshot
from plantvision.loop.voices_config import UdpModel
from plantvision.voices.cell import CellLike


def _detections(snap: CameraSnapshot) -> list[dict[str, Any]]:
    d = snap.detections
    if d is None:
        return []
    names = d.class_names
    return [
        {
            "xyxy": [round(float(v), 1) for v in d.xyxy[i]],
            "conf": round(float(d.confidence[i]), 4),
            "class": names[int(d.class_id[i])] if int(d.class_id[i]) < len(names) else None,
        }
        for i in range(len(d))
    ]


def frame_doc(snap: CameraSnapshot, cam_zones: Any, skipped: int) -> dict[str, Any]:
    """The datagram's content for the snapshot's frame (the frame must be set)."""
    frame = snap.frame
    assert frame is not None
    age_s = (time.monotonic_ns() - frame.t_capture_ns) / 1e9
    dets = _detections(snap)
    return {
        "camera": snap.camera,
        "seq": frame.seq,
        "t_capture": round(time.time() - age_s, 6),
        "t_capture_ns": frame.t_capture_ns,
        "permit": bool(snap.output.permit),
        "cause": snap.output.cause,
        "zones": zone_states(cam_zones, snap.hits),
        "detections": dets,
        "detections_total": len(dets),
        "truncated": False,
        "skipped": skipped,
    }


def encode(doc: dict[str, Any], max_bytes: int) -> bytes:
    """JSON within `max_bytes`: cut the detection list (and, past that, the zones) to fit."""
    body = _dumps(doc)
    if len(body) <= max_bytes:
        return body
    dets: list[Any] = doc["detections"]
    lo, hi = 0, len(dets)  # the longest prefix that fits: binary search on its length
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(_dumps({**doc, "detections": dets[:mid], "truncated": True})) <= max_bytes:
            lo = mid
        else:
            hi = mid - 1
    body = _dumps({**doc, "detections": dets[:lo], "truncated": True})
    if len(body) > max_bytes:  # zones alone too many for the bound: the frame's head only
        body = _dumps({**doc, "detections": [], "zones": {}, "truncated": True})
    return body


def _dumps(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()


class UdpVoice:
    """Send every newly decided frame of `cell` to `cfg.host:cfg.port`."""

    def __init__(self, cfg: UdpModel, cell: CellLike, zones: dict[str, Any]) -> None:
        self.cfg, self.cell, self.zones = cfg, cell, zones
        family = socket.AF_INET6 if ":" in cfg.host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.target = (cfg.host, cfg.port)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sent_seq: dict[str, int] = {}
        self.sent = self.dropped = self.skipped = self.truncated = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="voice-udp", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        self.sock.close()

    def _run(self) -> None:
        lower_priority()
        period_s = self.cfg.poll_ms / 1000
        while not self._stop.wait(period_s):
            try:
                self.send_new(self.cell.cameras)
            except Exception:  # never the loop's problem; counted, and on to the next look
                self.dropped += 1

    def send_new(self, cameras: Sequence[Any]) -> None:
        for cam in cameras:
            snap: CameraSnapshot | None = cam.published
            if snap is None or snap.frame is None:
                continue
            seq, last = snap.frame.seq, self._sent_seq.get(cam.id)
            if seq == last:
                continue
            skipped = 0 if last is None or seq < last else seq - last - 1  # (a new source)
            self.skipped += skipped
            self._sent_seq[cam.id] = seq
            body = encode(frame_doc(snap, self.zones[cam.id], skipped), self.cfg.max_datagram_bytes)
            self.truncated += b'"truncated":true' in body
            try:
                self.sock.sendto(body, self.target)
                self.sent += 1
            except OSError:  # buffer full, nobody listening (ICMP), network down: dropped
                self.dropped += 1
