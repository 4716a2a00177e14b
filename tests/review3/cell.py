"""Review 3 helpers: one real camera loop (25 fps noise frames, a detector the test steers), the
real Controller with its threads, the real PlcLink over loopback TCP to the real PlcSimulator.
Every knob a reproducer needs (signal map, stop monitoring, budgets, link timing) is a keyword."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from plantvision import log as pvlog
from plantvision.frames.health import FrozenDetector
from plantvision.frames.source import FrameSource
from plantvision.guard.latch import Guard, GuardConfig
from plantvision.loop.camera import CameraRuntime
from plantvision.loop.controller import Controller
from plantvision.loop.edm import StopBounds
from plantvision.plc.config import DEFAULT_SIGNAL_MAP, PlcConfig, SignalMap
from plantvision.plc.link import PlcLink
from plantvision.types import Detections, ImageArray, StageTimes
from plantvision.zones.config import load_zone_file
from simulators.plc import PlcSimulator, SimConfig
from tests.loop.rig import OUTSIDE, ZONES, ScriptedDetector
from tests.loop.test_faults_live import FaultyCamera
from tests.waiting import wait_for

__all__ = ["OneCell", "SteeredDetector", "wait_for"]


class SteeredDetector(ScriptedDetector):
    """Scripted boxes; `block_if(cam)` (set by a test) makes detect wait on `release` once."""

    def __init__(self) -> None:
        super().__init__()
        self.boxes = [OUTSIDE]
        self.block_if: Any = None
        self.blocked = threading.Event()
        self.release = threading.Event()
        self.cam: CameraRuntime | None = None

    def detect(self, image: ImageArray, times: StageTimes | None = None) -> Detections:
        cond = self.block_if
        if cond is not None and self.cam is not None and cond(self.cam):
            self.block_if = None
            self.blocked.set()
            self.release.wait(10)
        return super().detect(image, times)


class OneCell:
    def __init__(
        self,
        tmp_path: Path,
        *,
        signals: SignalMap = DEFAULT_SIGNAL_MAP,
        sim_cls: type[PlcSimulator] = PlcSimulator,
        sim: dict[str, Any] | None = None,
        plc: dict[str, Any] | None = None,
        stop_check: StopBounds | None = None,
        budget_ms: int = 200,
        stall_ms: int = 300,
        guard: dict[str, Any] | None = None,
    ) -> None:
        (tmp_path / "zones.yaml").write_text(ZONES)
        zones = load_zone_file(tmp_path / "zones.yaml")
        self.log = pvlog.get()
        self.sim = sim_cls(
            SimConfig(signals=signals, **{"watchdog_ms": 1000, "stopping_ms": 50, **(sim or {})})
        )
        port = self.sim.start()
        cfg = PlcConfig(
            host="127.0.0.1",
            port=port,
            allowed_hosts=["127.0.0.1"],
            signals=signals,
            **{
                "request_timeout_ms": 100,
                "retries": 0,
                "heartbeat_period_ms": 50,
                "reconnect_backoff_ms": (50, 200),
                **(plc or {}),
            },
        )
        self.link = PlcLink(cfg, self.log)
        self.camera = FaultyCamera()
        self.detector = SteeredDetector()
        self.cam = CameraRuntime(
            id="cam0",
            source=FrameSource(self.camera, backoff_ms=(20, 100), log=self.log),
            detector=self.detector,
            zones=zones,
            guard=Guard(
                GuardConfig(**{"clear_hold_ms": 200, "min_off_ms": 80, **(guard or {})}),
                zones.sha256,
            ),
            budget_ns=budget_ms * 1_000_000,
            overrun_trips=True,
            stall_ns=stall_ms * 1_000_000,
            frozen=FrozenDetector(200.0),
            dark_max_mean=12.0,
            dark_max_std=4.0,
        )
        self.detector.cam = self.cam
        self.ctl = Controller([self.cam], self.link, log=self.log, stop_check=stop_check)

    def __enter__(self) -> OneCell:
        self.link.start()
        self.ctl.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.detector.release.set()
        self.camera.unblock.set()
        self.ctl.stop()
        self.link.stop()
        self.sim.stop()

    def ready(self) -> bool:
        out = self.cam.last_output
        return out is not None and out.state == "ready_to_reset"

    def press_until_permit(self, tries: int = 5) -> None:
        for _ in range(tries):
            assert wait_for(self.ready, 5), "guard never ready"
            self.sim.press_reset()
            if wait_for(lambda: self.sim.permit_seen, 3.0):
                return
        raise AssertionError("permit never reached the PLC")

    def permit_writes(self) -> list[tuple[int, int]]:
        return [
            (e["t_mono_ns"], e["signals"]["permit"])
            for e in list(self.sim.write_log)
            if "permit" in e["signals"]
        ]
