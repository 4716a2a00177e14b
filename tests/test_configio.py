"""Config loading names the file and the field, and says how to fix it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from plantvision.configio import StrictModel, load_model
from plantvision.errors import ConfigError


class Inner(StrictModel):
    points: list[float] = Field(description="numbers")


class Outer(StrictModel):
    name: str = Field(description="a name")
    inner: list[Inner] = Field(default_factory=list, description="inner items")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: a\nbogus: 1\n", r"bogus: Extra inputs are not permitted \(fix: remove this key"),
        ("inner: []\n", r"name: Field required \(fix: add this required key"),
        ("name: a\ninner: [{points: [1, .nan]}]\n", r"inner\[0\]\.points\[1\]"),
        ("name: a\ninner: [{points: x}]\n", r"inner\[0\]\.points: Input should be a valid list"),
        ("- 1\n- 2\n", r"\(top level\): expected a mapping"),
        ("name: [unclosed\n", r"line \d+: not valid YAML"),
    ],
)
def test_bad_files_name_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    """Each malformed file is refused with its path and the offending field in one line."""
    f = tmp_path / "cfg.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=expected) as info:
        load_model(f, Outer)
    assert str(f) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    """A missing file is a ConfigError, not a traceback."""
    with pytest.raises(ConfigError, match="file not found"):
        load_model(tmp_path / "nope.yaml", Outer)
