"""The package layout is the architecture: rooms in data-flow order, arrows pointing down, and
one door to the simulators."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "plantvision"

# Rooms from the bottom floor up, in the order the data flows. A module may import its own room
# and the rooms below it, never one above.
ROOMS = [
    ("types", "errors", "timing", "log", "configio", "progress"),
    ("frames",),
    ("detect", "models"),
    ("zones",),
    ("guard", "conveyor"),
    ("plc",),
    ("loop",),
    ("face",),
    ("voices",),
    ("commands", "cli", "__main__", "__init__"),
]
RANK = {room: level for level, rooms in enumerate(ROOMS) for room in rooms}
SEAM = PKG / "commands" / "seam.py"


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at any depth (lazy imports inside functions count too);
    `from package import module` counts as the module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.module:
            subs = {f"{n.module}.{a.name}" for a in n.names}
            modules = {s for s in subs if _is_module(s)}
            names |= modules or {n.module}
            if len(modules) < len(subs):
                names.add(n.module)
    return names


def _is_module(dotted: str) -> bool:
    path = REPO.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


PRODUCT = sorted(PKG.rglob("*.py"))


def test_every_module_lives_in_a_known_room() -> None:
    """A new top-level module must be placed in the room order on purpose."""
    unknown = sorted({_room(_module(p)) for p in PRODUCT} - set(RANK))
    assert unknown == []


@pytest.mark.parametrize("path", PRODUCT, ids=lambda p: str(p.relative_to(REPO)))
def test_imports_point_down(path: Path) -> None:
    """A room imports only itself and the rooms below it in the data flow."""
    room = _room(_module(path))
    up = sorted(
        m
        for m in _imports(path)
        if m.startswith("plantvision.") and m != "plantvision" and RANK[_room(m)] > RANK[room]
    )
    assert up == [], f"{room} imports rooms above it"


def test_only_the_seam_names_the_simulators() -> None:
    """The product reaches its simulators through plantvision/commands/seam.py alone."""
    users = [p for p in PRODUCT if any(m.split(".")[0] == "simulators" for m in _imports(p))]
    assert users == [SEAM]


def test_simulators_never_import_the_command_line() -> None:
    """The test rig sits beside the product, not on top of its command line."""
    users = [
        str(p.relative_to(REPO))
        for p in sorted((REPO / "simulators").rglob("*.py"))
        if any(m.startswith(("plantvision.commands", "plantvision.cli")) for m in _imports(p))
    ]
    assert users == []


def test_importing_the_whole_product_loads_no_simulator() -> None:
    """Every product module imports cleanly and none of them loads a simulator."""
    mods = [_module(p) for p in PRODUCT if p.name != "__main__.py"]
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        "print([m for m in sys.modules if m.startswith('simulators')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert out.stdout.strip() == "[]"


def test_no_import_circle() -> None:
    """No module reaches itself through its imports (type-only imports count: a circle in the
    types is a circle in the design)."""
    graph = {_module(p): {m for m in _imports(p) if m.startswith("plantvision.")} for p in PRODUCT}
    # `from plantvision.zones import x` imports the package: its __init__ is the node.
    graph = {k: {m for m in v if m in graph and m != k} for k, v in graph.items()}
    circles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt == path[0]:
                circles.append([*path, nxt])
            elif nxt not in path and len(path) < 8 and nxt > path[0]:
                visit(nxt, [*path, nxt])

    for start in sorted(graph):
        visit(start, [start])
    assert circles == []
