"""PLC-timed verdicts leave the camera thread: a slow verdict write never delays a permit-off.

The real controller cycle (driven from this thread, which plays the camera thread), the real PLC
link over loopback TCP and the PLC simulator, which holds every write to the reject FIFO until
the test releases it: a verdict write as slow as we like, with no timed assert.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import structlog
import yaml
from structlog.testing import capture_logs

from plantvision.loop.build import build_cameras
from plantvision.loop.camera import CameraRuntime
from plantvision.loop.controller import Controller
from plantvision.loop.deployment import load_deployment
from plantvision.loop.outputs import FAULT_CODES
from plantvision.plc.link import PlcLink
from plantvision.plc.values import PlcInputs, PlcOutputs
from plantvision.types import Detections, Frame, ImageArray, StageTimes
from simulators.plc import PlcSimulator, SimConfig
from tests.conveyor.helpers import FRAME_H, FRAME_W, frame
from tests.waiting import wait_for

IMAGE = np.random.default_rng(0).integers(60, 200, (FRAME_H, FRAME_W, 3), dtype=np.uint8)
PERSON_IN_STOP_ZONE = (100.0, 100.0, "person")
DEFECT_UPSTREAM = (400.0, 300.0, "defect")  # 2.6 m before the ejector, outside the stop zone


class FixedDetector:
    def __init__(self) -> None:
        self.next = Detections.empty(("item", "defect", "person"))

    def detect(self, image: ImageArray, times: StageTimes | None = None) -> Detections:
        return self.next


def write_deployment(tmp_path: Path) -> Path:
    (tmp_path / "model.onnx").touch()
    stop = {
        "id": "press",
        "kind": "stop",
        "polygon": [[0, 0], [0.5, 0], [0.5, 0.4], [0, 0.4]],
        "classes": ["person"],
    }
    zones = {"version": 1, "camera": "belt", "units": "normalized", "zones": [stop]}
    (tmp_path / "zones.yaml").write_text(yaml.safe_dump(zones))
    conveyor = {
        "belt": {"encoder": {"signal": "encoder", "counts_per_mm": 10}},
        "mapping": {"mm_per_px": 1.0},
        "ejectors": [
            {"id": "kicker", "position_mm": 3000.0, "pulse_ms": 30, "output": 0},
        ],
        "timing_mode": "plc",
        "longest_item_mm": 40.0,  # frame()'s boxes: 40 px at 1 mm/px
    }
    camera = {
        "id": "belt",
        "source": {"kind": "simulated", "scenario": "zones.yaml"},
        "model": {"path": "model.onnx"},
        "zones": "zones.yaml",
        "conveyor": conveyor,
    }
    plc = {
        "host": "127.0.0.1",
        "allowed_hosts": ["127.0.0.1"],
        "request_timeout_ms": 1000,  # longer than the held verdict write needs here
        "retries": 0,
        "heartbeat_period_ms": 50,
        "loop_stale_ms": 60000,
    }
    dep = {
        "name": "t",
        "cameras": [camera],
        "plc": plc,
        "guard": {"clear_hold_ms": 0, "min_off_ms": 0},
    }
    path = tmp_path / "dep.yaml"
    path.write_text(yaml.safe_dump(dep))
    return path


@dataclass
class Cell:
    sim: PlcSimulator
    link: PlcLink
    ctl: Controller
    cam: CameraRuntime
    det: FixedDetector
    seq: int = 0

    def cycle(self, items: list[tuple[float, float, str]], press: bool = False) -> PlcOutputs:
        """One camera cycle on a frame showing `items`; the belt stands (encoder 0)."""
        now = time.monotonic_ns()
        self.ctl.latest_inputs = PlcInputs(False, encoder=0, t_read_ns=now, t_encoder_ns=now)
        if press:
            self.ctl.resets.press(now)
        self.det.next = frame(items)
        self.seq += 1
        return self.ctl.cycle(self.cam, Frame(IMAGE, self.seq, now))


@pytest.fixture
def cell(tmp_path: Path) -> Iterator[Cell]:
    path = write_deployment(tmp_path)
    dep = load_deployment(path)
    log: Any = structlog.get_logger()
    sim = PlcSimulator(SimConfig(signals=dep.plc.signals, watchdog_ms=60_000, stopping_ms=20))
    port = sim.start()
    link = PlcLink(dep.plc.model_copy(update={"port": port}), log)
    det = FixedDetector()
    cams = build_cameras(
        dep, path, log=log, simulated=lambda *_: None,  # type: ignore[arg-type,return-value]
        detectors={"belt": det},  # type: ignore[dict-item]
    )  # fmt: skip
    ctl = Controller(cams, link, log=log)
    link.start()
    reject = cams[0].reject
    assert reject is not None
    reject.start(ctl._set_ejector, link.write_verdicts)  # as Controller.start wires it
    try:
        yield Cell(sim, link, ctl, cams[0], det)
    finally:
        reject.close()
        link.stop()
        sim.stop()


def test_a_permit_off_is_written_while_a_verdict_write_is_still_at_the_plc(cell: Cell) -> None:
    """A person enters the stop zone in the frame that also decides a verdict, and the PLC sits
    on the verdict write: the permit-off (fault code stop_zone) reaches the PLC while the verdict
    write is still held, on a link that never dropped; the verdict is delivered once released
    and counts as scheduled, not missed."""
    sim = cell.sim
    assert wait_for(lambda: cell.link.healthy)
    cell.cycle([])
    cell.cycle([], press=True)
    assert wait_for(lambda: sim.values.get("permit") == 1)
    sim.hold_writes("reject_fifo")
    mark = len(sim.write_log)
    with capture_logs() as logs:
        out = cell.cycle([PERSON_IN_STOP_ZONE, DEFECT_UPSTREAM])
        assert not out.permit
        permit_off = wait_for(lambda: sim.values.get("permit") == 0, 5.0)
        held_then = sim.writes_held
        sim.release_writes("reject_fifo")
        assert wait_for(lambda: any("reject_fifo" in e["signals"] for e in sim.write_log[mark:]))
        cell.cycle([PERSON_IN_STOP_ZONE])  # the verdict's outcome comes back here
    assert permit_off
    assert held_then == 1, "the permit-off waited for the verdict write"
    assert cell.link.losses == 0
    after = [e for e in sim.write_log[mark:] if "heartbeat" not in e["signals"]]
    signals = [e["signals"] for e in after]
    first_off = next(i for i, s in enumerate(signals) if s.get("permit") == 0)
    fifo = next(i for i, s in enumerate(signals) if "reject_fifo" in s)
    assert first_off < fifo
    assert signals[first_off + 1] == {"fault_code": FAULT_CODES["stop_zone"]}
    assert [e for e in logs if e["event"] == "reject_missed"] == []
    assert cell.cam.reject is not None
    assert (cell.cam.reject.counters["scheduled"], cell.cam.reject.counters["missed"]) == (1, 0)
