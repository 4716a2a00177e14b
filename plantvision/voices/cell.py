"""What the voices say, as plain JSON-ready data, read from the loop's published snapshots.

Everything here runs in a voice's own thread and only reads: `cam.published` is replaced by one
assignment per cycle and immutable once published (plantvision/loop/publish.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from plantvision import __version__
from plantvision.face.events import Event
from plantvision.loop.outputs import FAULT_CODES
from plantvision.loop.publish import CameraSnapshot

# A camera whose own fault holds the permit off is "offline" (as the plant would say it).
CAMERA_FAULTS = frozenset({"camera_stalled", "frozen_frame", "black_frame"})


class CameraLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def stall_ns(self) -> int: ...
    @property
    def published(self) -> CameraSnapshot | None: ...


class CellLike(Protocol):
    @property
    def cameras(self) -> Sequence[CameraLike]: ...


@dataclass(frozen=True)
class Identity:
    """Who this box is, for the retained status message."""

    box: str
    deployment: str
    deployment_sha256: str
    zones_sha256: dict[str, str]
    started_unix: float
    page: str | None = None  # the box's own status page, when it serves one

    def status(self, online: bool, **extra: Any) -> dict[str, Any]:
        doc: dict[str, Any] = {"online": online, "box": self.box, "t": round(time.time(), 3)}
        if online:
            doc |= {
                "version": __version__,
                "deployment": self.deployment,
                "deployment_sha256": self.deployment_sha256,
                "zones_sha256": self.zones_sha256,
                "started": round(self.started_unix, 3),
                "page": self.page,
            }
        return doc | extra


def camera_state(cam: CameraLike, now_ns: int) -> dict[str, Any]:
    """The retained state of one camera: permit, cause, fault code, online. No frame counters
    (they change every cycle; state is published on change)."""
    snap = cam.published
    if snap is None:
        code = FAULT_CODES["start_interlock"]
        return {"camera": cam.id, "permit": False, "cause": "starting", "zone": None,
                "fault_code": code, "online": False, "trips": 0}  # fmt: skip
    out = snap.output
    fresh = now_ns - snap.t_ack_ns <= cam.stall_ns
    return {
        "camera": cam.id,
        "permit": bool(out.permit),
        "cause": out.cause,
        "zone": out.zone,
        "fault_code": 0 if out.permit else FAULT_CODES.get(out.cause or "", 99),
        "online": fresh and out.cause not in CAMERA_FAULTS,
        "trips": snap.trips,
    }


def cell_states(cell: CellLike) -> list[dict[str, Any]]:
    now_ns = time.monotonic_ns()
    return [camera_state(c, now_ns) for c in cell.cameras]


def event_doc(ev: Event) -> dict[str, Any]:
    """An event as published: name, level, the box's wall time when it was told, the capture
    time of its frame where the event carries a response time (told time minus it: the tell
    follows the acknowledged write within the same cycle), and its own fields."""
    fields = {k: _plain(v) for k, v in ev.fields.items() if k != "deployment"}
    doc: dict[str, Any] = {"event": ev.event, "level": ev.level, "t": round(ev.t_unix, 6)}
    response_ms = fields.get("response_ms")
    if isinstance(response_ms, int | float):
        doc["t_capture"] = round(ev.t_unix - response_ms / 1000, 6)
    return doc | fields


def _plain(v: Any) -> Any:
    if v is None or isinstance(v, str | int | float | bool):
        return v
    if isinstance(v, list | tuple | set | frozenset):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return str(v)
