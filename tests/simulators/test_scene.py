"""The scene simulator: deterministic frames whose ground truth is exactly what is drawn."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plantvision.errors import ConfigError
from simulators.scene import CLASS_NAMES, SceneRenderer, SceneScenario, load_scenario
from simulators.scene.randomize import random_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "simulators" / "scene" / "scenarios"


def _clean(sc: SceneScenario) -> SceneScenario:
    """The same scene without noise or blur, so pixel equality is exact."""
    look = sc.appearance.model_copy(update={"noise_sigma": 0.0, "blur_px": 0})
    return sc.model_copy(update={"appearance": look})


@pytest.fixture(scope="module")
def cell() -> SceneScenario:
    return load_scenario(SCENARIOS / "cell.yaml")


@pytest.fixture(scope="module")
def conveyor() -> SceneScenario:
    return load_scenario(SCENARIOS / "conveyor.yaml")


@pytest.mark.parametrize("name", ["cell.yaml", "conveyor.yaml"])
def test_same_seed_same_frames_and_truth_in_any_order(name: str) -> None:
    """Two renderers of one scenario give identical frames and truth, whatever the time order."""
    sc = load_scenario(SCENARIOS / name)
    a, b = SceneRenderer(sc), SceneRenderer(sc)
    times = [0.0, 3.3, 17.05, 41.7]
    first = [a.render(t) for t in times]
    second = [b.render(t) for t in reversed(times)][::-1]
    for (img1, gt1), (img2, gt2) in zip(first, second, strict=True):
        assert np.array_equal(img1, img2)
        assert np.array_equal(gt1.xyxy, gt2.xyxy)
        assert gt1.class_names == gt2.class_names
        assert np.array_equal(gt1.object_id, gt2.object_id)
        assert np.array_equal(gt1.defect, gt2.defect)


def test_another_seed_gives_another_scene(conveyor: SceneScenario) -> None:
    """Changing only the seed changes the picture (look, items, noise)."""
    img1, _ = SceneRenderer(conveyor).render(5.0)
    img2, _ = SceneRenderer(conveyor.model_copy(update={"seed": conveyor.seed + 1})).render(5.0)
    assert not np.array_equal(img1, img2)


@pytest.mark.parametrize("name", ["cell.yaml", "conveyor.yaml"])
@pytest.mark.parametrize("t_s", [2.0, 9.5, 23.25])
def test_truth_boxes_hold_every_drawn_pixel_and_are_tight(name: str, t_s: float) -> None:
    """Pixels that differ from the empty scene lie inside truth boxes; each box edge touches one."""
    r = SceneRenderer(_clean(load_scenario(SCENARIOS / name)))
    img, gt = r.render(t_s)
    diff = np.any(img != r.render_background(t_s), axis=2)
    covered = np.zeros_like(diff)
    for x0, y0, x1, y1 in gt.xyxy.astype(int):
        covered[y0:y1, x0:x1] = True
        box = diff[y0:y1, x0:x1]
        assert box[0].any()
        assert box[-1].any()
        assert box[:, 0].any()
        assert box[:, -1].any()
    assert len(gt) > 0
    assert not (diff & ~covered).any()


def test_blur_spreads_drawn_pixels_no_further_than_its_radius(cell: SceneScenario) -> None:
    """With noise off and blur on, differences stay within the blur radius of a truth box."""
    look = cell.appearance.model_copy(update={"noise_sigma": 0.0, "blur_px": 2})
    r = SceneRenderer(cell.model_copy(update={"appearance": look}))
    img, gt = r.render(12.0)
    diff = np.any(img != r.render_background(12.0), axis=2)
    covered = np.zeros_like(diff)
    for x0, y0, x1, y1 in gt.xyxy.astype(int):
        covered[max(0, y0 - 2) : y1 + 2, max(0, x0 - 2) : x1 + 2] = True
    assert not (diff & ~covered).any()


def test_items_move_with_the_belt_and_keep_their_identity(conveyor: SceneScenario) -> None:
    """A fully visible item advances by belt speed x dt in mm, and its box by that over mm/px."""
    r = SceneRenderer(conveyor)
    c = conveyor.conveyor
    assert c is not None
    _, a = r.render(10.0)
    _, b = r.render(10.1)
    common = set(a.item_ids[a.visible_fraction[a.class_id != 0] > 0.99]) & set(b.item_ids)
    assert common
    for k in common:
        ia, ib = int(np.flatnonzero(a.object_id == k)[0]), int(np.flatnonzero(b.object_id == k)[0])
        moved_mm = float(b.item_belt_mm[ib] - a.item_belt_mm[ia])
        assert moved_mm == pytest.approx(c.belt_speed_mm_s * 0.1, rel=1e-4)
        centre_a = (a.xyxy[ia, 0] + a.xyxy[ia, 2]) / 2
        assert centre_a * c.mm_per_px == pytest.approx(
            float(a.item_belt_mm[ia]), abs=3 * c.mm_per_px
        )


def test_defective_items_are_class_defect_and_the_rate_is_near_the_scenario(
    conveyor: SceneScenario,
) -> None:
    """An item flagged defective carries class `defect`; over many items the share is near 25%."""
    r = SceneRenderer(conveyor)
    seen: dict[int, bool] = {}
    for t in np.arange(0.0, 60.0, 0.5):
        _, gt = r.render(float(t))
        items = gt.class_id != 0
        assert np.array_equal(gt.defect[items], gt.class_id[items] == CLASS_NAMES.index("defect"))
        seen.update(zip(gt.object_id[items].tolist(), gt.defect[items].tolist(), strict=True))
    share = sum(seen.values()) / len(seen)
    assert len(seen) > 60
    assert 0.12 < share < 0.38


def test_workers_appear_only_after_their_start_time(cell: SceneScenario) -> None:
    """A worker whose path starts at 4 s is absent at 3.9 s."""
    r = SceneRenderer(cell)
    _, gt = r.render(3.9)
    assert 2 not in gt.worker_ids
    assert {0, 1} <= set(gt.worker_ids.tolist())


def test_anchor_points_are_bottom_centres_of_person_boxes(cell: SceneScenario) -> None:
    """Anchors are (centre x, bottom y) of each person box, in worker-id order."""
    _, gt = SceneRenderer(cell).render(8.0)
    persons = gt.xyxy[gt.class_id == 0]
    anchors = gt.anchor_points()
    assert anchors.shape == (len(gt.worker_ids), 2)
    assert np.allclose(anchors[:, 0], (persons[:, 0] + persons[:, 2]) / 2)
    assert np.allclose(anchors[:, 1], persons[:, 3])


def test_truth_converts_to_detections_with_the_class_names(conveyor: SceneScenario) -> None:
    """Truth as Detections keeps boxes and names the classes person, item, defect."""
    _, gt = SceneRenderer(conveyor).render(4.0)
    det = gt.to_detections()
    assert len(det) == len(gt)
    assert det.class_names == ("person", "item", "defect")
    assert np.array_equal(det.xyxy, gt.xyxy)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), t_s=st.floats(0.0, 30.0))
def test_random_scenes_keep_truth_inside_the_frame(seed: int, t_s: float) -> None:
    """Any random scene at any time: boxes lie in the frame, are non-empty, classes are known."""
    sc = random_scenario(seed, width_px=320, height_px=240)
    img, gt = SceneRenderer(sc).render(t_s)
    assert img.shape == (240, 320, 3)
    assert img.dtype == np.uint8
    assert np.all(gt.xyxy[:, :2] >= 0)
    assert np.all(gt.xyxy[:, 2] <= 320)
    assert np.all(gt.xyxy[:, 3] <= 240)
    assert np.all(gt.xyxy[:, 2:] > gt.xyxy[:, :2])
    assert np.all((gt.class_id >= 0) & (gt.class_id < 3))
    assert np.all((gt.visible_fraction > 0) & (gt.visible_fraction <= 1.0 + 1e-6))


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("workers: [{waypoints: [[0.1, 0.5]]}]", "workers[0].waypoints"),
        ("workers: [{waypoints: [[0.1, 0.5], [9, 9]]}]", "workers[0].waypoints"),
        ("conveyor: {y_band: [0.8, 0.6]}", "conveyor"),
        ("conveyor: {item_size_mm: 200, item_pitch_mm: 150}", "conveyor"),
        ("appearance: {light_min: 1.5, light_max: 1.0}", "appearance"),
        ("fps: 30\nspeed: 3", "speed"),
    ],
)
def test_bad_scenario_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    """A wrong scenario file is refused with its file name and the offending field."""
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    assert str(path) in str(err.value)
    assert err.value.field == field


@pytest.mark.shared_data
def test_a_real_coco_detector_finds_most_rendered_workers(shared_data: Path) -> None:
    """YOLOX-Nano, trained on real photos, finds at least half the rendered workers."""
    from simulators.scene.realism import person_recall

    recall, _, total = person_recall(shared_data / "models" / "yolox_nano.onnx", 8, 3, 900_000)
    assert total >= 20
    assert recall >= 0.5


@pytest.mark.parametrize(
    ("polygon", "expected"),
    [
        ([[0, 0], [640, 0], [640, 480], [0, 480]], {0, 1, 2}),  # the whole frame
        ([[0, 0], [10, 0], [10, 10], [0, 10]], set()),  # an empty corner
    ],
)
def test_workers_in_a_zone_follow_their_anchors(
    cell: SceneScenario, polygon: list[list[float]], expected: set[int]
) -> None:
    """Zone truth is the set of workers whose bottom-centre anchor lies in the polygon."""
    _, gt = SceneRenderer(cell).render(8.0)
    assert set(gt.workers_in(polygon).tolist()) == expected


def test_stop_region_in_cell_scenario_is_entered_periodically(cell: SceneScenario) -> None:
    """Worker 1 of cell.yaml enters the stop region in front of the machine, then leaves it."""
    stop = [[320, 240], [557, 240], [557, 317], [320, 317]]
    r = SceneRenderer(cell)
    inside = [1 in r.render(float(t))[1].workers_in(stop) for t in np.arange(0, 40, 2.0)]
    assert any(inside)
    assert not all(inside)
    assert sum(a != b for a, b in itertools.pairwise(inside)) >= 3
