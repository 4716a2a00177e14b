"""The box's side of the PLC image: fault codes, the combined output image, reset presses.

Several cameras, one PLC: the permit is on only if every camera's guard permits and every
camera's last decision is younger than its bound (a camera whose thread hung or died expires:
its stale permit never holds the machine on); the warning is on if any camera warns or a reject
alarm is latched; a supervisor fault (a dead or stuck service thread) holds the permit off too.
The fault code names the first cause. Pure: every call that composes the image takes `now_ns`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from plantvision.guard.latch import GuardOutput
from plantvision.plc.values import PlcOutputs

__all__ = [
    "DECISION_EXPIRED",
    "FAULT_CODES",
    "PERMIT_MISMATCH",
    "RESET_STUCK",
    "STOP_UNCONFIRMED",
    "THREAD_STOPPED",
    "VERDICT_STALE",
    "OutputImage",
    "ResetBus",
]

DECISION_EXPIRED = "decision_expired"
THREAD_STOPPED = "thread_stopped"
VERDICT_STALE = "verdict_stale"
PERMIT_MISMATCH = "permit_mismatch"  # the permit coil read back differs: another writer
STOP_UNCONFIRMED = "stop_unconfirmed"  # stop monitoring (EDM): only a maintenance reset clears
RESET_STUCK = "reset_stuck"  # the reset input held beyond its window (guard.reset_button)

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
    "shutdown": 10,
    "internal_error": 11,
    "loop_stalled": 12,
    "reject_missed": 13,
    "reject_unconfirmed": 14,
    "plc_tripped": 15,
    DECISION_EXPIRED: 16,
    THREAD_STOPPED: 17,
    VERDICT_STALE: 18,
    "encoder_discontinuity": 19,
    PERMIT_MISMATCH: 20,
    STOP_UNCONFIRMED: 21,
    RESET_STUCK: 22,
    "belt_unplaced": 23,
    "blind_segment": 24,
}


class ResetBus:
    """Counts presses (reset presses the reset button accepted, the bin sensor's rising
    edges) so each camera sees every one once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._presses = 0
        self._began_after_ns: int | None = None
        self._released_ns = 0

    def press(self, began_after_ns: int = 0, released_ns: int = 0) -> None:
        """Count a press that began after `began_after_ns` (its last released sample) and was
        seen released in the sample taken at `released_ns`."""
        with self._lock:
            self._presses += 1
            self._began_after_ns, self._released_ns = began_after_ns, released_ns

    @property
    def released_ns(self) -> int:
        """When the sample that saw the latest press released was taken (0: unknown)."""
        with self._lock:
            return self._released_ns

    @property
    def began_after_ns(self) -> int | None:
        """The latest press's last released sample (None: no press yet); presses between two
        cycles are one."""
        with self._lock:
            return self._began_after_ns

    @property
    def presses(self) -> int:
        with self._lock:
            return self._presses


class OutputImage:
    """The combined outputs of all cameras: permit only if every camera permits, recently.

    `expiry_ns` maps each camera id to how old its last decision may be before it counts as
    permit OFF (cause `decision_expired`). Once an image went out with a camera expired, that
    camera counts as OFF until it reports a tripped output (its guard saw the fault): a late
    decision must not raise the permit again without a reset.
    """

    def __init__(self, expiry_ns: Mapping[str, int]) -> None:
        self._lock = threading.Lock()
        self._expiry_ns = dict(expiry_ns)
        self._outs: dict[str, GuardOutput | None] = dict.fromkeys(expiry_ns)
        self._stamp_ns: dict[str, int | None] = dict.fromkeys(expiry_ns)
        self._alarms: set[str] = set()
        self._fault: str | None = None
        self._lockout: str | None = None
        self._shutdown = False
        self._expired_out: set[str] = set()  # expired in an image sent; OFF until they trip

    def update(
        self,
        camera_id: str,
        out: GuardOutput,
        decided_ns: int,
        alarm: bool = False,
        now_ns: int | None = None,
    ) -> PlcOutputs:
        """A camera's guard output decided at `decided_ns`, composed at `now_ns` (default: the
        decision); `alarm` (a reject alarm) lights the warning too."""
        with self._lock:
            self._outs[camera_id] = out
            self._stamp_ns[camera_id] = decided_ns
            if not out.permit:
                self._expired_out.discard(camera_id)  # its guard tripped: a reset decides now
            (self._alarms.add if alarm else self._alarms.discard)(camera_id)
            return self._combined(decided_ns if now_ns is None else now_ns)

    def was_expired(self, camera_id: str) -> bool:
        """An image went out with this camera expired, and its guard has not tripped since."""
        with self._lock:
            return camera_id in self._expired_out

    def set_fault(self, cause: str | None, now_ns: int) -> PlcOutputs:
        """A supervisor fault (None: none) that holds the permit off whatever the cameras say."""
        with self._lock:
            self._fault = cause
            return self._combined(now_ns)

    def set_lockout(self, cause: str | None, now_ns: int) -> PlcOutputs:
        """A latched fault (stop monitoring) that holds the permit off until cleared by its own
        reset (None), whatever the cameras and the supervisor say."""
        with self._lock:
            self._lockout = cause
            return self._combined(now_ns)

    def expired(self, now_ns: int) -> list[str]:
        """Cameras whose last decision is older than their bound (or who never decided)."""
        with self._lock:
            return self._expired(now_ns)

    def _expired(self, now_ns: int) -> list[str]:
        return [
            cid
            for cid, t in self._stamp_ns.items()
            if t is None or now_ns - t > self._expiry_ns[cid]
        ]

    def shut_down(self) -> None:
        """From now on every image has the permit off with fault code `shutdown`."""
        with self._lock:
            self._shutdown = True

    def _combined(self, now_ns: int) -> PlcOutputs:
        outs = list(self._outs.values())
        if self._shutdown:
            warn = any(o is not None and o.warning for o in outs) or bool(self._alarms)
            return PlcOutputs(False, warn, FAULT_CODES["shutdown"])
        expired = self._expired(now_ns)
        self._expired_out.update(c for c in expired if self._stamp_ns[c] is not None)
        expired = sorted(set(expired) | self._expired_out)
        permit = all(o is not None and o.permit for o in outs) and not expired
        permit = permit and not self._fault and not self._lockout
        warning = any(o is not None and o.warning for o in outs) or bool(self._alarms)
        cause = (
            self._lockout
            or self._fault
            or next((o.cause for o in outs if o is not None and o.cause), None)
        )
        if cause is None and expired and any(self._stamp_ns[c] is not None for c in expired):
            cause = DECISION_EXPIRED
        code = 0 if permit else FAULT_CODES.get(cause or "start_interlock", 99)
        return PlcOutputs(permit, warning, code)

    def current(self, now_ns: int) -> PlcOutputs:
        with self._lock:
            return self._combined(now_ns)
