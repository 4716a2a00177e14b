"""Which runtime runs a model: `open_session` picks the spec's backend and imports only its
library (onnxruntime by default, OpenVINO on request). Kept apart from runtime.py, whose shared
types both session modules import, so the choice never makes an import circle."""

from __future__ import annotations

from pathlib import Path

from plantvision.detect.runtime import ModelSession
from plantvision.detect.spec import ModelSpec
from plantvision.errors import ModelError


def open_session(spec: ModelSpec) -> ModelSession:
    """The session of the spec's backend; only the chosen runtime's library is imported."""
    if not Path(spec.path).is_file():
        raise ModelError(f"{spec.path}: model file not found (check the path)")
    if spec.backend == "openvino":
        from plantvision.detect.ov_session import OpenVinoSession

        return OpenVinoSession(spec)
    from plantvision.detect.session import Session

    return Session(spec)
