"""Faults on real threads against the PLC simulator over TCP: each ends with the permit off at
the PLC within its bound and the right cause logged; recovery needs a reset."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from structlog.testing import capture_logs

from plantvision import log as pvlog
from plantvision.frames.health import FrozenDetector
from plantvision.frames.source import FrameSource
from plantvision.guard.latch import Guard, GuardConfig
from plantvision.loop.camera import CameraRuntime
from plantvision.loop.controller import Controller
from plantvision.plc.config import DEFAULT_SIGNAL_MAP, PlcConfig
from plantvision.plc.link import PlcLink
from plantvision.types import Detections, ImageArray, StageTimes
from plantvision.zones.config import load_zone_file
from simulators.plc import PlcSimulator, SimConfig
from tests.loop.live import wait_for
from tests.loop.rig import INSIDE, OUTSIDE, ZONES, ScriptedDetector

STALL_MS = 300


class FaultyCamera:
    """A 25 fps camera whose picture can freeze, go black, hang, or disconnect."""

    def __init__(self) -> None:
        self.source_id, self.nominal_fps, self.live = "cam0", 25.0, True
        self.mode = "ok"
        self.unblock = threading.Event()
        self.rng = np.random.default_rng(0)
        self.still = self.rng.integers(40, 200, (480, 640, 3), dtype=np.uint8)

    def open(self) -> None:
        if self.mode == "disconnected":
            from plantvision.errors import MediaError

            raise MediaError("camera unplugged")

    def grab(self) -> ImageArray | None:
        if self.mode == "hang":
            self.unblock.wait()
        if self.mode == "disconnected":
            return None
        if self.mode == "frozen":
            return self.still
        if self.mode == "black":
            return np.zeros((480, 640, 3), np.uint8)
        return self.rng.integers(40, 200, (480, 640, 3), dtype=np.uint8)

    def close(self) -> None: ...


class Cell:
    def __init__(self, tmp_path: Path) -> None:
        (tmp_path / "zones.yaml").write_text(ZONES)
        zones = load_zone_file(tmp_path / "zones.yaml")
        self.log = pvlog.get()
        self.sim = PlcSimulator(SimConfig(watchdog_ms=1000, stopping_ms=50))
        port = self.sim.start()
        cfg = PlcConfig(
            host="127.0.0.1",
            port=port,
            allowed_hosts=["127.0.0.1"],
            request_timeout_ms=100,
            retries=0,
            heartbeat_period_ms=50,
            reconnect_backoff_ms=(50, 200),
            signals=DEFAULT_SIGNAL_MAP,
        )
        self.link = PlcLink(cfg, self.log)
        self.camera = FaultyCamera()
        self.detector = ScriptedDetector()
        self.detector.boxes = [OUTSIDE]
        self.cam = CameraRuntime(
            id="cam0",
            source=FrameSource(self.camera, backoff_ms=(20, 100), log=self.log),
            detector=self.detector,
            zones=zones,
            guard=Guard(GuardConfig(clear_hold_ms=200, min_off_ms=80), zones.sha256),
            budget_ns=200_000_000,
            overrun_trips=True,
            stall_ns=STALL_MS * 1_000_000,
            frozen=FrozenDetector(200.0),
            dark_max_mean=12.0,
            dark_max_std=4.0,
        )
        self.ctl = Controller([self.cam], self.link, log=self.log)

    def run_until_permit(self) -> None:
        """Press reset like an operator: once the guard is ready, and again if nothing happens
        (a press in the instant after a PLC reconnect is deliberately not counted)."""
        for _ in range(5):
            assert wait_for(
                lambda: (
                    self.cam.last_output is not None
                    and self.cam.last_output.state == "ready_to_reset"
                ),
                5,
            )
            self.sim.press_reset()  # counted on its release, reset_pulse_ms later
            if wait_for(lambda: self.sim.permit_seen, 3.0):
                return
        raise AssertionError("permit never reached the PLC")

    def time_to_permit_off_s(self, timeout_s: float = 5.0) -> float:
        t0 = time.monotonic()
        assert wait_for(lambda: not self.sim.permit_seen, timeout_s, step_s=0.002)
        return time.monotonic() - t0


@pytest.fixture
def cell(tmp_path: Path) -> Iterator[Cell]:
    c = Cell(tmp_path)
    c.link.start()
    c.ctl.start()
    try:
        yield c
    finally:
        c.camera.unblock.set()
        c.ctl.stop()
        c.link.stop()
        c.sim.stop()


def _causes(logs: list[dict[str, object]]) -> list[object]:
    return [e.get("cause") for e in logs if e["event"] == "permit_off"]


@pytest.mark.parametrize(
    ("mode", "cause", "bound_s"),
    [
        # No frame: the last verdict goes stale at the budget, before stall_ms.
        ("hang", "verdict_stale", STALL_MS / 1000 + 1.0),
        ("disconnected", "verdict_stale", STALL_MS / 1000 + 1.0),
        ("frozen", "frozen_frame", 1.0),
        ("black", "black_frame", 1.0),
    ],
)
def test_camera_fault_drops_the_permit_at_the_plc(
    cell: Cell, mode: str, cause: str, bound_s: float
) -> None:
    """A hung, unplugged, frozen or covered camera turns the permit off at the PLC in bound."""
    cell.run_until_permit()
    with capture_logs() as logs:
        cell.camera.mode = mode
        took_s = cell.time_to_permit_off_s()
        assert wait_for(lambda: cause in _causes(logs), 2)
    assert took_s < bound_s
    cell.camera.mode = "ok"
    cell.camera.unblock.set()
    cell.run_until_permit()  # recovers, but only through a reset


def test_camera_that_comes_back_is_reconnected(cell: Cell) -> None:
    """An unplugged camera is reopened with backoff when it returns, and logged."""
    cell.run_until_permit()
    with capture_logs() as logs:
        cell.camera.mode = "disconnected"
        cell.time_to_permit_off_s()
        cell.camera.mode = "ok"
        assert wait_for(lambda: any(e["event"] == "camera_reconnected" for e in logs), 3)
    assert cell.cam.source.stats().reconnects >= 1
    cell.run_until_permit()


def test_model_error_drops_the_permit_at_the_plc(cell: Cell) -> None:
    """A detector that raises turns the permit off at the PLC with cause model_error."""
    cell.run_until_permit()
    with capture_logs() as logs:
        cell.detector.error = RuntimeError("model crashed")
        assert cell.time_to_permit_off_s() < 1.0
        assert wait_for(lambda: "model_error" in _causes(logs), 2)
    cell.detector.error = None
    cell.run_until_permit()


def test_plc_away_and_back(cell: Cell) -> None:
    """The PLC vanishing trips (plc_lost); when it returns it gets permit off first, and the
    permit comes back only after a reset."""
    cell.run_until_permit()
    with capture_logs() as logs:
        cell.sim.go_down()
        assert wait_for(lambda: any(e["event"] == "plc_lost" for e in logs), 2)
        cell.sim.come_back()
        assert wait_for(lambda: any(e["event"] == "plc_restored" for e in logs), 3)
    assert "plc_lost" in _causes(logs)
    assert not cell.sim.permit_seen
    cell.run_until_permit()


def test_a_stop_the_plc_makes_itself_trips_the_box_too(cell: Cell) -> None:
    """An e-stop at the machine (the PLC's own trip, read through machine_latched) trips the box
    with plc_tripped, and the machine runs again only after a reset and a fresh permit."""
    cell.run_until_permit()
    assert wait_for(cell.sim.press_start, 2)
    with capture_logs() as logs:
        cell.sim.press_estop()
        assert wait_for(lambda: "plc_tripped" in _causes(logs), 2)
    assert not cell.sim.permit_seen
    cell.run_until_permit()
    assert wait_for(cell.sim.press_start, 2)


class GatedDetector(ScriptedDetector):
    """Blocks in detect while `gate` is clear: the camera thread stands still mid-cycle."""

    def __init__(self) -> None:
        super().__init__()
        self.gate, self.waiting = threading.Event(), threading.Event()
        self.gate.set()

    def detect(self, image: ImageArray, times: StageTimes | None = None) -> Detections:
        if not self.gate.is_set():
            self.waiting.set()
            self.gate.wait()
        return super().detect(image)


def test_a_latch_shorter_than_a_camera_cycle_still_trips_the_box(cell: Cell) -> None:
    """Seen in plc_replay: the PLC latched while the box permitted and a reset press cleared
    the latch before the camera's next cycle looked. The rise was spent (it came while latched),
    the box went on permitting, later presses were 'not tripped' and the machine never started
    again. The input poller, which reads every sample, must see the latch and trip the box, so
    a reset gives the fresh rise the PLC waits for."""
    gated = GatedDetector()
    gated.boxes = [OUTSIDE]
    cell.cam.detector = gated
    cell.run_until_permit()
    assert wait_for(lambda: cell.sim.ready, 2)
    with capture_logs() as logs:
        gated.gate.clear()
        assert gated.waiting.wait(2)  # the camera thread is inside detect: no cycle looks
        cell.sim.press_estop()  # latches the ready machine: the box's rise is spent
        time.sleep(0.08)  # four input polls; far under budget_ms (200), so no verdict goes stale
        assert cell.sim.press_reset()  # clears the latch before any camera cycle could see it
        assert wait_for(lambda: _latched(cell) is False, 1)  # the poller has seen it clear
        gated.gate.set()
        assert wait_for(lambda: "plc_tripped" in _causes(logs), 2), [e["event"] for e in logs]
    if not wait_for(lambda: cell.sim.ready, 2):  # that press, counted on its release, or another
        cell.run_until_permit()
    assert wait_for(cell.sim.press_start, 2)


def _latched(cell: Cell) -> bool | None:
    inputs = cell.ctl.latest_inputs
    return None if inputs is None else inputs.machine_latched


def test_a_reset_the_plc_did_not_take_is_refused_not_spent(cell: Cell) -> None:
    """A press while the machine still coasts does not clear the PLC's latch (it resets only at
    rest). The box must not raise its permit on it: a rise while latched is spent, so the PLC
    would wait for another. Refused (plc_latched) instead; a press at rest then restarts."""
    cell.run_until_permit()
    assert wait_for(cell.sim.press_start, 2)
    cell.sim.set_coast_extra_ms(3000)
    with capture_logs() as logs:
        cell.detector.boxes = [INSIDE]  # trip: the machine coasts for 3 s
        assert wait_for(lambda: not cell.sim.permit_seen, 2)
        cell.detector.boxes = [OUTSIDE]
        time.sleep(0.3)  # past the clear hold
        assert not cell.sim.press_reset()  # coasting: the latch stays
        assert wait_for(lambda: any(e["event"] == "reset_press_accepted" for e in logs), 2)
        assert wait_for(lambda: any(e.get("reason") == "plc_latched" for e in logs), 1), [
            (e["event"], e.get("reason")) for e in logs
        ]
        assert not cell.sim.permit_seen, "the permit rose while the PLC was latched"
    cell.sim.set_coast_extra_ms(0)
    assert wait_for(lambda: cell.sim.machine.phase.value == "stopped", 5)
    cell.run_until_permit()
    assert wait_for(cell.sim.press_start, 2)
