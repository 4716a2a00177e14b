"""The status page in a real browser over the real `plantvision run` on the demo.

Every check waits on the page's own state (Playwright's expect / wait_for_function), never on a
sleep; the timeouts only bound a hang on a small, shared machine.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Page, expect
from prometheus_client.parser import text_string_to_metric_families

from tests.face.conftest import DOCS, REPO, UI_TIMEOUT_MS, Process, docs_shots
from tests.waiting import wait_for

pytestmark = pytest.mark.slow
CELL = '[data-camera="cell"]'
SEQ = re.compile(r"^\d+$")


def _metrics(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url + "metrics", timeout=10) as r:
        text = r.read().decode()
    return {
        s.name + str(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_view_shows_frames_that_change(page: Page, demo_box: Process) -> None:
    page.goto(demo_box.url)
    view = page.locator(f"{CELL} img.view")
    expect(view).to_have_attribute("data-seq", SEQ, timeout=UI_TIMEOUT_MS)
    first = view.get_attribute("data-seq")
    page.wait_for_function(
        "([sel, first]) => { const v = document.querySelector(sel).dataset.seq;"
        " return v && v !== first; }",
        arg=[f"{CELL} img.view", first],
        timeout=UI_TIMEOUT_MS,
    )
    assert page.evaluate(f"document.querySelector('{CELL} img.view').naturalWidth") == 640


def test_zones_are_drawn_where_the_file_says(page: Page, demo_box: Process) -> None:
    zones = yaml.safe_load((REPO / "zones" / "simcell.yaml").read_text())["zones"]
    page.goto(demo_box.url)
    view = page.locator(f"{CELL} img.view")
    expect(view).to_have_attribute("data-seq", SEQ, timeout=UI_TIMEOUT_MS)
    box = view.bounding_box()
    assert box is not None
    for z in zones:
        poly = page.locator(f'{CELL} svg.overlay polygon[data-zone="{z["id"]}"]')
        expect(poly).to_have_attribute("data-kind", z["kind"], timeout=UI_TIMEOUT_MS)
        # Each vertex as the browser places it on the screen, through the SVG's transform.
        drawn = poly.evaluate(
            "p => [...p.points].map(v => { const s = v.matrixTransform(p.getScreenCTM());"
            " return [s.x, s.y]; })"
        )
        want = [
            [box["x"] + x * box["width"], box["y"] + y * box["height"]] for x, y in z["polygon"]
        ]
        assert len(drawn) == len(want)
        for got, exp in zip(drawn, want, strict=True):
            assert got == pytest.approx(exp, abs=1.0)


def test_a_trip_in_the_scene_turns_the_permit_off_with_its_cause(
    page: Page, demo_box: Process, tmp_path: Path
) -> None:
    """Once the operator's reset lets the machine run, a worker walks into the stop zone."""
    page.goto(demo_box.url)
    permit, cause = page.locator(f"{CELL} .permit"), page.locator(f"{CELL} .cause")
    expect(permit).to_have_attribute("data-permit", "on", timeout=UI_TIMEOUT_MS)
    expect(cause).to_have_attribute("data-cause", "", timeout=UI_TIMEOUT_MS)
    # Under load a budget overrun may trip first; the operator resets it and the worker comes.
    expect(cause).to_have_attribute("data-cause", "stop_zone", timeout=UI_TIMEOUT_MS)
    expect(permit).to_have_attribute("data-permit", "off")
    expect(cause).to_contain_text("zone machine")
    expect(cause).to_contain_text("fault code 2")
    expect(page.locator('#events li[data-event="trip"]').first).to_be_visible()
    expect(page.locator("#plc-permit")).to_have_attribute("data-permit", "off")
    expect(page.locator(f'{CELL} svg.overlay polygon[data-zone="machine"]')).to_have_attribute(
        "data-state", "occupied", timeout=UI_TIMEOUT_MS
    )
    shot = (DOCS if docs_shots() else tmp_path) / "status-page.png"
    page.screenshot(path=str(shot), full_page=True)


def test_metrics_parse_and_their_counters_move(demo_box: Process) -> None:
    key = "plantvision_frames_total[('camera', 'cell')]"
    first = _metrics(demo_box.url)
    for name in (
        "plantvision_permit[('camera', 'cell')]",
        "plantvision_plc_permit[]",
        "plantvision_plc_connected[]",
        "plantvision_log_lines_dropped_total[]",
        "plantvision_e2e_latency_seconds_count[('camera', 'cell')]",
        "plantvision_stage_latency_seconds_count[('camera', 'cell'), ('stage', 'infer')]",
        "plantvision_plc_write_seconds_count[]",
    ):
        assert name in first, name
    assert wait_for(lambda: _metrics(demo_box.url)[key] > first[key], 60, 0.5)
    e2e = "plantvision_e2e_latency_seconds_count[('camera', 'cell')]"
    assert wait_for(lambda: _metrics(demo_box.url)[e2e] > first[e2e], 60, 0.5)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_the_page_is_read_only(demo_box: Process, method: str) -> None:
    for path in ("", "api/state", "metrics", "camera/cell/frame.jpg"):
        req = urllib.request.Request(demo_box.url + path, method=method, data=b"x")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        err.value.close()  # its socket: unclosed, it is a ResourceWarning (an error here)
        assert err.value.code == 405
        assert err.value.headers["Allow"] == "GET, HEAD"
