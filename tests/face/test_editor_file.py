"""The zone editor's file side, without a browser: units round trip, comments kept, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from plantvision.face.editor import ZoneDocument
from plantvision.zones.config import parse_zone_file

FLOOR = """# yaml-language-server: $schema=../plantvision/schemas/zones.schema.json
# A floor-millimetre file: the simulator's calibration, 20 mm per pixel.
version: 1
camera: floorcam
units: floor_mm
frame_size: [640, 480]
calibration:
  image_px: [[0, 0], [640, 0], [640, 480], [0, 480]]
  floor_mm: [[0, 0], [12800, 0], [12800, 9600], [0, 9600]]
# the press
zones:
  - id: press
    kind: stop
    polygon: [[2000, 2000], [6000, 2000], [6000, 6000], [2000, 6000]]
"""

PIXELS = """version: 1
camera: pxcam
units: pixels
frame_size: [640, 480]
zones:
  - {id: door, kind: warn, polygon: [[64, 48], [320, 48], [320, 240]], hold_ms: 800}
masks:
  - {id: sign, polygon: [[500, 10], [600, 10], [600, 100]]}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "z.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text", [FLOOR, PIXELS], ids=["floor_mm", "pixels"])
def test_an_unchanged_page_saves_the_same_zones(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text)
    doc = ZoneDocument(path)
    assert doc.save(doc.to_page())["ok"]
    assert yaml.safe_load(path.read_text()) == yaml.safe_load(text)
    assert path.read_text().splitlines()[0] == text.splitlines()[0]


def test_page_units_are_fractions_of_the_picture(tmp_path: Path) -> None:
    page = ZoneDocument(_write(tmp_path, FLOOR)).to_page()
    assert page["zones"][0]["polygon_norm"][0] == pytest.approx([100 / 640, 100 / 480], abs=1e-5)
    page = ZoneDocument(_write(tmp_path, PIXELS)).to_page()
    assert page["masks"][0]["polygon_norm"][1] == pytest.approx([600 / 640, 10 / 480], abs=1e-5)


def test_a_moved_vertex_lands_in_the_files_units_and_comments_stay(tmp_path: Path) -> None:
    path = _write(tmp_path, FLOOR)
    doc = ZoneDocument(path)
    page = doc.to_page()
    page["zones"][0]["polygon_norm"][0] = [0.25, 0.25]  # 160 x 120 px = 3200 x 2400 mm
    page["zones"].append({"id": "aisle", "kind": "warn", "classes": ["person"],
                          "polygon_norm": [[0.5, 0.5], [0.9, 0.5], [0.9, 0.9]]})  # fmt: skip
    assert doc.save(page)["ok"]
    text = path.read_text()
    model = parse_zone_file(path)
    assert model.zones[0].polygon[0] == (3200, 2400)
    assert [z.id for z in model.zones] == ["press", "aisle"]
    assert "# A floor-millimetre file" in text
    assert "# the press" in text
    assert "polygon: [[3200, 2400], [6000, 2000]" in text


def test_a_refused_save_names_the_zone_and_leaves_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, PIXELS)
    doc = ZoneDocument(path)
    page = doc.to_page()
    page["masks"][0]["id"] = "door"  # two items with one id
    res = doc.save(page)
    assert not res["ok"]
    assert res["item"] == "masks:0"
    assert "duplicate id" in res["problem"]
    assert str(path) in res["message"]
    assert path.read_text() == PIXELS
    assert [p.name for p in tmp_path.iterdir()] == ["z.yaml"], "no candidate left behind"


def test_a_new_file_starts_empty_with_the_schema_line(tmp_path: Path) -> None:
    path = tmp_path / "new" / "cell.yaml"
    path.parent.mkdir()
    doc = ZoneDocument(path, camera="cell")
    page = doc.to_page()
    assert page["zones"] == []
    assert page["camera"] == "cell"
    assert not doc.save(page)["ok"]  # a zone file needs at least one zone
    page["zones"].append({"id": "z1", "kind": "stop", "polygon_norm": [[0, 0], [1, 0], [1, 1]]})
    assert doc.save(page)["ok"]
    assert path.read_text().startswith("# yaml-language-server: $schema=")
    parse_zone_file(path)
