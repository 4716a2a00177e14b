"""Permit-off latency while the box's stderr is healthy, blocked or full.

    .venv/bin/python scripts/bench_permit_off_log_faults.py [--trips 100]

Real threads: the Controller, the PlcLink over loopback TCP to the in-process PLC simulator, and
the log queue (plantvision.log) writing to file descriptor 2, which the script points at the
stream under test: `healthy` (a pipe a reader drains), `blocked` (a full pipe nobody reads) and
`full` (/dev/full: ENOSPC). A thread logs 1000 `cycle` lines a second on top, so the blocked
queue overflows. Its own figures go to stdout.

Per trip, the camera starts showing a person at a known capture instant; the latency is the
simulator's receive time of the permit-0 write minus that capture time ("sim"), cross-checked
with the `response_ms` the box reports in its permit_off event ("box": capture -> write
acknowledged).
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from plantvision import log as pvlog
from plantvision.frames.health import FrozenDetector
from plantvision.frames.source import FrameSource
from plantvision.guard.latch import Guard, GuardConfig
from plantvision.loop.camera import CameraRuntime
from plantvision.loop.controller import Controller
from plantvision.plc.config import PlcConfig
from plantvision.plc.link import PlcLink
from plantvision.types import Detections, ImageArray, StageTimes
from plantvision.zones.config import load_zone_file
from simulators.plc import PlcSimulator, SimConfig
from simulators.plc.bench import summary

ZONES = """
version: 1
camera: cam0
units: pixels
frame_size: [640, 480]
zones:
  - {id: press, kind: stop, polygon: [[300, 200], [500, 200], [500, 400], [300, 400]]}
"""
INSIDE, OUTSIDE = [380.0, 250.0, 420.0, 350.0], [10.0, 10.0, 50.0, 90.0]


class Camera:
    """30 fps noise; pixel (0, 0) is 255 while a person stands in the zone."""

    source_id, nominal_fps, live = "cam0", 30.0, True

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)
        self.person = False
        self.person_since_ns: int | None = None
        self.last_capture_ns: int | None = None

    def open(self) -> None: ...

    def close(self) -> None: ...

    def grab(self) -> ImageArray:
        image = self.rng.integers(40, 200, (480, 640, 3), dtype=np.uint8)
        self.last_capture_ns = time.monotonic_ns()
        if self.person:
            image[0, 0, 0] = 255
            if self.person_since_ns is None:
                self.person_since_ns = self.last_capture_ns
        return image


class MarkDetector:
    def detect(self, image: ImageArray, times: StageTimes | None = None) -> Detections:
        box = INSIDE if image[0, 0, 0] == 255 else OUTSIDE
        return Detections.from_arrays([box], [0.9], [0], ("person",))


class RecordingLog:
    """The box's logger, noting each permit_off's response_ms on its way to the log queue."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.response_ms = inner, []  # type: list[float]

    def bind(self, **kw: Any) -> RecordingLog:
        return RecordingLog(self.inner.bind(**kw))

    def __getattr__(self, level: str) -> Any:
        def log(event: str, **kw: Any) -> None:
            if event == "permit_off" and kw.get("response_ms") is not None:
                self.response_ms.append(float(kw["response_ms"]))
            getattr(self.inner, level)(event, **kw)

        return log


def _fd2_target(mode: str) -> tuple[int, list[int]]:
    """A descriptor for fd 2 in `mode`, and the descriptors to close afterwards."""
    if mode == "full":
        fd = os.open("/dev/full", os.O_WRONLY)
        return fd, [fd]
    r, w = os.pipe()
    if mode == "blocked":
        filler = os.open(f"/proc/self/fd/{w}", os.O_WRONLY | os.O_NONBLOCK)
        for chunk in (b"x" * 65536, b"x"):
            while True:
                try:
                    os.write(filler, chunk)
                except BlockingIOError:
                    break
        os.close(filler)
    else:  # healthy: a reader drains it, as journald would

        def drain() -> None:
            while True:
                if select.select([r], [], [], 0.1)[0] and not os.read(r, 65536):
                    return  # the write end is closed

        threading.Thread(target=drain, daemon=True).start()
    return w, [w, r]


def run_mode(mode: str, trips: int, workdir: Path) -> list[str]:
    target, to_close = _fd2_target(mode)
    saved = os.dup(2)
    os.dup2(target, 2)
    try:
        pvlog.configure(json=True)
        sim_ms, box_ms, stats = _trips(trips, workdir)
        stats = pvlog.shutdown(0.2)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        for fd in to_close:
            os.close(fd)  # closing a blocked pipe's reader releases the writer (EPIPE)
    diffs = [abs(b - s) for s, b in zip(sim_ms, box_ms, strict=False)]
    return [
        f"stderr {mode}:",
        "  " + summary("person frame captured -> simulator holds permit OFF (sim)", sim_ms),
        "  " + summary("box response_ms, capture -> write acknowledged (box)", box_ms),
        f"  |box - sim| max {max(diffs):.3f} ms; log lines queued {stats.queued}, "
        f"dropped {stats.dropped} (queue full), lost {stats.lost} (stream errors)",
    ]


def _trips(trips: int, workdir: Path) -> tuple[list[float], list[float], pvlog.LogStats]:
    (workdir / "zones.yaml").write_text(ZONES)
    zones = load_zone_file(workdir / "zones.yaml")
    sim = PlcSimulator(SimConfig(watchdog_ms=2000, stopping_ms=10))
    port = sim.start()
    log = RecordingLog(pvlog.get(bench="permit_off_log_faults"))
    link = PlcLink(PlcConfig(host="127.0.0.1", port=port, allowed_hosts=("127.0.0.1",)), log)
    camera = Camera()
    cam = CameraRuntime(
        id="cam0", source=FrameSource(camera, log=log), detector=MarkDetector(), zones=zones,
        guard=Guard(GuardConfig(clear_hold_ms=0, min_off_ms=0), zones.sha256),
        budget_ns=500_000_000, overrun_trips=True, stall_ns=1_000_000_000,
        frozen=FrozenDetector(200.0), dark_max_mean=12.0, dark_max_std=4.0,
    )  # fmt: skip
    ctl = Controller([cam], link, log=log, input_poll_ms=5)
    spam_stop = threading.Event()

    def spam() -> None:  # the canonical cycle lines and everything else a busy box says
        while not spam_stop.wait(0.001):
            log.info("cycle", camera="cam0", note="load")

    threading.Thread(target=spam, daemon=True).start()
    link.start()
    ctl.start()
    sim_ms: list[float] = []
    try:
        for _ in range(trips):
            _raise_permit(sim, cam)
            n0 = len(sim.write_log)
            camera.person_since_ns = None
            camera.person = True
            t_off = _wait_permit_off(sim, n0)
            assert camera.person_since_ns is not None
            sim_ms.append((t_off - camera.person_since_ns) / 1e6)
            camera.person = False
    finally:
        spam_stop.set()
        ctl.stop()
        link.stop()
        sim.stop()
    return sim_ms, log.response_ms[-trips:], pvlog.stats()


def _raise_permit(sim: PlcSimulator, cam: CameraRuntime) -> None:
    deadline = time.monotonic() + 30
    while not sim.permit_seen:
        if time.monotonic() > deadline:
            raise RuntimeError("the box never raised the permit")
        out = cam.last_output
        if out is not None and out.state == "ready_to_reset":
            sim.press_reset()  # held reset_pulse_ms: the box counts it on release
            _poll(lambda: sim.permit_seen, 1.5)
        time.sleep(0.005)


def _wait_permit_off(sim: PlcSimulator, n0: int) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for e in sim.write_log[n0:]:
            if e["signals"].get("permit") == 0:
                return int(e["t_mono_ns"])
        time.sleep(0.001)
    raise RuntimeError("the permit never went off")


def _poll(cond: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.002)
    return bool(cond())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trips", type=int, default=100, help="trips per stream mode")
    p.add_argument("--modes", nargs="+", default=["healthy", "blocked", "full"])
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes:
            print("\n".join(run_mode(mode, args.trips, Path(tmp))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
