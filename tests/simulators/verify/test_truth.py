"""The verifier's zone truth comes from the scene's own geometry (where each worker's feet are),
never from the product's zone code, so a product bug in anchors, scaling or polygons shows."""

from __future__ import annotations

import ast
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from plantvision.zones import geometry
from simulators.scene.scenario import SceneScenario, WorkerPath
from simulators.verify.runner import RunOptions, prepare, run_in_process
from simulators.verify.scenario import load_verify_scenario
from simulators.verify.truth import (
    feet_occupancy,
    occupancy_spans,
    scene_truth,
    stop_polygons_px,
)

REPO = Path(__file__).resolve().parents[3]
TRUTH = REPO / "simulators" / "verify" / "truth.py"
SIMCELL = REPO / "zones" / "simcell.yaml"
WALK_IN = REPO / "simulators" / "scenarios" / "walk_in.yaml"
FORBIDDEN = ("plantvision.zones", "plantvision.guard")


def _module_file(dotted: str) -> Path | None:
    path = REPO.joinpath(*dotted.split("."))
    for f in (path.with_suffix(".py"), path / "__init__.py"):
        if f.is_file():
            return f
    return None


def _imports(path: Path) -> set[str]:
    """Modules `path` imports at any depth; `from pkg import mod` counts as pkg.mod."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.module:
            out.add(n.module)
            out |= {f"{n.module}.{a.name}" for a in n.names if _module_file(f"{n.module}.{a.name}")}
    return out


def _closure(start: str) -> set[str]:
    """Every repository module loading `start` loads (package __init__ files included)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        mod = todo.pop()
        parts = mod.split(".")
        for k in range(1, len(parts) + 1):
            name = ".".join(parts[:k])
            f = _module_file(name)
            if name in seen or f is None:
                continue
            seen.add(name)
            todo += [m for m in _imports(f) if m.split(".")[0] in ("plantvision", "simulators")]
    return seen


def test_the_truth_path_loads_no_product_zone_or_guard_code() -> None:
    """Everything the truth module loads, transitively, stays clear of plantvision.zones and
    plantvision.guard: the judge shares no code with what it judges."""
    loaded = _closure("simulators.verify.truth")
    assert "simulators.verify.truth" in loaded
    assert sorted(m for m in loaded if m.startswith(FORBIDDEN)) == []


def _walker(speed: float = 0.3, start_s: float = 0.6) -> SceneScenario:
    way = [(0.15, 0.72), (0.68, 0.72)]
    return SceneScenario(workers=[WorkerPath(waypoints=way, speed_per_s=speed, start_s=start_s,
                                             pause_s=0.8)])  # fmt: skip


def test_entry_is_where_the_feet_cross_the_zone_edge() -> None:
    """Feet at x = 0.15 walking right at 0.3 widths/s from 0.6 s to x = 0.68 cross the machine
    zone's left edge at 0.6 + (edge - 0.15) / 0.3 s; they leave after the pause, on the way
    back, when they cross it again."""
    polys = stop_polygons_px(SIMCELL, 640, 480)
    assert set(polys) == {"machine"}
    edge = min(x for x, _ in yaml.safe_load(SIMCELL.read_text())["zones"][0]["polygon"])
    spans = occupancy_spans(feet_occupancy(_walker(), polys), ("machine",), 5.0)
    ((enter, leave),) = spans["machine"]
    walk = 0.53 / 0.3
    assert enter == pytest.approx(0.6 + (edge - 0.15) / 0.3, abs=0.002)
    assert leave == pytest.approx(0.6 + walk + 0.8 + (0.68 - edge) / 0.3, abs=0.002)


def _write_zone_file(tmp: Path, units: str, polygon: list[list[float]]) -> Path:
    data = yaml.safe_load(SIMCELL.read_text(encoding="utf-8"))
    data["units"] = units
    data["zones"] = [{**data["zones"][0], "polygon": polygon}]
    path = tmp / f"{units}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("units", "polygon"),
    [
        ("normalized", [[0.5, 0.2], [0.9, 0.2], [0.9, 0.8], [0.5, 0.8]]),
        ("pixels", [[320, 96], [576, 96], [576, 384], [320, 384]]),
        # simcell's calibration: 20 mm per pixel, origin at the top-left corner
        ("floor_mm", [[6400, 1920], [11520, 1920], [11520, 7680], [6400, 7680]]),
    ],
)
def test_every_unit_places_the_same_polygon(
    tmp_path: Path, units: str, polygon: list[list[float]]
) -> None:
    """Normalised, pixel and floor-mm files (the last through the file's own calibration
    points) all put the machine zone on the same pixels of a 640x480 frame."""
    polys = stop_polygons_px(_write_zone_file(tmp_path, units, polygon), 640, 480)
    want = np.array([[320, 96], [576, 96], [576, 384], [320, 384]], np.float64)
    np.testing.assert_allclose(polys["machine"], want, atol=1e-6)


@pytest.fixture
def bottom_left_anchor(monkeypatch: pytest.MonkeyPatch) -> None:
    """The product's bottom_center anchor computed as bottom-left: a box that sees a worker
    walking in from the left only once the box's left edge has crossed the zone edge."""
    rows = geometry.POINT_ANCHORS
    wx = geometry._WX.copy()
    wx[rows.index(geometry.Anchor.BOTTOM_CENTER)] = wx[rows.index(geometry.Anchor.BOTTOM_LEFT)]
    monkeypatch.setattr(geometry, "_WX", wx)


@pytest.mark.slow
@pytest.mark.usefixtures("bottom_left_anchor")
def test_walk_in_fails_a_box_whose_anchor_is_shifted() -> None:
    """With the anchor mutant in the product, walk_in.yaml fails the machine zone's response
    deadline: the verifier's truth does not move with the product's bug."""
    with tempfile.TemporaryDirectory() as tmp:
        p = prepare(load_verify_scenario(WALK_IN), WALK_IN, Path(tmp))
        out = run_in_process(p, RunOptions(workdir=Path(tmp)))
    failed = [v for v in out.verdicts if not v.passed]
    assert [v.deadline for v in failed] == ["zone machine: entry -> stopped <= 300 ms"]
    assert failed[0].margin is not None
    assert failed[0].margin < 0


SUITE = sorted((REPO / "simulators" / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SUITE, ids=lambda p: p.stem)
def test_every_zone_row_of_the_suite_is_exercised_or_says_why(path: Path, tmp_path: Path) -> None:
    """A zone deadline whose scene never enters the zone cannot fail: such a row reads 'not
    exercised', and the suite has none unless the scenario file says why (no_entry_reason)."""
    p = prepare(load_verify_scenario(path), path, tmp_path)
    spans: dict[str, list[tuple[float, float]]] = {}
    for c in p.setups:  # every camera's stop zones
        spans |= scene_truth(c.scene, c.zones_file, p.scenario.duration_s)
    vacuous = [z.zone for z in p.scenario.deadlines.zones
               if not spans.get(z.zone) and not z.no_entry_reason]  # fmt: skip
    assert vacuous == [], "give the scene an entry (during the fault) or drop the zone row"
