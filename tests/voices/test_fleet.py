"""`plantvision fleet` in a real browser: 20 boxes on one broker, and one of them dies.

Nineteen boxes are in-process publishers (the product's own MqttVoice); the twentieth is a
process of its own, so that it can be killed with SIGKILL. Every check waits on the page.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from plantvision.voices.fleet import FleetBook
from plantvision.voices.mqtt import MqttVoice
from tests.face.conftest import DOCS, REPO, UI_TIMEOUT_MS, Process, docs_shots
from tests.voices.broker import HANG_S, Broker
from tests.voices.onebox import voice
from tests.waiting import wait_for

BOXES = 20


@pytest.fixture
def fleet(broker: Broker, tmp_path: Path) -> Iterator[Process]:
    page = Process(
        ["fleet", "--mqtt", broker.address, "--http", "127.0.0.1:0"], r"fleet page: (http://\S+/)"
    )
    yield page
    page.stop()


@pytest.mark.slow
def test_the_fleet_page_lists_twenty_boxes_online_and_a_killed_one_offline(
    page: Page, broker: Broker, fleet: Process, tmp_path: Path
) -> None:
    voices: list[MqttVoice] = []
    lone = subprocess.Popen(
        [sys.executable, "-m", "tests.voices.onebox", str(broker.port), "box19",
         str(tmp_path / "box19.sqlite")],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        for i in range(BOXES - 1):
            v = voice(broker.port, f"box{i:02d}", tmp_path / f"box{i}.sqlite")
            v.start()
            voices.append(v)
        assert lone.stdout is not None
        assert lone.stdout.readline().strip() == "ready"
        assert wait_for(lambda: all(v.connected for v in voices), HANG_S)

        page.goto(fleet.url)
        summary = page.locator("#summary")
        expect(summary).to_have_attribute("data-online", str(BOXES), timeout=UI_TIMEOUT_MS)
        expect(page.locator('tr[data-online="yes"]')).to_have_count(BOXES)
        killed = page.locator('tr[data-box="box19"]')
        expect(killed.locator(".permit")).to_have_attribute("data-permit", "on")
        expect(killed.locator("a")).to_have_attribute("href", "http://127.0.0.1:8080/#box19")

        lone.kill()  # no goodbye: the broker's will says it
        lone.wait(20)
        expect(killed).to_have_attribute("data-online", "no", timeout=UI_TIMEOUT_MS)
        expect(summary).to_have_attribute("data-offline", "1", timeout=UI_TIMEOUT_MS)
        expect(page.locator('tr[data-online="yes"]')).to_have_count(BOXES - 1)
        shot = (DOCS if docs_shots() else tmp_path) / "fleet.png"
        page.screenshot(path=str(shot), full_page=True)
    finally:
        if lone.poll() is None:
            lone.kill()
            lone.wait(20)
        if lone.stdout is not None:
            lone.stdout.close()
        for v in voices:
            v.stop()


def test_the_book_keeps_status_state_and_the_last_trip() -> None:
    """Pure: the book folds messages as the broker delivers them."""
    book = FleetBook("plantvision")
    book.apply("plantvision/a/status", b'{"online": true, "deployment": "d", "page": "http://x/"}')
    book.apply(
        "plantvision/a/cam/state", b'{"permit": false, "cause": "stop_zone", "online": true}'
    )
    trip = b'{"event": "permit_off", "cause": "stop_zone", "response_ms": 21.5, "t": 1.0}'
    book.apply("plantvision/a/cam/events", trip)
    book.apply("plantvision/a/cam/events", b'{"event": "permit_off", "cause": "shutdown"}')
    book.apply("plantvision/b/status", b'{"online": false}')
    book.apply("other/c/status", b'{"online": true}')
    book.apply("plantvision/a/status", b"not json")
    doc = book.json()
    assert (doc["boxes"], doc["online"]) == (2, 1)
    a, b = doc["rows"]
    assert (a["box"], a["camera"], a["online"], a["permit"]) == ("a", "cam", True, False)
    assert a["last_trip"]["response_ms"] == 21.5
    assert (b["box"], b["camera"], b["online"], b["permit"]) == ("b", None, False, None)
