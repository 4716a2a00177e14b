"""A real model session with a fault switch: it can raise or hang on the test's command."""

from __future__ import annotations

import threading
from typing import Any

import numpy.typing as npt

from plantvision.detect.runtime import ModelSession
from plantvision.errors import ModelError


class SwitchedSession:
    """Runs `inner` (a real session) until told to fail (`fail = True`: raise ModelError) or to
    hang (`hang` set: the next run blocks until `release` is set; `hanging` says it blocked;
    with `hang_once` only the first run that sees `hang` blocks, as one stuck run among many)."""

    def __init__(self, inner: ModelSession) -> None:
        self.inner = inner
        self.provider, self.input_name = inner.provider, inner.input_name
        self.input_shape, self.input_dtype = inner.input_shape, inner.input_dtype
        self.outputs, self.metadata = inner.outputs, inner.metadata
        self.fail = False
        self.hang = threading.Event()
        self.release = threading.Event()
        self.hanging = threading.Event()
        self.hang_once = False
        self.runs = 0

    def run(self, tensor: npt.NDArray[Any]) -> list[npt.NDArray[Any]]:
        self.runs += 1
        if self.fail:
            raise ModelError("inference failed: injected by the test")
        if self.hang.is_set():
            if self.hang_once:
                self.hang.clear()
            self.hanging.set()
            self.release.wait()
        return self.inner.run(tensor)
