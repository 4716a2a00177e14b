"""Review helpers: the two-camera live cell (real controller threads, real PlcLink, the real PLC
simulator over loopback TCP) with camera timing and PLC settings the test chooses, and a grabber
whose frames a test can stop (a camera whose stream pauses without the capture thread dying)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import yaml

from tests.loop.live import LiveCell
from tests.loop.twocams import ControlledDetector, two_camera_deployment
from tests.waiting import wait_for


class ReviewCell(LiveCell):
    """Cameras a and b (noise image folders at 25 fps, ControlledDetectors), with per-camera
    overrides (budget_ms, stall_ms, ...) and PLC overrides."""

    def __init__(self, tmp_path: Path, camera: dict[str, Any] | None = None, **plc: Any) -> None:
        path = two_camera_deployment(tmp_path, **plc)
        data = yaml.safe_load(path.read_text())
        for cam in data["cameras"]:
            cam.update(camera or {})
        path.write_text(yaml.safe_dump(data))
        self.det = {"a": ControlledDetector(), "b": ControlledDetector()}
        super().__init__(path, detectors=self.det)

    def __exit__(self, *exc: object) -> None:
        for d in self.det.values():  # a detector left hanging would hold its thread for ever
            d.hang.clear()
            d.release.set()
        super().__exit__(*exc)

    def writes(self) -> list[dict[str, Any]]:
        return list(self.sim.write_log)

    def fault_code_at_plc(self) -> int:
        return int(self.sim.values.get("fault_code", 0))


class GatedGrabber:
    """Wraps a real grabber; while `gate` is clear, grab() waits (the stream paused: a network
    hiccup, a camera re-negotiating, an encoder buffer). The capture thread stays alive."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def grab(self) -> Any:
        if not self.gate.is_set():
            self.waiting.set()
            self.gate.wait()
        return self._inner.grab()


def all_ready(cell: LiveCell) -> bool:
    """Every camera's guard would accept a reset press now."""
    return all(
        c.last_output is not None and c.last_output.state == "ready_to_reset" for c in cell.cameras
    )


def press_until_permit(cell: LiveCell, tries: int = 5) -> bool:
    """Press reset like a patient operator once every guard would accept it; True when the
    permit reached the PLC."""
    for _ in range(tries):
        if wait_for(lambda: all_ready(cell), 10):
            cell.sim.press_reset()
            if wait_for(cell.permit_at_plc, 2.0):
                return True
    return False
