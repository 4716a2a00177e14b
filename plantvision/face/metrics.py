"""/metrics: Prometheus metrics through prometheus-client, kept in the face's own thread.

The loop never touches a metric (a metric's lock is one the loop could wait on). Instead the
`Observer`, run periodically by the face's thread, drains what the loop told by reference:
- each camera's tape (one `Tick` per cycle): latency histograms, exact per frame;
- the event inbox (the log calls the loop makes after its write): trips, overruns, rejects;
- the snapshots, read at scrape time by a custom collector: frames, permits, the link, the
  supervisor's thread problems and the shared inference workers' counts (face/threads.py).
Each `Observer` has its own `CollectorRegistry` (never the global one), so tests can run several.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from plantvision import log as pvlog
from plantvision.face.events import Event, EventInbox
from plantvision.face.threads import thread_metrics
from plantvision.loop.camera import CameraRuntime
from plantvision.loop.controller import Controller
from plantvision.loop.publish import CameraSnapshot

E2E_BUCKETS_S = (0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5)
STAGE_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)
WRITE_BUCKETS_S = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
WINDOW = 1000  # recent frames behind the page's median, p99 and histogram picture
REJECT_OUTCOMES = {
    "reject_scheduled": "scheduled",
    "reject_fired": "fired",
    "reject_missed": "missed",
    "reject_confirmed": "confirmed",
    "reject_unconfirmed": "unconfirmed",
    "reject_hits_neighbour": "hits_neighbour",
    "ejector_cycle_short": "cycle_short",
    "blind_segment": "blind_segment",  # belt no decided frame proved (ejector "-": the belt)
}


def log_lines_dropped() -> int:
    """Log lines that never reached the stream: dropped by the full queue, or lost to a failed
    write (a full disk, a closed pipe)."""
    logs = pvlog.stats()
    return logs.dropped + logs.lost


@dataclass
class CameraWatch:
    """What the face keeps about one camera between drains."""

    e2e_ns: deque[int] = field(default_factory=lambda: deque(maxlen=WINDOW))
    fps_marks: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=50))

    def fps(self) -> float:
        if len(self.fps_marks) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self.fps_marks[0], self.fps_marks[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0


class _Snapshots(Collector):
    """Gauges and counters read from the loop's snapshots at scrape time."""

    def __init__(self, observer: Observer) -> None:
        self._obs = observer

    def collect(self) -> Iterator[Metric]:
        frames = CounterMetricFamily(
            "plantvision_frames", "Frames decided, per camera", labels=["camera"]
        )
        permit = GaugeMetricFamily(
            "plantvision_permit", "The camera's own permit (1 on, 0 off)", labels=["camera"]
        )
        for cam in self._obs.controller.cameras:
            snap = cam.published
            frames.add_metric([cam.id], snap.frames if snap else 0)
            permit.add_metric([cam.id], 1 if snap is not None and snap.output.permit else 0)
        plc = self._obs.plc_snapshot()
        yield frames
        yield permit
        yield GaugeMetricFamily(
            "plantvision_plc_permit",
            "The combined run permit last written to the PLC (1 on, 0 off)",
            value=1 if plc is not None and plc.plc.permit else 0,
        )
        yield GaugeMetricFamily(
            "plantvision_plc_connected",
            "The PLC link is up (1) or lost (0)",
            value=1 if self._obs.controller.link.healthy else 0,
        )
        yield CounterMetricFamily(
            "plantvision_log_lines_dropped",
            "Log lines dropped by the non-blocking log queue",
            value=log_lines_dropped(),
        )
        yield CounterMetricFamily(
            "plantvision_face_events_dropped",
            "Events the status page missed because its inbox overflowed",
            value=self._obs.events_dropped(),
        )
        yield from thread_metrics(self._obs.controller)


class Observer:
    """Drains the loop's tapes and the event inbox into metrics and the page's windows."""

    def __init__(self, controller: Controller, inbox: EventInbox, recent: int = 100) -> None:
        self.controller, self.inbox = controller, inbox
        self.registry = CollectorRegistry()
        self.watch = {c.id: CameraWatch() for c in controller.cameras}
        self.recent: deque[Event] = deque(maxlen=recent)
        self.last_reset: Event | None = None
        self._put_seen = 0
        r = self.registry
        self.e2e = Histogram(
            "plantvision_e2e_latency_seconds",
            "Frame capture to permit write acknowledged",
            ["camera"],
            buckets=E2E_BUCKETS_S,
            registry=r,
        )
        self.stage = Histogram(
            "plantvision_stage_latency_seconds",
            "Time per stage of a cycle",
            ["camera", "stage"],
            buckets=STAGE_BUCKETS_S,
            registry=r,
        )
        self.write = Histogram(
            "plantvision_plc_write_seconds",
            "Round trip of the output image write to the PLC",
            buckets=WRITE_BUCKETS_S,
            registry=r,
        )
        self.trips = Counter(
            "plantvision_trips",
            "Permit trips, per camera and cause",
            ["camera", "cause"],
            registry=r,
        )
        self.overruns = Counter(
            "plantvision_budget_overruns",
            "Frames older than the budget at decision time",
            ["camera"],
            registry=r,
        )
        self.rejects = Counter(
            "plantvision_rejects",
            "Reject outcomes, per camera and ejector",
            ["camera", "ejector", "outcome"],
            registry=r,
        )
        r.register(_Snapshots(self))

    def plc_snapshot(self) -> CameraSnapshot | None:
        """The snapshot whose write reached the PLC last: its image is what the PLC holds."""
        snaps = [c.published for c in self.controller.cameras if c.published is not None]
        return max(snaps, key=lambda s: s.t_ack_ns, default=None)

    def events_dropped(self) -> int:
        return max(0, self._put_seen - self.inbox.taken)

    def drain(self) -> None:
        """Take every tick and event published since the last drain (the face's thread)."""
        now = time.monotonic()
        for cam in self.controller.cameras:
            self._drain_camera(cam, now)
        for ev in self.inbox.drain():
            self._count(ev)
            self._put_seen = max(self._put_seen, ev.id)
            self.recent.append(ev)
            if ev.event in ("reset", "reset_refused"):
                self.last_reset = ev

    def _drain_camera(self, cam: CameraRuntime, now: float) -> None:
        w = self.watch[cam.id]
        e2e, stage = self.e2e.labels(cam.id), self.stage
        while True:
            try:
                t = cam.tape.popleft()
            except IndexError:
                break
            if t.end_to_end_ns is not None:
                e2e.observe(t.end_to_end_ns / 1e9)
                w.e2e_ns.append(t.end_to_end_ns)
            for name, ns in t.stages.items():
                stage.labels(cam.id, name).observe(ns / 1e9)
            if t.rtt_ms is not None:
                self.write.observe(t.rtt_ms / 1e3)
        snap = cam.published
        if snap is not None:
            w.fps_marks.append((now, snap.frames))

    def _count(self, ev: Event) -> None:
        camera = str(ev.fields.get("camera", ""))
        if ev.event == "trip":
            self.trips.labels(camera, str(ev.fields.get("cause"))).inc()
        elif ev.event == "budget_overrun":
            self.overruns.labels(camera).inc()
        elif ev.event in REJECT_OUTCOMES:
            ejector = str(ev.fields.get("ejector") or "-")
            self.rejects.labels(camera, ejector, REJECT_OUTCOMES[ev.event]).inc()

    def latency_ms(self, camera: str) -> tuple[float, float]:
        """Median and p99 (ms) of the recent window of frames."""
        arr = np.asarray(self.watch[camera].e2e_ns, np.float64) / 1e6
        if arr.size == 0:
            return 0.0, 0.0
        return float(np.median(arr)), float(np.percentile(arr, 99, method="higher"))

    def histogram(self, camera: str, budget_ms: float, bins: int = 30) -> dict[str, Any]:
        """The recent window binned 0..budget in equal steps, plus one bin over the budget."""
        arr = np.asarray(self.watch[camera].e2e_ns, np.float64) / 1e6
        edges = np.linspace(0.0, budget_ms, bins + 1)
        counts, _ = np.histogram(np.minimum(arr, budget_ms), bins=edges)
        over = int(np.count_nonzero(arr > budget_ms))
        counts[-1] -= over  # np.histogram's last bin is closed: keep the over-budget ones apart
        return {
            "edges_ms": [round(float(e), 3) for e in edges],
            "counts": counts.tolist(),
            "over_budget": over,
        }
