"""Bounded polling for tests over real threads and sockets (never an assert on time)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(cond: Callable[[], bool], timeout_s: float = 3.0, step_s: float = 0.005) -> bool:
    """Poll `cond` until it holds or `timeout_s` passes; the last check decides."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step_s)
    return cond()
