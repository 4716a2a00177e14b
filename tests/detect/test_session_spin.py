"""The session spins (its pool busy-waits for the next run) only when its spec says so: the
deployment's builder decides (a camera alone on the box), a bare model command never does."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantvision.detect.session import Session
from plantvision.detect.spec import ModelSpec

MODEL = Path(__file__).resolve().parents[2] / "plantvision" / "models" / "cell_detector.onnx"


@pytest.mark.parametrize(("spin_wait", "entry"), [(True, "1"), (False, "0"), (None, "0")])
def test_the_session_spins_only_when_its_spec_says(spin_wait: bool | None, entry: str) -> None:
    session = Session(ModelSpec(path=MODEL, spin_wait=spin_wait))
    opts = session._session.get_session_options()
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == entry
