"""Shared fixtures. Real data lives in ../shared/data; CI has it, elsewhere tests skip."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from simulators.plc import PlcSimulator, SimConfig

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("PLANTVISION_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or a skip with the reason. In CI its absence is a failure, not a skip."""
    if not (SHARED_DATA / "SOURCES.md").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the shared data at {SHARED_DATA}")
        pytest.skip(f"no shared data at {SHARED_DATA} (set PLANTVISION_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def openvino() -> None:
    """The openvino package (the `dev` and `openvino` extras), or a skip with the reason. CI
    installs `.[dev]`, so there its absence is a failure, not a skip."""
    if importlib.util.find_spec("openvino") is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs .[dev], which includes openvino; it is missing")
        pytest.skip("the openvino package is not installed (pip install -e '.[openvino]')")


@pytest.fixture(autouse=True)
def _structlog_defaults() -> Iterator[None]:
    """Commands under test configure logging for the process; undo it after each test."""
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="module")
def sim() -> Iterator[PlcSimulator]:
    """A PLC simulator on loopback, shared by a module's tests (a module may define its own)."""
    s = PlcSimulator(SimConfig())
    s.start()
    yield s
    s.stop()
