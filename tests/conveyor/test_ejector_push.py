"""One ejector's push as a controls engineer sizes it: the pulse covers a length of belt at the
speed of the moment, a push still hits an item that has passed the line by less than the reach,
the blast window is the belt the paddle sweeps, and two pushes closer than the actuator's cycle
are a conflict. Pure functions, plain numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from plantvision.configio import load_model
from plantvision.conveyor.config import ConveyorConfig, EjectorModel
from plantvision.conveyor.ejector import (
    Push,
    blast_hits,
    cycle_conflict,
    lateness_mm,
    lateness_ns,
    pulse_ns,
)
from plantvision.errors import ConfigError

MS = 1_000_000
MM_PER_NS_1500 = 1.5e-6  # 1.5 m/s


def ejector(**over: Any) -> EjectorModel:
    data: dict[str, Any] = {"id": "ej1", "position_mm": 1000.0, "pulse_ms": 30.0}
    data.update(over)
    return EjectorModel.model_validate(data)


def test_an_existing_ejector_keeps_its_fixed_pulse_and_has_no_reach_or_cycle() -> None:
    e = ejector()
    assert (e.pulse_ms, e.pulse_mm, e.reach_mm, e.min_cycle_ms) == (30.0, None, None, 0.0)
    assert pulse_ns(e, MM_PER_NS_1500) == 30 * MS


def test_a_pulse_in_mm_covers_that_much_belt_at_the_speed_of_the_moment() -> None:
    """20 mm at 1.5 m/s is 13.333 ms; at 0.5 m/s it is 40 ms."""
    e = ejector(pulse_ms=None, pulse_mm=20.0)
    assert pulse_ns(e, MM_PER_NS_1500) == 13_333_333
    assert pulse_ns(e, 0.5e-6) == 40 * MS


@pytest.mark.parametrize(
    ("speed_mm_per_ns", "expected_ns"),
    [
        (100e-6, 5 * MS),  # 100 m/s would give 0.2 ms: clamped up to pulse_min_ms
        (1e-9, 200 * MS),  # a creeping belt would give 20 s: clamped down to pulse_max_ms
        (None, 200 * MS),  # no speed known (stopped): the longest allowed pulse
        (0.0, 200 * MS),
    ],
)
def test_a_pulse_in_mm_is_clamped_to_its_bounds(
    speed_mm_per_ns: float | None, expected_ns: int
) -> None:
    e = ejector(pulse_ms=None, pulse_mm=20.0, pulse_min_ms=5.0, pulse_max_ms=200.0)
    assert pulse_ns(e, speed_mm_per_ns) == expected_ns


@pytest.mark.parametrize(
    ("over", "error"),
    [
        ({"pulse_ms": None}, "give exactly one of pulse_ms and pulse_mm"),
        ({"pulse_mm": 20.0}, "give exactly one of pulse_ms and pulse_mm"),
        ({"pulse_ms": None, "pulse_mm": 0.0}, "greater than 0"),
        ({"reach_mm": -1.0}, "greater than or equal to 0"),
        ({"min_cycle_ms": -1.0}, "greater than or equal to 0"),
        (
            {"pulse_ms": None, "pulse_mm": 20.0, "pulse_min_ms": 50.0, "pulse_max_ms": 40.0},
            "pulse_min_ms 50 ms must be below pulse_max_ms 40 ms",
        ),
        ({"pulse_min_ms": 5.0}, "pulse_min_ms and pulse_max_ms bound pulse_mm only"),
        ({"pulse_max_ms": 100.0}, "pulse_min_ms and pulse_max_ms bound pulse_mm only"),
    ],
)
def test_ejector_fields_are_refused_with_the_fix(over: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        ejector(**over)


def test_lateness_in_time_with_no_reach_is_the_fire_time_passed() -> None:
    assert lateness_ns(now_ns=105 * MS, fire_at_ns=100 * MS, reach_mm=None,
                       speed_mm_per_ns=0.5e-6) == 5 * MS  # fmt: skip


def test_lateness_in_time_subtracts_the_reach_at_the_belt_speed() -> None:
    """10 mm of reach at 0.5 m/s is 20 ms: 5 ms past the fire time is 15 ms inside it."""
    assert lateness_ns(105 * MS, 100 * MS, 10.0, 0.5e-6) == -15 * MS


def test_lateness_in_time_adds_the_transport_margin() -> None:
    assert lateness_ns(105 * MS, 100 * MS, 10.0, 0.5e-6, margin_ns=30 * MS) == 15 * MS


def test_lateness_along_the_belt_is_travel_plus_margin_past_fire_point_plus_reach() -> None:
    """The PLC gets the verdict a margin later; the belt runs margin x speed meanwhile."""
    assert lateness_mm(travel_mm=995.0, fire_mm=1000.0, reach_mm=None, speed_mm_per_ns=0.5e-6,
                       margin_ns=0) == -5.0  # fmt: skip
    assert lateness_mm(995.0, 1000.0, 10.0, 0.5e-6, margin_ns=20 * MS) == pytest.approx(-5.0)
    assert lateness_mm(995.0, 1000.0, 10.0, 0.5e-6, margin_ns=40 * MS) == pytest.approx(5.0)


def test_the_blast_window_covers_the_belt_the_paddle_sweeps_during_the_pulse() -> None:
    """Target at u=0, reach 10 mm, pulse covering 45 mm (30 ms at 1.5 m/s): the paddle meets
    centres from 55 mm upstream (arriving while the coil is on) to 10 mm downstream."""
    others = np.array([-80.0, -55.0, -50.0, 5.0, 10.0, 11.0])
    hit = blast_hits(0.0, others, reach_mm=10.0, blast_mm=45.0)
    assert hit.tolist() == [False, True, True, True, True, False]


def test_a_late_push_moves_the_blast_window_downstream_with_the_target() -> None:
    """The target is 8 mm past the line when the paddle pushes: the window, [-63, 2] mm, lies
    8 mm further upstream of it on the belt."""
    others = np.array([-64.0, -53.0, 2.0, 3.0])
    hit = blast_hits(0.0, others, reach_mm=10.0, blast_mm=45.0, push_offset_mm=8.0)
    assert hit.tolist() == [False, True, True, False]


def test_no_reach_still_sweeps_the_pulse_length() -> None:
    hit = blast_hits(0.0, np.array([-40.0, -46.0, 1.0]), reach_mm=None, blast_mm=45.0)
    assert hit.tolist() == [True, False, False]


@pytest.mark.parametrize(
    ("t_ms", "pulse_ms", "pushes", "min_cycle_ms", "expected"),
    [
        (200, 30, [Push(1, 100 * MS, 30 * MS)], 0.0, None),  # far apart
        (125, 30, [Push(1, 100 * MS, 30 * MS)], 0.0, (1, 25)),  # starts in the pulse: merged
        (135, 30, [Push(1, 100 * MS, 30 * MS)], 0.0, None),  # after it, no cycle given
        (135, 30, [Push(1, 100 * MS, 30 * MS)], 50.0, (1, 35)),  # closer than the cycle
        (150, 30, [Push(1, 100 * MS, 30 * MS)], 50.0, None),  # exactly the cycle
        (80, 30, [Push(1, 100 * MS, 30 * MS)], 0.0, (1, 20)),  # the other starts in this one
        (120, 30, [Push(1, 100 * MS, 30 * MS), Push(2, 130 * MS, 30 * MS)], 50.0, (2, 10)),
    ],
)
def test_pushes_closer_than_the_cycle_or_overlapping_conflict(
    t_ms: int,
    pulse_ms: int,
    pushes: list[Push],
    min_cycle_ms: float,
    expected: tuple[int, int] | None,
) -> None:
    """(item of the nearest push too close, gap between the push starts in ms) or None."""
    found = cycle_conflict(t_ms * MS, pulse_ms * MS, pushes, int(min_cycle_ms * MS))
    got = None if found is None else (found.item_id, abs(found.t_ns - t_ms * MS) // MS)
    assert got == expected


@pytest.mark.parametrize(
    ("ejector_yaml", "field", "fix"),
    [
        ("{id: kick, position_mm: 800, pulse_ms: 40, pulse_mm: 20}", "ejectors[0]",
         "give exactly one of pulse_ms and pulse_mm"),
        ("{id: kick, position_mm: 800, pulse_ms: 40, reach_mm: -5}", "ejectors[0].reach_mm",
         "greater than or equal to 0"),
        ("{id: kick, position_mm: 800, pulse_mm: 20}", "(top level)",
         "pulse_mm needs timing_mode box"),
    ],
)  # fmt: skip
def test_a_bad_ejector_in_a_file_names_the_file_the_field_and_the_fix(
    tmp_path: Path, ejector_yaml: str, field: str, fix: str
) -> None:
    path = tmp_path / "conveyor.yaml"
    path.write_text(
        "belt: {encoder: {signal: enc, counts_per_mm: 10}}\n"
        "mapping: {mm_per_px: 1.0}\n"
        "timing_mode: plc\n"
        f"ejectors: [{ejector_yaml}]\n"
    )
    with pytest.raises(ConfigError) as err:
        load_model(path, ConveyorConfig)
    assert str(err.value).startswith(f"{path}: {field}: ")
    assert fix in str(err.value)
