"""Decoding, NMS and family choice stay pure numpy: only session.py knows onnxruntime."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DETECT = Path(__file__).resolve().parents[2] / "plantvision" / "detect"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    return {n.split(".")[0] for n in names}


@pytest.mark.parametrize(
    "name", ["boxes.py", "decoders.py", "families.py", "names.py", "spec.py", "runtime.py"]
)
def test_pure_detect_modules_import_no_io_library(name: str) -> None:
    """Pure detector modules import neither cv2 nor an inference runtime."""
    assert not _imports(DETECT / name) & {"cv2", "onnxruntime", "openvino"}


def test_only_the_session_module_imports_onnxruntime() -> None:
    """onnxruntime's inference API appears in session.py alone (one seam). Its quantization
    tools, a separate offline API used only by `plantvision quantize`, stay behind one module
    of their own, detect/quantize/tools.py, never on the run path. loop-bench's hand-written
    reference pipeline has its own session on purpose: it shares nothing with the product."""
    users = sorted(
        str(p.relative_to(DETECT.parent))
        for p in DETECT.parent.rglob("*.py")
        if "onnxruntime" in _imports(p)
    )
    assert users == ["commands/user_pipeline.py", "detect/quantize/tools.py", "detect/session.py"]


def test_only_the_quantization_tools_import_onnx() -> None:
    """The onnx package (the `quantize` extra) is needed by the quantization tools alone."""
    users = sorted(
        str(p.relative_to(DETECT.parent))
        for p in DETECT.parent.rglob("*.py")
        if "onnx" in _imports(p)
    )
    assert users == ["detect/quantize/tools.py"]


def test_only_the_openvino_session_imports_openvino() -> None:
    """OpenVINO's API appears in ov_session.py alone: the second backend is one seam too."""
    users = sorted(
        str(p.relative_to(DETECT.parent))
        for p in DETECT.parent.rglob("*.py")
        if "openvino" in _imports(p)
    )
    assert users == ["detect/ov_session.py"]
