"""Config models for defect rejection on a conveyor: belt, camera-to-belt mapping, ejectors.

Coordinates: `along_mm` runs with the belt, 0 at the camera's reference line, positive
downstream (towards the ejectors); `across_mm` runs across the belt and is what ejector lanes
are measured in. Validated data only: `RejectScheduler` compiles it into runtime objects.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator, model_validator

from plantvision.configio import StrictModel


class EncoderModel(StrictModel):
    """The belt's position from the PLC's encoder count register (16 or 32 bits wide, as mapped
    in plc.signals.encoder; PLC-timed rejects need 32)."""

    signal: str = Field(
        min_length=1, description="name of the PLC input that carries the encoder count"
    )
    counts_per_mm: float = Field(gt=0, le=1e6, description="encoder counts per mm of belt travel")
    speed_window_ms: float = Field(
        default=50.0,
        gt=0,
        le=5000,
        description="span of encoder readings the belt speed is estimated over, ms",
    )
    history_ms: float = Field(
        default=2000.0,
        ge=100,
        le=60000,
        description="how long encoder readings are kept to place frames captured in the past, ms",
    )
    jump_tolerance_mm: float = Field(
        default=5.0,
        ge=0,
        le=1000,
        description="a count change this far beyond what the belt's maximum speed allows (or "
        "this far backwards) is an encoder discontinuity (a PLC restart or preset), not motion, mm",
    )
    latency_ms: float = Field(
        default=0.0,
        ge=0,
        le=1000,
        description="how much older the count is than the read's midpoint, which stamps it (the "
        "PLC's scan, an encoder card's update cycle): each reading is dated back by this "
        '(README, "Latencies"), ms',
    )
    stale_ms: float = Field(
        default=250.0,
        gt=0,
        le=10000,
        description="how long past its newest encoder reading the belt's position is still "
        "projected at its speed: a frame exposed later is not placed, a PLC-timed reject waits, "
        "and frames with items unplaced this long are the fault belt_unplaced, ms",
    )


class BeltModel(StrictModel):
    """Either a fixed speed or an encoder: exactly one of `speed_mm_s` and `encoder`."""

    speed_mm_s: float | None = Field(
        default=None, gt=0, le=20000, description="fixed belt speed, mm/s (no encoder)"
    )
    encoder: EncoderModel | None = Field(default=None, description="encoder-measured belt")
    min_speed_mm_s: float = Field(
        default=1.0,
        gt=0,
        le=1000,
        description="below this measured speed the belt counts as stopped and no fire time "
        "is predicted, mm/s",
    )
    max_speed_mm_s: float = Field(
        default=5000.0,
        gt=0,
        le=20000,
        description="the fastest the belt can run; an encoder change beyond it is a "
        "discontinuity (fault encoder_discontinuity), mm/s",
    )

    @model_validator(mode="after")
    def _one_source(self) -> BeltModel:
        if (self.speed_mm_s is None) == (self.encoder is None):
            raise ValueError("give exactly one of speed_mm_s and encoder")
        return self


class MappingModel(StrictModel):
    """Image pixels to belt mm: a scaled image axis (`mm_per_px`) or a 3x3 `homography`."""

    axis: Literal["x", "y"] = Field(
        default="x", description="image axis that runs along the belt (line mapping)"
    )
    direction: Literal[1, -1] = Field(
        default=1, description="+1 if the belt moves towards growing pixel values, else -1"
    )
    mm_per_px: float | None = Field(
        default=None, gt=0, le=1000, description="belt mm per image pixel (line mapping)"
    )
    origin_px: float = Field(
        default=0.0,
        ge=-1e5,
        le=1e5,
        description="pixel coordinate along `axis` of the camera's reference line",
    )
    across_origin_px: float = Field(
        default=0.0,
        ge=-1e5,
        le=1e5,
        description="pixel coordinate across the belt where across_mm is 0 (line mapping)",
    )
    homography: list[list[float]] | None = Field(
        default=None,
        description="3x3 matrix from pixel (x, y, 1) to belt (along_mm, across_mm, w)",
    )
    image_size_px: tuple[int, int] | None = Field(
        default=None,
        description="[width, height] the mapping was calibrated at; frames of another size "
        "are scaled to it first (default: the frame's own size)",
    )

    @model_validator(mode="after")
    def _one_mapping(self) -> MappingModel:
        if (self.mm_per_px is None) == (self.homography is None):
            raise ValueError("give exactly one of mm_per_px (line mapping) and homography")
        if self.homography is not None:
            h = np.array(self.homography, dtype=np.float64)
            if h.shape != (3, 3):
                raise ValueError("homography must be 3 rows of 3 numbers")
            if abs(np.linalg.det(h)) < 1e-12:
                raise ValueError("homography is singular; recalibrate the camera-to-belt mapping")
        if self.image_size_px is not None and min(self.image_size_px) <= 0:
            raise ValueError("image_size_px must be two positive pixel counts [width, height]")
        return self


class EjectorModel(StrictModel):
    """One ejector downstream of the camera; fires for items whose across_mm is in its lane."""

    id: str = Field(min_length=1, max_length=64, description="ejector name, used in PLC map")
    position_mm: float = Field(
        gt=0, le=1e6, description="distance downstream of the camera reference line, mm"
    )
    actuator_response_ms: float = Field(
        default=0.0, ge=0, le=2000, description="coil-on to push delay of the actuator, ms"
    )
    output_latency_ms: float = Field(
        default=0.0,
        ge=0,
        le=1000,
        description="from the fire decision to the coil energised: box-timed, the coil write's "
        "network, PLC scan and output card; PLC-timed, the PLC's scan and output card. Fires "
        "that much earlier (PLC-timed: a lead in counts), on top of actuator_response_ms, ms",
    )
    pulse_ms: float | None = Field(
        default=None,
        gt=0,
        le=5000,
        description="how long the coil stays on, ms (a fixed pulse; or give pulse_mm)",
    )
    pulse_mm: float | None = Field(
        default=None,
        gt=0,
        le=10000,
        description="box mode: the belt length the pulse covers; the coil stays on pulse_mm / "
        "belt speed at fire time, clamped to pulse_min_ms..pulse_max_ms (instead of pulse_ms)",
    )
    pulse_min_ms: float = Field(
        default=5.0,
        gt=0,
        le=5000,
        description="with pulse_mm: the shortest pulse (a fast belt), ms; the valve's own minimum",
    )
    pulse_max_ms: float = Field(
        default=200.0,
        gt=0,
        le=5000,
        description="with pulse_mm: the longest pulse (a slow or stopped belt), ms",
    )
    reach_mm: float | None = Field(
        default=None,
        ge=0,
        le=10000,
        description="how far an item's centre may be from the ejector line when the paddle "
        "pushes and still be pushed off, mm: a reject decided past its fire time still fires "
        "while the item is within it (PLC mode: after the transport margin); set the PLC's "
        "late limit to it; unset: late means past the fire time, no margin (as before)",
    )
    min_cycle_ms: float = Field(
        default=0.0,
        ge=0,
        le=10000,
        description="the actuator's shortest time from one push start to the next, ms; closer "
        "pushes raise ejector_cycle_short (0: only pushes that overlap a pulse do)",
    )
    output: int | None = Field(
        default=None,
        ge=0,
        le=1967,
        description="index into plc.signals.ejectors of this ejector's coil (PLC-timed: the "
        "ejector index in the reject FIFO); default: its place in this list",
    )
    lane_min_mm: float | None = Field(
        default=None, ge=-1e5, le=1e5, description="lowest across_mm this ejector covers"
    )
    lane_max_mm: float | None = Field(
        default=None, ge=-1e5, le=1e5, description="highest across_mm this ejector covers"
    )

    @model_validator(mode="after")
    def _lane_order(self) -> EjectorModel:
        lo, hi = self.lane_min_mm, self.lane_max_mm
        if lo is not None and hi is not None and lo >= hi:
            raise ValueError("lane_min_mm must be below lane_max_mm")
        return self

    @model_validator(mode="after")
    def _one_pulse(self) -> EjectorModel:
        if (self.pulse_ms is None) == (self.pulse_mm is None):
            raise ValueError(
                f"ejector {self.id}: give exactly one of pulse_ms and pulse_mm (a fixed coil "
                "time, or the belt length the pulse covers at the speed of the moment)"
            )
        bounds = {"pulse_min_ms", "pulse_max_ms"} & self.model_fields_set
        if self.pulse_mm is None and bounds:
            raise ValueError(
                f"ejector {self.id}: pulse_min_ms and pulse_max_ms bound pulse_mm only; "
                "remove them or give pulse_mm instead of pulse_ms"
            )
        if self.pulse_min_ms >= self.pulse_max_ms:
            raise ValueError(
                f"ejector {self.id}: pulse_min_ms {self.pulse_min_ms:g} ms must be below "
                f"pulse_max_ms {self.pulse_max_ms:g} ms"
            )
        return self


class ConveyorConfig(StrictModel):
    """Everything the reject scheduler needs for one camera over one belt."""

    belt: BeltModel = Field(description="where the belt position comes from")
    mapping: MappingModel = Field(description="camera pixels to belt millimetres")
    item_class: str = Field(default="item", min_length=1, description="detector class of items")
    defect_class: str = Field(
        default="defect", min_length=1, description="detector class that marks an item defective"
    )
    min_item_pitch_mm: float | None = Field(
        default=None,
        gt=0,
        le=1e5,
        description="the closest two items ever come on the belt, centre to centre, mm; "
        "gate_mm must stay below half of it (unset: unchecked, and check warns)",
    )
    gate_mm: float = Field(
        default=20.0,
        gt=0,
        le=2000,
        description="an item box this close to a tracked item (in belt-fixed mm) is that item "
        "seen again, each track taken once per frame; below half of min_item_pitch_mm, mm",
    )
    ejectors: list[EjectorModel] = Field(min_length=1, description="ejectors, any order")
    timing_mode: Literal["box", "plc"] = Field(
        default="box",
        description="box: plantvision times the coil; plc: the PLC fires at an encoder count",
    )
    missed_action: Literal["alarm", "stop_belt"] = Field(
        default="alarm", description="what a missed reject does besides its event and counter"
    )
    confirm_window_ms: float | None = Field(
        default=None,
        gt=0,
        le=60000,
        description="the bin sensor must see the item this long after firing (unset: no check)",
    )
    horizon_ms: float = Field(
        default=100.0,
        gt=0,
        le=10000,
        description="box mode: plans are armed only this long before their fire time, so a "
        "belt stop can still re-time them; they are armed in camera cycles, so `check` refuses "
        "less than the longest gap between two, budget_ms + min(stall_ms, budget_ms) / 4, ms",
    )
    retime_tolerance_ms: float = Field(
        default=0.5,
        gt=0,
        le=1000,
        description="box mode: an armed plan is re-sent when its fire time moves more than this; "
        "within this of its fire time it is left to the timer, ms",
    )
    longest_item_mm: float | None = Field(
        default=None,
        gt=0,
        le=1e5,
        description="the longest item along the belt, mm; turns on the coverage map (reject "
        "unless proven good): a decided frame proves only the items it holds whole, its view "
        "along the belt less this, and belt that no frame proved is a blind segment handled by "
        "no_decision_action (unset: no coverage map, only for unit tests of the pure "
        "scheduler; a deployment file must state it, loop/deployment.py DeployedConveyor)",
    )
    min_views: int = Field(
        default=1,
        ge=1,
        le=100,
        description="with longest_item_mm: decided frames that must have held a stretch of "
        "belt, and each item on it, whole before it counts as proven good; fewer is blind",
    )
    no_decision_action: Literal["reject", "stop_belt"] = Field(
        default="reject",
        description="with longest_item_mm, what a blind segment (belt no decided frame proved: "
        "dropped frames, a stall, a model error, a frozen or black frame, start-up) does: "
        "reject: the ejectors fire over it as it passes (PLC-timed: a range verdict); "
        "stop_belt: the fault blind_segment drops the run permit until a reset press",
    )
    track_margin_mm: float = Field(
        default=100.0,
        ge=0,
        le=1e5,
        description="items are forgotten this far past the last ejector, mm",
    )

    @field_validator("gate_mm")
    @classmethod
    def _gate_below_half_pitch(cls, gate_mm: float, info: ValidationInfo) -> float:
        # Gates of half the pitch or more overlap: a detection of one item (its neighbour
        # missed in that frame, or a new neighbour) can join the neighbour's track.
        pitch = info.data.get("min_item_pitch_mm")
        if pitch is not None and gate_mm >= pitch / 2:
            raise ValueError(
                f"gate_mm {gate_mm:g} mm is not below half of min_item_pitch_mm {pitch:g} mm: "
                f"neighbouring items can join one track; set gate_mm below {pitch / 2:g} mm "
                "(or measure the belt's closest pitch again)"
            )
        return gate_mm

    @model_validator(mode="after")
    def _consistent(self) -> ConveyorConfig:
        if self.item_class == self.defect_class:
            raise ValueError("item_class and defect_class must differ")
        ids = [e.id for e in self.ejectors]
        if len(set(ids)) != len(ids):
            raise ValueError(f"ejector ids must be unique, got {ids}")
        if self.timing_mode == "plc" and any(e.pulse_mm is not None for e in self.ejectors):
            raise ValueError(
                "pulse_mm needs timing_mode box: in PLC mode the PLC program times the pulse; "
                "give each ejector pulse_ms (the PLC's pulse, for the blast and cycle checks)"
            )
        if self.timing_mode == "plc" and self.belt.encoder is None:
            raise ValueError(
                "timing_mode plc needs belt.encoder: the PLC fires at an encoder count"
            )
        return self
