"""`plantvision zones edit`: the page in a real browser, and the file it writes.

The editor runs as the real command in a child process over a copy of the demo's zone file and
a snapshot grabbed from the demo deployment's (simulated) camera.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Page, expect

from plantvision.zones.config import parse_zone_file
from tests.face.conftest import DOCS, REPO, UI_TIMEOUT_MS, Process, docs_shots

pytestmark = pytest.mark.slow
HANDLE = 'circle.handle[data-item="zones:0"][data-index="0"]'


@pytest.fixture
def editor(tmp_path: Path) -> Iterator[tuple[Process, Path]]:
    zone_file = tmp_path / "simcell.yaml"
    shutil.copy(REPO / "zones" / "simcell.yaml", zone_file)
    proc = Process(
        ["zones", "edit", str(zone_file), "--deployment", str(REPO / "deployments" / "demo.yaml"),
         "--camera", "cell"],
        r"zone editor for .*: (http://\S+/)",
    )  # fmt: skip
    yield proc, zone_file
    proc.stop()


def _drag_first_vertex(page: Page, to_x: float, to_y: float) -> None:
    """Drag vertex 0 of the first zone to (to_x, to_y), in 0..1 of the picture."""
    handle, picture = page.locator(HANDLE).bounding_box(), page.locator("#image").bounding_box()
    assert handle is not None
    assert picture is not None
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(picture["x"] + to_x * picture["width"],
                    picture["y"] + to_y * picture["height"], steps=8)  # fmt: skip
    page.mouse.up()


def test_drag_a_vertex_save_and_the_file_passes_check(
    page: Page, editor: tuple[Process, Path], tmp_path: Path
) -> None:
    proc, zone_file = editor
    before = zone_file.read_text()
    page.goto(proc.url)
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=UI_TIMEOUT_MS)

    # A vertex dragged across the outline crosses two edges: refused, shown by the zone.
    _drag_first_vertex(page, 0.99, 0.5)  # past the right edge (x = 0.9675)
    page.click("#save")
    expect(page.locator("#status")).to_have_attribute("data-state", "error", timeout=UI_TIMEOUT_MS)
    error = page.locator('.item[data-item="zones:0"] .error')
    expect(error).to_contain_text("zones[0] (id machine).polygon")
    expect(error).to_contain_text("not simple")
    assert zone_file.read_text() == before, "a refused save must leave the file alone"

    _drag_first_vertex(page, 0.45, 0.15)
    page.locator('.item[data-item="zones:0"] input[name="min_confidence"]').fill("0.4")
    page.locator('.item[data-item="zones:0"] input[name="min_confidence"]').press("Tab")
    page.click("#save")
    expect(page.locator("#status")).to_have_attribute("data-state", "saved", timeout=UI_TIMEOUT_MS)
    expect(error).to_be_empty()
    shot = (DOCS if docs_shots() else tmp_path) / "zone-editor.png"
    page.screenshot(path=str(shot))

    after = zone_file.read_text()
    assert after != before
    parse_zone_file(zone_file)  # the validator `check` uses: raises on any problem
    machine = yaml.safe_load(after)["zones"][0]
    original = yaml.safe_load(before)["zones"][0]["polygon"]
    assert machine["id"] == "machine"
    assert machine["polygon"][0] == pytest.approx([0.45, 0.15], abs=0.01)
    assert machine["polygon"][1:] == original[1:]  # only the dragged vertex moved
    assert machine["min_confidence"] == 0.4
    # The comments stay: the schema line first, and the notes above other keys.
    assert after.splitlines()[0] == before.splitlines()[0]
    assert after.startswith("# yaml-language-server: $schema=")
    assert "# The machine footprint on the floor" in after
