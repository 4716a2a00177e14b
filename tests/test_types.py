"""The vocabulary stays free of I/O and its detections stay immutable."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from plantvision.types import Detections

PKG = Path(__file__).resolve().parent.parent / "plantvision"

# Pure rooms (STYLE.md, 1): importing them, with everything they import in turn, must not load a
# camera, inference or Modbus library.
PURE_MODULES = [
    "types", "configio", "timing", "loop.stats", "frames.health", "zones", "zones.floor",
    "zones.geometry", "zones.model", "zones.config", "zones.checks", "guard", "guard.iso13855",
    "plc", "plc.values", "plc.config", "plc.fifo", "conveyor", "loop.outputs",
]  # fmt: skip
IO_LIBS = ("cv2", "onnxruntime", "openvino", "pymodbus")


@pytest.mark.parametrize("name", PURE_MODULES)
def test_pure_modules_load_no_io_library(name: str) -> None:
    """A pure module, imported alone in a fresh interpreter, pulls in no I/O library."""
    code = (
        f"import sys, plantvision.{name}\n"
        f"print(','.join(m for m in {IO_LIBS!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        cwd=PKG.parent,
    )  # fmt: skip
    assert out.stdout.strip() == ""


def test_types_imports_only_numpy_and_stdlib() -> None:
    """The vocabulary module depends on numpy alone."""
    tree = ast.parse((PKG / "types.py").read_text())
    mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    mods |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert {m.split(".")[0] for m in mods if m} <= {
        "__future__",
        "collections",
        "dataclasses",
        "numpy",
    }


def test_select_returns_new_frozen_detections() -> None:
    """select() picks rows into a new object; the arrays cannot be written."""
    d = Detections.from_arrays([[0, 0, 1, 1], [2, 2, 3, 3]], [0.9, 0.4], [0, 1], ("person", "cup"))
    sub = d.select(d.confidence > 0.5)
    assert len(sub) == 1
    assert len(d) == 2
    assert sub.name_of(0) == "person"
    with pytest.raises(ValueError, match="read-only"):
        d.xyxy[0, 0] = 5


def test_mismatched_arrays_are_refused() -> None:
    """Arrays of different lengths are a programming error caught at construction."""
    with pytest.raises(ValueError, match="disagree"):
        Detections(np.zeros((2, 4), np.float32), np.zeros(1, np.float32), np.zeros(2, np.int32))


def test_class_mask_matches_names() -> None:
    """class_mask selects rows by class name."""
    d = Detections.from_arrays([[0, 0, 1, 1]] * 3, [0.9] * 3, [0, 1, 0], ("person", "cup"))
    assert d.class_mask(["person"]).tolist() == [True, False, True]
    assert Detections.empty().class_mask(["person"]).shape == (0,)
