"""Fixtures for the voices: a real Mosquitto broker per test on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

# The browser, as the face's tests launch it (Debian's chromium through pytest-playwright).
from tests.face.conftest import base_url as base_url
from tests.face.conftest import browser_context_args as browser_context_args
from tests.face.conftest import browser_type_launch_args as browser_type_launch_args
from tests.voices.broker import Broker, Listener


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path).start()
    yield b
    b.stop()


@pytest.fixture
def listener(broker: Broker) -> Iterator[Listener]:
    sub = Listener(broker)
    yield sub
    sub.close()
