"""What one run of the reject rig (simulators.plc.rig) is: `RigSpec`, and its JSON form for the
plant process (simulators.plc.plant_process), which builds its half of the cell from it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

BUDGET_MS = 500
# Box-timed plans are armed in camera cycles this long before their fire time: at least the
# longest update gap `plantvision check` asks for, budget + min(stall, budget) / 4 = 625 ms (the
# default 100 ms lost items in 150-300 ms stalls of a loaded machine: decided after their fire
# time, reject_missed reason=late).
HORIZON_MS = 650.0

Stamps = Literal["arrival", "camera"]
# Where the plant (PLC simulator with the belt's truth, network camera, witness) runs: a process
# of its own, as a real PLC and camera are devices of their own, or threads in the box's process.
PlantWhere = Literal["process", "thread"]


@dataclass(frozen=True)
class RigSpec:
    """One run: belt speed, timing mode, where the ejector is, how long, which detector."""

    speed_mm_s: float
    mode: Literal["box", "plc"]
    ejector_mm: float = 700.0  # downstream of the camera reference line (the frame's left edge)
    belt_s: float = 3.0
    fps: float = 20.0
    pitch_mm: float = 120.0
    defect_rate: float = 0.5
    seed: int = 5
    model: Path | None = None  # ONNX detector; None: a perfect detector from the scene truth
    actuator_response_ms: float = 5.0
    # The cell's own latencies, in the simulator: frames stamped this long after exposure, the
    # encoder register this far behind the counter, the push this much later than the coil
    # (on top of the actuator's response). `told`: the deployment configures the same values
    # (source.capture_latency_ms, encoder.latency_ms, output_latency_ms); else they stay 0.
    capture_ms: float = 0.0
    encoder_ms: float = 0.0
    output_ms: float = 0.0
    told: bool = False
    ramp_ms: float = 0.0  # the belt accelerates to speed_mm_s over this after each start
    # A network camera (MJPEG over HTTP) instead of the rendered one: its capture latency is
    # real, and `capture_ms` is only what the deployment is told (with `told`), never simulated.
    network: bool = False
    # How the box dates the network camera's frames (source.frame_stamps): at arrival, or by
    # the capture time each part carries on the camera's own clock.
    stamps: Stamps = "arrival"
    # Network mode only (the rendered camera reads the belt's truth inside the box, so its plant
    # is always threads there). None: a process of its own.
    plant: PlantWhere | None = None
    # Reject unless proven good: the deployment's coverage map (always on, as every deployment's).
    budget_ms: float = BUDGET_MS  # the camera's: a longer one lets the belt run blind longer
    horizon_ms: float = HORIZON_MS  # box: at least the longest update gap (check's rule)
    longest_item_mm: float | None = None  # None: the scene's own item size (its truth)
    no_decision_action: str = "reject"
    stall_at_s: float = 0.0  # the camera hangs this long after the belt starts ...
    stall_s: float = 0.0  # ... for this long (0: never)
    after_s: float = 0.0  # then reset and start again, and run this long

    @property
    def plant_where(self) -> PlantWhere:
        """Where this run's plant runs; a process asked for without a network camera is an
        error (the rendered camera needs the belt's truth in the box's process)."""
        if self.plant == "process" and not self.network:
            raise ValueError(
                "RigSpec.plant: 'process' needs network=True (the rendered camera reads the "
                "belt in the box's process); leave plant None or set 'thread'"
            )
        return self.plant or ("process" if self.network else "thread")

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["model"] = None if self.model is None else str(self.model)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RigSpec:
        model = data.get("model")
        return cls(**(data | {"model": None if model is None else Path(model)}))
