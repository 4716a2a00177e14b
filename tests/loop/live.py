"""A real controller on real threads against the PLC simulator over loopback TCP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from plantvision import log as pvlog
from plantvision.loop.build import build_cameras
from plantvision.loop.controller import Controller
from plantvision.loop.deployment import DeploymentModel, load_deployment
from plantvision.loop.edm import stop_bounds
from plantvision.plc.link import PlcLink
from simulators.plc import PlcSimulator, SimConfig
from tests.waiting import wait_for

__all__ = ["REPO", "LiveCell", "vtest_deployment", "wait_for"]

REPO = Path(__file__).resolve().parents[2]


def vtest_deployment(tmp_path: Path, shared: Path, **camera: Any) -> Path:
    """deployments/vtest.yaml with the shared data at `shared` and camera fields overridden."""
    data = yaml.safe_load((REPO / "deployments" / "vtest.yaml").read_text())
    cam = data["cameras"][0]
    cam["source"]["uri"] = str(shared / "video" / "vtest.avi")
    cam["model"]["path"] = str(shared / "models" / "yolox_nano.onnx")
    cam["model"]["names_file"] = str(shared / "coco80_classes.txt")
    cam["model"]["intra_op_threads"] = 1
    cam["zones"] = str(REPO / "zones" / "vtest.yaml")
    cam.update(camera)
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


class LiveCell:
    """Controller + PlcLink + in-process PlcSimulator, started together, stopped together."""

    def __init__(self, dep_file: Path, **build: Any) -> None:
        self.dep: DeploymentModel = load_deployment(dep_file)
        self.log = pvlog.get(deployment=self.dep.name)
        self.sim = PlcSimulator(
            SimConfig(signals=self.dep.plc.signals, watchdog_ms=1000, stopping_ms=50)
        )
        port = self.sim.start()
        self.link = PlcLink(self.dep.plc.model_copy(update={"port": port}), self.log)
        self.cameras = build_cameras(self.dep, dep_file, log=self.log, **build)
        safety = self.dep.safety
        self.ctl = Controller(
            self.cameras,
            self.link,
            log=self.log,
            stop_check=stop_bounds(safety.stopping_time_ms, safety.plc_scan_ms),
        )

    def __enter__(self) -> LiveCell:
        self.link.start()
        self.ctl.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.ctl.stop()
        self.link.stop()
        self.sim.stop()

    def permit_at_plc(self) -> bool:
        return self.sim.permit_seen

    def permit_writes(self) -> list[tuple[int, int]]:
        """(t_mono_ns, permit) for every write the simulator received that set the permit."""
        return [
            (e["t_mono_ns"], e["signals"]["permit"])
            for e in self.sim.write_log
            if "permit" in e["signals"]
        ]

    def reset_when_ready(self, timeout_s: float) -> bool:
        """Press reset at the machine as soon as the guard would accept it (a patient operator)."""
        cam = self.cameras[0]
        return wait_for(
            lambda: cam.last_output is not None and cam.last_output.state == "ready_to_reset",
            timeout_s,
        ) and bool(self.sim.press_reset() or True)
