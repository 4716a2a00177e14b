"""`/api/state`: the cell as JSON, built in the face's thread from the loop's snapshots.

Plain data only (numbers, strings, lists); the page's script renders it, and tests read it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from plantvision.face.events import Event
from plantvision.face.metrics import Observer
from plantvision.face.threads import threads_json
from plantvision.loop.camera import CameraRuntime
from plantvision.loop.outputs import FAULT_CODES
from plantvision.loop.publish import CameraSnapshot
from plantvision.zones.geometry import CompiledZones, ZoneHits, ZoneKind


@dataclass(frozen=True)
class RunInfo:
    """What does not change while the box runs."""

    deployment: str
    deployment_file: str
    deployment_sha256: str
    plc_address: str
    started_unix: float


def event_json(ev: Event) -> dict[str, Any]:
    fields: dict[str, Any] = {
        k: v for k, v in ev.fields.items() if isinstance(v, str | int | float | bool | None)
    }
    fields |= {k: list(v) for k, v in ev.fields.items() if isinstance(v, list | tuple)}
    return {"id": ev.id, "t": ev.t_unix, "level": ev.level, "event": ev.event, **fields}


def zone_states(zones: CompiledZones, hits: ZoneHits | None) -> dict[str, str]:
    """clear / warning / occupied per zone, from the verdict the guard used."""
    occupied = hits.occupied_by_zone() if hits is not None else {}
    return {
        z.id: ("occupied" if z.kind is ZoneKind.STOP else "warning")
        if occupied.get(z.id)
        else "clear"
        for z in zones.zones
    }


def zones_json(zones: CompiledZones, hits: ZoneHits | None) -> dict[str, Any]:
    states = zone_states(zones, hits)
    return {
        "sha256": zones.sha256,
        "source": zones.source,
        "zones": [
            {
                "id": z.id,
                "kind": z.kind.value,
                "state": states[z.id],
                "polygon": [[round(float(x), 5), round(float(y), 5)] for x, y in z.polygon],
            }
            for z in zones.zones
        ],
        "masks": [
            {
                "id": m.id,
                "state": "masked",
                "polygon": [[round(float(x), 5), round(float(y), 5)] for x, y in m.polygon],
            }
            for m in zones.masks
        ],
    }


def camera_json(cam: CameraRuntime, obs: Observer, now_ns: int) -> dict[str, Any]:
    snap: CameraSnapshot | None = cam.published
    median, p99 = obs.latency_ms(cam.id)
    budget_ms = cam.budget_ns / 1e6
    out = snap.output if snap is not None else None
    frame = snap.frame if snap is not None else None
    age_ms = (now_ns - snap.t_ack_ns) / 1e6 if snap is not None else None
    doc: dict[str, Any] = {
        "id": cam.id,
        "permit": bool(out is not None and out.permit),
        "warning": bool(out is not None and out.warning),
        "cause": out.cause if out is not None else "starting",
        "zone": out.zone if out is not None else None,
        "state": out.state.value if out is not None else "starting",
        "fault_code": 0 if out is None or out.permit else FAULT_CODES.get(out.cause or "", 99),
        "frames": snap.frames if snap is not None else 0,
        "trips": snap.trips if snap is not None else 0,
        "seq": frame.seq if frame is not None else None,
        "size": [frame.width, frame.height] if frame is not None else None,
        "detections": len(snap.detections) if snap and snap.detections is not None else 0,
        "fps": round(obs.watch[cam.id].fps(), 2),
        "e2e_median_ms": round(median, 2),
        "e2e_p99_ms": round(p99, 2),
        "budget_ms": budget_ms,
        "histogram": obs.histogram(cam.id, budget_ms),
        "last_cycle_ms_ago": None if age_ms is None else round(age_ms, 1),
        "alive": age_ms is not None and age_ms * 1e6 <= cam.stall_ns,
        "zones": zones_json(cam.zones, snap.hits if snap is not None else None),
        "conveyor": None,
    }
    if cam.reject is not None:
        c = cam.reject.counters
        doc["conveyor"] = {"timing_mode": cam.reject.cfg.timing_mode, **c}
    return doc


def state_json(obs: Observer, info: RunInfo) -> dict[str, Any]:
    now_ns = time.monotonic_ns()
    ctl = obs.controller
    plc = obs.plc_snapshot()
    last = obs.last_reset
    return {
        "deployment": {
            "name": info.deployment,
            "file": info.deployment_file,
            "sha256": info.deployment_sha256,
        },
        "uptime_s": round(time.time() - info.started_unix, 1),
        "plc": {
            "address": info.plc_address,
            "connected": bool(ctl.link.healthy),
            "losses": int(ctl.link.losses),
            "permit": bool(plc is not None and plc.plc.permit),
            "warning": bool(plc is not None and plc.plc.warning),
            "fault_code": plc.plc.fault_code if plc is not None else FAULT_CODES["start_interlock"],
            "rtt_ms": None if plc is None or plc.rtt_ms is None else round(plc.rtt_ms, 3),
        },
        "last_reset": None if last is None else event_json(last),
        "threads": threads_json(ctl),
        "events": [event_json(e) for e in reversed(obs.recent)],
        "cameras": [camera_json(c, obs, now_ns) for c in ctl.cameras],
    }
