"""The box's side of the PLC image: fault codes, the combined output image, reset presses.

Several cameras, one PLC: the permit is on only if every camera's guard permits; the warning is
on if any camera warns or a reject alarm is latched; the fault code names the first cause.
"""

from __future__ import annotations

import threading

from plantvision.guard.latch import GuardOutput
from plantvision.plc.values import PlcOutputs

__all__ = ["FAULT_CODES", "OutputImage", "ResetBus"]

# Fault codes written to the PLC's fault_code register; 0 means the permit is on.
FAULT_CODES: dict[str, int] = {
    "start_interlock": 1,
    "stop_zone": 2,
    "camera_stalled": 3,
    "frozen_frame": 4,
    "black_frame": 5,
    "model_error": 6,
    "budget_overrun": 7,
    "plc_lost": 8,
    "stale_frame": 9,
    "shutdown": 10,
    "internal_error": 11,
    "loop_stalled": 12,
    "reject_missed": 13,
    "reject_unconfirmed": 14,
    "plc_tripped": 15,
}


class ResetBus:
    """Counts presses (rising edges: reset found by the link, the bin sensor) so each camera
    sees every one once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._presses = 0

    def press(self) -> None:
        with self._lock:
            self._presses += 1

    @property
    def presses(self) -> int:
        with self._lock:
            return self._presses


class OutputImage:
    """The combined outputs of all cameras: permit only if every camera permits."""

    def __init__(self, camera_ids: list[str]) -> None:
        self._lock = threading.Lock()
        self._outs: dict[str, GuardOutput | None] = dict.fromkeys(camera_ids)
        self._alarms: set[str] = set()
        self._ejectors: list[bool] = []

    def update(self, camera_id: str, out: GuardOutput, alarm: bool = False) -> PlcOutputs:
        """A camera's guard output; `alarm` (a reject alarm) lights the warning too."""
        with self._lock:
            self._outs[camera_id] = out
            (self._alarms.add if alarm else self._alarms.discard)(camera_id)
            return self._combined()

    def set_ejector(self, index: int, on: bool) -> PlcOutputs:
        """Switch ejector coil `index` (into plc.signals.ejectors)."""
        with self._lock:
            self._ejectors += [False] * (index + 1 - len(self._ejectors))
            self._ejectors[index] = on
            return self._combined()

    def _combined(self) -> PlcOutputs:
        outs = list(self._outs.values())
        permit = all(o is not None and o.permit for o in outs)
        warning = any(o is not None and o.warning for o in outs) or bool(self._alarms)
        cause = next((o.cause for o in outs if o is not None and o.cause), None)
        code = 0 if permit else FAULT_CODES.get(cause or "start_interlock", 99)
        return PlcOutputs(permit, warning, code, tuple(self._ejectors))

    def current(self) -> PlcOutputs:
        with self._lock:
            return self._combined()
