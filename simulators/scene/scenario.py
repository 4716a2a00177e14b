"""Scenario files for the scene simulator: what the simulated camera sees, validated at load.

Positions are normalised image coordinates (0..1 of width and height) so one scenario renders at
any frame size; belt quantities are millimetres because the reject logic works in belt mm.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from plantvision.configio import StrictModel, load_model

Point = tuple[float, float]


def _check_unit(points: list[Point]) -> list[Point]:
    for x, y in points:
        if not (-0.5 <= x <= 1.5 and -0.5 <= y <= 1.5):
            raise ValueError(
                f"point ({x}, {y}) is far outside the image; use normalised coordinates 0..1"
            )
    return points


class WorkerPath(StrictModel):
    """One worker walking a scripted path, back and forth, between waypoints."""

    waypoints: list[Point] = Field(
        min_length=2, description="Feet (bottom-centre anchor) positions, normalised x, y"
    )
    speed_per_s: float = Field(
        default=0.12, gt=0, le=2, description="Walking speed in image widths per second"
    )
    start_s: float = Field(default=0.0, ge=0, description="Time the worker appears at waypoint 0")
    pause_s: float = Field(
        default=0.0, ge=0, le=60, description="Standing time at each end of the path before turning"
    )
    height: float = Field(
        default=0.38,
        gt=0.05,
        le=1.2,
        description="Figure height at the bottom edge, in image heights",
    )
    clothing: Literal["work", "hivis", "any"] = Field(
        default="any", description="Work clothes, hi-vis vest, or chosen by the seed"
    )

    _check = field_validator("waypoints")(_check_unit)


class Conveyor(StrictModel):
    """A horizontal belt band carrying items left to right at a fixed speed."""

    y_band: tuple[float, float] = Field(
        default=(0.62, 0.82), description="Top and bottom of the belt, normalised image y"
    )
    belt_speed_mm_s: float = Field(default=200.0, gt=0, le=5000, description="Belt speed in mm/s")
    mm_per_px: float = Field(
        default=1.0, gt=0, le=100, description="Belt mm per image pixel at 640 px frame width"
    )
    item_pitch_mm: float = Field(
        default=150.0, gt=0, description="Distance between item fronts, mm"
    )
    item_size_mm: float = Field(default=60.0, gt=0, description="Item side length, mm")
    defect_rate: float = Field(default=0.25, ge=0, le=1, description="Share of items with a defect")
    pitch_jitter: float = Field(
        default=0.25, ge=0, lt=0.5, description="Random spacing variation as a share of the pitch"
    )

    @model_validator(mode="after")
    def _band_and_spacing(self) -> Conveyor:
        top, bottom = self.y_band
        if not 0 <= top < bottom <= 1:
            raise ValueError("y_band must be (top, bottom) with 0 <= top < bottom <= 1")
        if self.item_size_mm > self.item_pitch_mm * (1 - 2 * self.pitch_jitter):
            raise ValueError("items would touch: make item_pitch_mm larger or item_size_mm smaller")
        return self


class Appearance(StrictModel):
    """Camera and lighting effects; all deterministic from the seed and the time."""

    noise_sigma: float = Field(default=4.0, ge=0, le=40, description="Sensor noise, grey levels")
    blur_px: int = Field(
        default=1, ge=0, le=4, description="Gaussian blur radius in pixels, 0 = none"
    )
    light_min: float = Field(default=0.75, gt=0, le=2, description="Darkest global light gain")
    light_max: float = Field(default=1.15, gt=0, le=2, description="Brightest global light gain")
    light_period_s: float = Field(default=13.0, gt=0, description="Period of the slow light drift")
    perspective: float = Field(
        default=0.6, gt=0.1, le=1, description="Figure scale at the top edge relative to the bottom"
    )
    occluders: list[tuple[float, float, float, float]] = Field(
        default_factory=list,
        description="Foreground boxes (x0, y0, x1, y1 normalised) drawn over workers",
    )

    @model_validator(mode="after")
    def _light_order(self) -> Appearance:
        if self.light_min > self.light_max:
            raise ValueError("light_min must not exceed light_max")
        return self


class SceneScenario(StrictModel):
    """A whole simulated camera: frame size, rate, workers, conveyor, look."""

    seed: int = Field(
        default=0, ge=0, description="Seed for every random choice; same seed, same frames"
    )
    width_px: int = Field(default=640, ge=64, le=4096, description="Frame width in pixels")
    height_px: int = Field(default=480, ge=48, le=4096, description="Frame height in pixels")
    fps: float = Field(default=30.0, gt=0, le=240, description="Nominal frame rate for playback")
    duration_s: float = Field(default=60.0, gt=0, description="Length of the scenario in seconds")
    machine_box: tuple[float, float, float, float] | None = Field(
        default=(0.55, 0.18, 0.82, 0.5),
        description="Machine body drawn in the background (x0, y0, x1, y1 normalised)",
    )
    workers: list[WorkerPath] = Field(default_factory=list, description="Walking workers")
    conveyor: Conveyor | None = Field(default=None, description="Belt with items, or none")
    appearance: Appearance = Field(
        default_factory=lambda: Appearance(), description="Camera effects"
    )


def load_scenario(path: str | Path) -> SceneScenario:
    """Read and validate a scenario YAML file; errors name the file, field and fix."""
    return load_model(path, SceneScenario)
