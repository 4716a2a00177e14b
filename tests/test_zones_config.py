"""Zone files are validated: every bad file is refused naming the file, the zone and the field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plantvision.errors import ConfigError
from plantvision.zones.config import load_zone_file, parse_zone_file
from plantvision.zones.geometry import Anchor, ZoneKind

REPO = Path(__file__).resolve().parent.parent

HEAD = "version: 1\ncamera: c\nunits: pixels\nframe_size: [640, 480]\n"
SQUARE = "[[10, 10], [100, 10], [100, 100], [10, 100]]"
CAL = (
    "calibration:\n  image_px: [[0, 0], [640, 0], [640, 480], [0, 480]]\n"
    "  floor_mm: [[0, 0], [6400, 0], [6400, 4800], [0, 4800]]\n"
)


def zone(poly: str = SQUARE, zid: str = "a", kind: str = "stop", extra: str = "") -> str:
    return f"  - id: {zid}\n    kind: {kind}\n    polygon: {poly}\n{extra}"


BAD_FILES = [
    # (name, file text, field that must be named, words in the problem)
    (
        "two points",
        HEAD + "zones:\n" + zone("[[0, 0], [5, 5]]"),
        "zones[0] (id a).polygon",
        "at least 3",
    ),
    (
        "bow tie",
        HEAD + "zones:\n" + zone("[[10, 10], [100, 100], [100, 10], [10, 100]]"),
        "zones[0] (id a).polygon",
        "Self-intersection",
    ),
    (
        "collinear",
        HEAD + "zones:\n" + zone("[[0, 0], [5, 5], [9, 9]]"),
        "zones[0] (id a).polygon",
        "not simple",
    ),
    (
        "outside frame",
        HEAD + "zones:\n" + zone("[[10, 10], [700, 10], [100, 100]]"),
        "zones[0] (id a).polygon[1]",
        "outside the frame",
    ),
    (
        "negative coordinate",
        HEAD + "zones:\n" + zone("[[-1, 10], [100, 10], [100, 100]]"),
        "zones[0] (id a).polygon[0]",
        "0 <= x <= 640",
    ),
    (
        "normalised above 1",
        "version: 1\ncamera: c\nunits: normalized\nzones:\n"
        + zone("[[0.1, 0.1], [1.2, 0.1], [0.5, 0.9]]"),
        "zones[0] (id a).polygon[1]",
        "0..1",
    ),
    (
        "duplicate ids",
        HEAD + "zones:\n" + zone() + zone(zid="a", kind="warn"),
        "zones[1] (id a).id",
        "duplicate",
    ),
    (
        "mask id clashes with zone",
        HEAD + "zones:\n" + zone() + f"masks:\n  - id: a\n    polygon: {SQUARE}\n",
        "masks[0] (id a).id",
        "duplicate",
    ),
    (
        "unknown key",
        HEAD + "zones:\n" + zone(extra="    colour: red\n"),
        "zones[0] (id a).colour",
        "Extra inputs",
    ),
    ("unknown top key", HEAD + "zone: []\nzones:\n" + zone(), "zone", "Extra inputs"),
    (
        "NaN coordinate",
        HEAD + "zones:\n" + zone("[[10, .nan], [100, 10], [100, 100]]"),
        "zones[0] (id a).polygon[0][1]",
        "finite",
    ),
    (
        "negative confidence",
        HEAD + "zones:\n" + zone(extra="    min_confidence: -0.1\n"),
        "zones[0] (id a).min_confidence",
        "greater than or equal",
    ),
    (
        "negative box size",
        HEAD + "zones:\n" + zone(extra="    min_box_h: -5\n"),
        "zones[0] (id a).min_box_h",
        "greater than or equal",
    ),
    ("bad kind", HEAD + "zones:\n" + zone(kind="danger"), "zones[0] (id a).kind", "stop"),
    (
        "bad anchor",
        HEAD + "zones:\n" + zone(extra="    anchor: feet\n"),
        "zones[0] (id a).anchor",
        "bottom_center",
    ),
    ("no zones", HEAD + "zones: []\n", "zones", "at least 1"),
    (
        "pixels without frame size",
        "version: 1\ncamera: c\nunits: pixels\nzones:\n" + zone(),
        "frame_size",
        "add frame_size",
    ),
    (
        "floor without calibration",
        HEAD.replace("pixels", "floor_mm") + "zones:\n" + zone(),
        "calibration",
        "calibration",
    ),
    (
        "mask covers stop zone",
        HEAD
        + "zones:\n"
        + zone()
        + "masks:\n  - id: m\n    polygon: [[0, 0], [200, 0], [200, 200], [0, 200]]\n",
        "masks[0] (id m).polygon",
        "whole stop zone a",
    ),
    (
        "three calibration points",
        HEAD
        + "calibration:\n  image_px: [[0, 0], [640, 0], [0, 480]]\n"
        + "  floor_mm: [[0, 0], [1, 0], [0, 1]]\n"
        + "zones:\n"
        + zone(),
        "calibration.image_px",
        "at least 4",
    ),
    (
        "collinear calibration",
        HEAD + "calibration:\n  image_px: [[0, 0], [100, 100], [200, 200], [300, 300]]\n"
        "  floor_mm: [[0, 0], [1, 1], [2, 2], [3, 3]]\nzones:\n" + zone(),
        "calibration",
        "degenerate",
    ),
    (
        "floor zone off the image",
        HEAD.replace("pixels", "floor_mm")
        + CAL
        + "zones:\n"
        + zone("[[0, 0], [9000, 0], [9000, 100]]"),
        "zones[0] (id a).polygon[1]",
        "maps outside the frame",
    ),
    (
        "hazard of two points",
        HEAD + CAL + "hazard_mm: [[0, 0], [1, 1]]\nzones:\n" + zone(),
        "hazard_mm",
        "at least 3",
    ),
    ("bad version", HEAD.replace("version: 1", "version: 2") + "zones:\n" + zone(), "version", "1"),
    ("bad zone id", HEAD + "zones:\n" + zone(zid="'a b'"), "zones[0] (id a b).id", "pattern"),
    (
        "mask with area anchor",
        HEAD
        + "zones:\n"
        + zone()
        + "masks:\n  - id: m\n    polygon: [[300, 300], [310, 300], [310, 310]]\n"
        + "    anchor: area_fraction\n",
        "masks[0] (id m).anchor",
        "point anchor",
    ),
]


@pytest.mark.parametrize(
    ("name", "text", "field", "problem"), BAD_FILES, ids=[b[0] for b in BAD_FILES]
)
def test_bad_zone_file_is_refused_naming_the_field(
    tmp_path: Path, name: str, text: str, field: str, problem: str
) -> None:
    """Each malformed zone file is refused with one line naming the file, the zone and field."""
    f = tmp_path / "zones.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_zone_file(f)
    msg = str(info.value)
    assert info.value.field == field, msg
    assert msg.startswith(f"{f}: {field}: "), msg
    assert problem in msg
    assert "\n" not in msg


def test_there_are_at_least_fifteen_malformed_cases() -> None:
    """The malformed-file table covers at least 15 distinct mistakes."""
    assert len({name for name, *_ in BAD_FILES}) >= 15


@pytest.mark.parametrize("name", ["vtest.yaml", "simcell.yaml"])
def test_example_zone_files_load(name: str) -> None:
    """The example zone files shipped in zones/ validate and compile."""
    z = load_zone_file(REPO / "zones" / name)
    assert len(z.sha256) == 64
    assert ZoneKind.STOP in {s.kind for s in z.zones}
    assert ZoneKind.WARN in {s.kind for s in z.zones}


def test_defaults_count_people_by_their_feet(tmp_path: Path) -> None:
    """A zone without classes or anchor counts persons at the box's bottom-centre."""
    f = tmp_path / "z.yaml"
    f.write_text(HEAD + "zones:\n" + zone())
    m = parse_zone_file(f)
    assert m.zones[0].classes == ["person"]
    assert m.zones[0].anchor is Anchor.BOTTOM_CENTER


def test_pixel_and_floor_files_compile_to_the_same_zone(tmp_path: Path) -> None:
    """A floor-mm zone maps through the calibration onto the same image polygon as pixels."""
    px = tmp_path / "px.yaml"
    px.write_text(HEAD + "zones:\n" + zone())
    mm = tmp_path / "mm.yaml"
    mm.write_text(
        HEAD.replace("pixels", "floor_mm")
        + CAL
        + "zones:\n"
        + zone("[[100, 100], [1000, 100], [1000, 1000], [100, 1000]]")
    )
    a, b = load_zone_file(px), load_zone_file(mm)
    np.testing.assert_allclose(a.zones[0].polygon, b.zones[0].polygon, atol=1e-9)
    np.testing.assert_allclose(b.stop_polygons_mm()["a"][1], [1000, 100], atol=1e-6)
