"""Class names: from the model's ONNX metadata, else config, else a names file."""

from __future__ import annotations

import ast
from pathlib import Path

from plantvision.errors import ConfigError

# Keys under which exporters store names: ultralytics writes "names" as a Python dict literal
# "{0: 'person', ...}"; others write a list literal or a comma-separated string.
_META_KEYS = ("names", "classes", "class_names", "labels")


def names_from_metadata(metadata: dict[str, str]) -> tuple[str, ...] | None:
    """Class names found in ONNX custom metadata, or None when absent or unreadable."""
    for key in _META_KEYS:
        raw = metadata.get(key)
        if not raw:
            continue
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            value = [part.strip() for part in raw.split(",")]
        if isinstance(value, dict) and all(isinstance(k, int) for k in value):
            return tuple(str(value[k]) for k in sorted(value))
        if isinstance(value, list | tuple) and value:
            return tuple(str(v) for v in value)
    return None


def read_names_file(path: Path) -> tuple[str, ...]:
    """One class name per line, blank lines skipped; a missing file is a ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), "names_file", f"cannot read: {exc.strerror}") from None
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not names:
        raise ConfigError(str(path), "names_file", "no class names in file", "one name per line")
    return names


def resolve_names(
    metadata: dict[str, str],
    class_names: tuple[str, ...] | None,
    names_file: Path | None,
) -> tuple[str, ...]:
    """Model metadata first (it travels with the weights), then config, then the names file."""
    found = names_from_metadata(metadata)
    if found:
        return found
    if class_names:
        return class_names
    if names_file is not None:
        return read_names_file(names_file)
    return ()
