"""Load YAML into pydantic models; turn every validation failure into one clear ConfigError.

Config models follow one convention (STYLE.md, 7): `StrictModel` subclasses, `extra="forbid"`,
frozen, a `description` on every field. Validators raise ValueError with a message that says how
to fix the value (or a PydanticCustomError whose context carries the `fix`); this module prefixes
the file and the dotted field path.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from plantvision.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every config model: unknown keys refused, values immutable after load."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def field_path(loc: tuple[int | str, ...]) -> str:
    """Dotted path with list indices: ('zones', 0, 'polygon') -> 'zones[0].polygon'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _fix_for(err: ErrorDetails) -> str:
    fix = (err.get("ctx") or {}).get("fix")  # a validator's own (PydanticCustomError context)
    if fix:
        return str(fix)
    kind = str(err.get("type", ""))
    if kind == "extra_forbidden":
        return "remove this key or check its spelling"
    if kind == "missing":
        return "add this required key"
    if kind.startswith("finite_number"):
        return "use a finite number"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return "give a value within the field's bounds (`plantvision schema` writes them all)"
    return ""


def validation_error(file: str | Path, exc: ValidationError) -> ConfigError:
    """The first validation error as a ConfigError; the count of others is appended."""
    errs = exc.errors(include_url=False)
    first = errs[0]
    msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if len(errs) > 1:
        msg += f" (and {len(errs) - 1} more problem{'s' if len(errs) > 2 else ''})"
    return ConfigError(str(file), field_path(tuple(first.get("loc", ()))), msg, _fix_for(first))


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file; a missing or malformed file is a ConfigError naming it."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), "(file)", "file not found", "check the path") from None
    except OSError as exc:
        raise ConfigError(str(p), "(file)", f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            str(p),
            "(file)",
            f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
            "is this the right file?",
            "give a YAML text file saved as UTF-8",
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise ConfigError(str(p), where, f"not valid YAML: {exc}".splitlines()[0]) from None


def load_model(path: str | Path, model: type[M], context: dict[str, Any] | None = None) -> M:
    """Read YAML at `path` and validate it as `model`, or raise a ConfigError naming the field."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(str(path), "(top level)", "expected a mapping of keys to values")
    try:
        return model.model_validate(data, context={"file": str(path), **(context or {})})
    except ValidationError as exc:
        raise validation_error(path, exc) from None


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes; events carry it so a log names the exact config in force."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
