"""Config, belt, mapping and tracker: the parts the scheduler is built from."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from plantvision.configio import load_model
from plantvision.conveyor import (
    COUNT_MODULUS,
    Belt,
    BeltModel,
    ConveyorConfig,
    ImageToBelt,
    ItemTracker,
    MappingModel,
    wrap_delta,
)
from plantvision.conveyor.association import assign_defects, greedy_pairs
from plantvision.conveyor.tracker import BeltFrame
from plantvision.errors import ConfigError
from tests.conveyor.helpers import MS, encoder_cfg, make_cfg

EJ = {"id": "e", "position_mm": 500, "pulse_ms": 20}


@pytest.mark.parametrize(
    ("over", "error"),
    [
        ({}, None),
        ({"belt": {}}, "exactly one of speed_mm_s and encoder"),
        ({"belt": {"speed_mm_s": -1}}, "greater than 0"),
        ({"mapping": {"axis": "x"}}, "exactly one of mm_per_px"),
        ({"mapping": {"mm_per_px": 1, "homography": [[1, 0, 0]] * 3}}, "exactly one"),
        ({"mapping": {"homography": [[1, 0], [0, 1]]}}, "3 rows of 3"),
        ({"mapping": {"homography": [[1, 0, 0], [2, 0, 0], [0, 0, 1]]}}, "singular"),
        ({"ejectors": []}, "at least 1"),
        ({"ejectors": [EJ, EJ]}, "ejector ids must be unique"),
        ({"ejectors": [EJ | {"lane_min_mm": 5, "lane_max_mm": 1}]}, "lane_min_mm must be below"),
        ({"defect_class": "item"}, "must differ"),
        ({"timing_mode": "plc"}, "needs belt.encoder"),
        ({"horizon_ms": 0}, "greater than 0"),
        ({"missed_action": "ignore"}, "'alarm' or 'stop_belt'"),
        # The gate must stay below half the closest pitch, or neighbours' gates overlap.
        ({"min_item_pitch_mm": 41}, None),
        ({"min_item_pitch_mm": 40}, "gate_mm 20 mm is not below half of min_item_pitch_mm"),
        ({"min_item_pitch_mm": 25, "gate_mm": 30}, "set gate_mm below 12.5 mm"),
        ({"min_item_pitch_mm": 0}, "greater than 0"),
    ],
)
def test_config_table(over: dict[str, Any], error: str | None) -> None:
    """Each bad conveyor config is refused with a message that says what to change."""
    if error is None:
        assert make_cfg(**over).timing_mode == "box"
        return
    with pytest.raises(ValidationError, match=error):
        make_cfg(**over)


def test_config_file_error_names_file_and_field(tmp_path: Path) -> None:
    """A YAML conveyor file with a bad ejector names the file and ejectors[0].pulse_ms."""
    f = tmp_path / "belt.yaml"
    f.write_text(
        "belt: {speed_mm_s: 300}\nmapping: {mm_per_px: 0.5}\n"
        "ejectors: [{id: a, position_mm: 400, pulse_ms: 0}]\n"
    )
    with pytest.raises(ConfigError, match=r"belt\.yaml: ejectors\[0\]\.pulse_ms"):
        load_model(f, ConveyorConfig)


def test_a_gate_too_wide_for_the_pitch_names_the_file_and_gate_mm(tmp_path: Path) -> None:
    """Items 25 mm apart under a 30 mm gate: the file and its gate_mm field are named."""
    f = tmp_path / "belt.yaml"
    f.write_text(
        "belt: {speed_mm_s: 300}\nmapping: {mm_per_px: 0.5}\nmin_item_pitch_mm: 25\n"
        "gate_mm: 30\nejectors: [{id: a, position_mm: 400, pulse_ms: 40}]\n"
    )
    with pytest.raises(ConfigError, match=r"belt\.yaml: gate_mm: gate_mm 30 mm is not below"):
        load_model(f, ConveyorConfig)


def test_every_config_field_has_a_description() -> None:
    """Engineers read the schema: no field goes undocumented."""
    from plantvision.conveyor import config as mod

    for model in (mod.ConveyorConfig, mod.BeltModel, mod.EncoderModel, mod.MappingModel):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name}"


@pytest.mark.parametrize(
    ("new", "old", "delta"),
    [
        (10, 5, 5),
        (5, 10, -5),
        (3, COUNT_MODULUS - 2, 5),
        (COUNT_MODULUS - 2, 3, -5),
        (0, COUNT_MODULUS - 1, 1),
    ],
)
def test_wrap_delta(new: int, old: int, delta: int) -> None:
    """Count differences are signed and cross the 2^32 wrap in either direction."""
    assert wrap_delta(new, old) == delta


def test_encoder_position_is_continuous_across_the_wrap() -> None:
    """Readings 100 counts apart across 2^32 give 10 mm steps at 10 counts/mm."""
    belt = Belt(encoder_cfg().belt)
    raw = COUNT_MODULUS - 250
    for k in range(6):
        belt.sample(k * 10 * MS, (raw + 100 * k) % COUNT_MODULUS)
    assert belt.position_mm(50 * MS) == pytest.approx(50.0)
    assert belt.position_mm(25 * MS) == pytest.approx(25.0)  # interpolated
    assert belt.position_mm(60 * MS) == pytest.approx(60.0)  # extrapolated at 1 mm/ms
    assert belt.count_at_mm(50.0) == 250


def test_encoder_speed_follows_changes_and_stops() -> None:
    """Speed is measured over the window: 1 mm/ms, then 2 mm/ms, then stopped."""
    belt = Belt(encoder_cfg().belt)  # 10 counts/mm, 30 ms window
    count = 0
    speeds = {}
    for k, step_counts in enumerate([100] * 5 + [200] * 5 + [0] * 5, start=1):
        count += step_counts
        belt.sample(k * 10 * MS, count % COUNT_MODULUS)
        speeds[k * 10] = belt.speed_mm_per_ns()
    assert speeds[50] == pytest.approx(1e-6)
    assert speeds[100] == pytest.approx(2e-6)
    assert speeds[150] == pytest.approx(0.0)
    assert not belt.is_moving()


def test_after_a_start_the_speed_is_measured_from_the_first_reading_that_moved() -> None:
    """At rest for a second, then 1 mm/ms from 5 ms: 25 ms later (readings every 10 ms) the
    speed is the belt's, not an average with the standstill before the start; a belt that
    creeps (a count now and then) is not taken for one that starts."""
    belt = Belt(encoder_cfg().belt)  # 10 counts/mm, 30 ms window
    for t_ms in range(-1000, 1, 10):
        belt.sample(t_ms * MS, 0)
    for t_ms in range(10, 31, 10):
        belt.sample(t_ms * MS, (t_ms - 5) * 10)
    assert belt.speed_mm_per_ns() == pytest.approx(1e-6)
    creeping = Belt(encoder_cfg().belt)
    for k, t_ms in enumerate(range(0, 401, 10)):
        creeping.sample(t_ms * MS, k // 5)  # one count every 50 ms: 2 mm/s
    assert 0 < creeping.speed_mm_per_ns() < 5e-9  # not 10 mm/s from one count in 10 ms


@pytest.mark.parametrize(("count", "error"), [(-1, "unsigned 32-bit"), (COUNT_MODULUS, "32-bit")])
def test_out_of_range_count_is_refused(count: int, error: str) -> None:
    """A count that no 32-bit register can hold is a wiring error, not a position."""
    with pytest.raises(ValueError, match=error):
        Belt(encoder_cfg().belt).sample(0, count)


def test_fixed_speed_belt_moves_with_time() -> None:
    """A fixed-speed belt has travelled speed x time since its first sample."""
    belt = Belt(BeltModel(speed_mm_s=250.0))
    belt.sample(1000 * MS, None)
    assert belt.position_mm(1400 * MS) == pytest.approx(100.0)
    assert belt.is_moving()


@pytest.mark.parametrize(
    ("mapping", "point", "expected"),
    [
        ({"axis": "x", "mm_per_px": 2.0, "origin_px": 100}, (150, 40), (100.0, 80.0)),
        ({"axis": "x", "direction": -1, "mm_per_px": 1.0, "origin_px": 600}, (500, 0), (100, 0)),
        ({"axis": "y", "mm_per_px": 0.5, "across_origin_px": 20}, (120, 300), (150.0, 50.0)),
        ({"homography": [[2, 0, -200], [0, 2, 0], [0, 0, 1]]}, (150, 40), (100.0, 80.0)),
        ({"axis": "x", "mm_per_px": 1.0, "image_size_px": [1280, 960]}, (100, 50), (200, 100)),
    ],
)
def test_mapping_table(
    mapping: dict[str, Any], point: tuple[float, float], expected: tuple[float, float]
) -> None:
    """Pixels map to (along_mm, across_mm) by line scale, direction, homography or resize."""
    along, across = ImageToBelt(MappingModel.model_validate(mapping)).map([point], 640, 480)
    assert (float(along[0]), float(across[0])) == pytest.approx(expected)


def track(
    tr: ItemTracker,
    items: list[tuple[float, float]],
    defects: Sequence[tuple[float, float, int]] = (),
    half_mm: float = 10.0,
) -> Any:
    """Item centres (u, across) with square footprints; defects (u, across, item row or -1),
    4 mm boxes."""
    it = np.array(items, np.float64).reshape(-1, 2)
    de = np.array(defects, np.float64).reshape(-1, 3)
    half = [half_mm] * len(it) + [2.0] * len(de)
    return tr.observe(
        BeltFrame(
            np.concatenate([it[:, 0], de[:, 0]]),
            np.concatenate([it[:, 1], de[:, 1]]),
            np.repeat(np.array(half, np.float64), 2).reshape(-1, 2),
            np.arange(len(half)) >= len(it),
            np.concatenate([np.full(len(it), -1), de[:, 2]]).astype(np.int64),
        )
    )


def test_a_defect_marks_the_item_box_that_contains_it() -> None:
    """A defect inside item box 0 marks that item, whatever its distance to the centre; the
    item stays at its box's centre."""
    tr = ItemTracker(20.0)
    upd = track(tr, [(100, 50), (200, 50)], [(125, 75, 0)], half_mm=30.0)
    assert upd.new_ids == (1, 2)
    assert upd.newly_defective_ids == (1,)
    assert upd.orphan_ids == ()
    assert tr.position(1) == (100.0, 50.0)


def test_items_meet_tracks_one_to_one() -> None:
    """Frames re-seeing items within the gate add no tracks; defects report once; two item
    boxes of one frame are two items even inside one gate."""
    tr = ItemTracker(30.0)
    assert track(tr, [(100, 50), (125, 50), (300, 50)]).new_ids == (1, 2, 3)
    assert track(tr, [(102, 50), (127, 50), (295, 51)], [(102, 50, 0)]).new_ids == ()
    assert track(tr, [(101, 50)], [(101, 50, 0)]).newly_defective_ids == ()
    assert len(tr) == 3
    assert tr.position(2) == pytest.approx((126.0, 50.0))


def test_a_loose_defect_marks_the_footprint_it_lies_on_else_stands_for_its_item() -> None:
    """A defect with no item box in its frame marks the item whose footprint holds it (without
    moving it); away from every item it stands for an item of its own, which the next item box
    holding it takes over, at the item box's centre."""
    tr = ItemTracker(20.0)
    track(tr, [(100, 50)], half_mm=30.0)
    upd = track(tr, [], [(125, 75, -1), (400, 50, -1)])
    assert upd.newly_defective_ids == (1, 2)
    assert upd.orphan_ids == (2,)
    assert tr.position(1) == (100.0, 50.0)
    assert tr.position(2) == (400.0, 50.0)
    upd = track(tr, [(380, 40)], half_mm=30.0)
    assert upd.new_ids == ()
    assert tr.position(2) == (380.0, 40.0)


def test_defect_boxes_standing_for_items_never_chain() -> None:
    """Whole-item defect boxes 25 mm apart under a 30 mm gate: two items, frame after frame."""
    tr = ItemTracker(30.0)
    assert track(tr, [], [(100, 50, -1), (125, 50, -1)]).orphan_ids == (1, 2)
    assert track(tr, [], [(101, 50, -1), (126, 50, -1)]).new_ids == ()
    assert tr.position(1) == pytest.approx((100.5, 50.0))
    assert tr.position(2) == pytest.approx((125.5, 50.0))


@pytest.mark.parametrize(
    ("items", "defects", "owners"),
    [
        ([], [[0, 0, 4, 4]], [-1]),
        ([[0, 0, 60, 60]], [[50, 50, 58, 58], [70, 0, 80, 8]], [0, -1]),
        # centre in both boxes: the one the defect box overlaps more
        ([[0, 0, 60, 60], [40, 0, 100, 60]], [[44, 10, 64, 20]], [1]),
        # a box that overlaps but does not hold the centre does not own it
        ([[0, 0, 60, 60]], [[55, 10, 75, 20]], [-1]),
    ],
)
def test_assign_defects_table(
    items: list[list[float]], defects: list[list[float]], owners: list[int]
) -> None:
    """A defect belongs to the item box holding its centre, the largest overlap of several."""
    got = assign_defects(
        np.array(items, np.float64).reshape(-1, 4), np.array(defects, np.float64).reshape(-1, 4)
    )
    assert got.tolist() == owners


def test_greedy_pairs_take_each_row_and_column_once() -> None:
    """The cheapest allowed pair first; a taken track is not taken again."""
    dist = np.array([[0.0, 25.0], [1.0, 26.0], [50.0, 3.0]])
    rows, cols = greedy_pairs(dist, dist <= 30.0)
    assert sorted(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 0), (2, 1)]


def test_forget_drops_tracks_past_the_limit() -> None:
    """Tracks beyond the given belt-fixed position are dropped."""
    tr = ItemTracker(20.0)
    track(tr, [(100, 0), (300, 0)])
    assert tr.forget_beyond(200.0) == 1
    assert tr.position(2) is None
    assert tr.position(1) is not None


@pytest.mark.parametrize(
    "module",
    sorted(p.name for p in (Path(__file__).parents[2] / "plantvision/conveyor").glob("*.py")),
)
def test_conveyor_modules_import_no_io_library(module: str) -> None:
    """The conveyor room and the timer never import cv2, onnxruntime or pymodbus."""
    import ast

    path = Path(__file__).parents[2] / "plantvision/conveyor" / module
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not {m for m in names if m.split(".")[0] in {"cv2", "onnxruntime", "pymodbus"}}
