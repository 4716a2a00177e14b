"""Only plc/link.py knows pymodbus; the PLC values and config stay importable without it."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "plantvision"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    mods |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return {m.split(".")[0] for m in mods}


def test_only_plc_module_imports_pymodbus() -> None:
    """pymodbus keywords change across 3.x, so exactly one module of the box may use them. The
    other is loop-bench's hand-written reference pipeline, which must share nothing with the
    product it is measured against (issue 17)."""
    users = sorted(str(p.relative_to(PKG)) for p in PKG.rglob("*.py") if "pymodbus" in _imports(p))
    assert users == ["commands/user_pipeline.py", "plc/link.py"]
