"""Shared by the conveyor tests: a config builder, frames of items, a simulated belt and timer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from plantvision.conveyor import (
    COUNT_MODULUS,
    Actions,
    ConveyorConfig,
    FirePlan,
    RejectScheduler,
)
from plantvision.types import Detections

MS = 1_000_000
NAMES = ("item", "defect", "person")
FRAME_W, FRAME_H = 640, 480


def make_cfg(**over: Any) -> ConveyorConfig:
    """1 px = 1 mm along image x, camera line at x=0; one ejector 1000 mm downstream."""
    data: dict[str, Any] = {
        "belt": {"speed_mm_s": 500.0},
        "mapping": {"axis": "x", "mm_per_px": 1.0},
        "ejectors": [
            {"id": "ej1", "position_mm": 1000.0, "actuator_response_ms": 20.0, "pulse_ms": 30.0}
        ],
        "gate_mm": 20.0,
        "horizon_ms": 100.0,
    }
    data.update(over)
    return ConveyorConfig.model_validate(data)


def encoder_cfg(counts_per_mm: float = 10.0, **over: Any) -> ConveyorConfig:
    belt = {"encoder": {"signal": "enc", "counts_per_mm": counts_per_mm, "speed_window_ms": 30}}
    return make_cfg(belt=belt, **over)


def frame(items: Sequence[tuple[float, float, str]], size_px: float = 40.0) -> Detections:
    """Boxes centred at (x_px, y_px) of the given class names."""
    h = size_px / 2
    xyxy = [[x - h, y - h, x + h, y + h] for x, y, _ in items]
    ids = [NAMES.index(c) for _, _, c in items]
    return Detections.from_arrays(xyxy, [0.9] * len(items), ids, NAMES)


@dataclass
class SimBelt:
    """A belt whose travel follows piecewise-constant speeds; encoder count wraps at 2^32."""

    speed_mm_s: float
    raw0: int = 0
    counts_per_mm: float = 10.0
    t_ns: int = 0
    travel_mm: float = 0.0

    def advance_to(self, t_ns: int) -> None:
        self.travel_mm += (t_ns - self.t_ns) * self.speed_mm_s / 1e9
        self.t_ns = t_ns

    def count_at(self, t_ns: int) -> int:
        self.advance_to(t_ns)
        return self.count()

    def count(self) -> int:
        return (self.raw0 + round(self.travel_mm * self.counts_per_mm)) % COUNT_MODULUS


@dataclass
class FakeTimer:
    """EjectorTimer semantics in stepped time: a plan replaces the item's armed plan, a cancel
    withdraws it; fires are reported to the scheduler. It does not refuse to re-arm a fired
    item, so at-most-once tests check the scheduler alone."""

    sched: RejectScheduler
    armed: dict[int, FirePlan] = field(default_factory=dict)
    fired: dict[int, list[int]] = field(default_factory=dict)

    def apply(self, actions: Actions) -> None:
        for item_id in actions.cancels:
            self.armed.pop(item_id, None)
        for plan in actions.plans:
            self.armed[plan.item_id] = plan

    def run_until(self, now_ns: int) -> None:
        for item_id, plan in sorted(self.armed.items(), key=lambda kv: kv[1].fire_at_ns):
            if plan.fire_at_ns <= now_ns:
                del self.armed[item_id]
                self.fired.setdefault(item_id, []).append(plan.fire_at_ns)
                self.sched.report_fired(item_id, plan.fire_at_ns)


def events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The fields of every `name` event; each is bound to the conveyor room."""
    found = [{k: v for k, v in e.items() if k != "event"} for e in logs if e["event"] == name]
    assert all(e.pop("room") == "conveyor" for e in found)
    return found
