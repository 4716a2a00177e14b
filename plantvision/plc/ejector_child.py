"""The box-timed ejector timer in a process of its own: `python -m plantvision.plc.ejector_child`.

Started by `plantvision.plc.ejector_process.EjectorProcess`, never by hand. Why a process: in the
box's process the timer thread must win the GIL from camera threads the kernel may have
preempted while holding it, and a switch-on came 1.4 ms late at p99 on a loaded box (3.0 ms with
the thread at real-time priority: issue 17). Here it has a GIL of its own, and real-time
priority where the box may give it (plantvision.plc.realtime).

Its one argument is its configuration, a JSON object (`plc`, the PlcConfig; `coils`, ejector id
-> coil address; `spin_ns`; `rt_priority`, 0 for none); its stdin carries plans and its stdout
reports (plantvision.plc.pulse_wire). It runs the same `EjectorTimer` as the
in-process mode, switching coils on a Modbus TCP connection of its own, and beats every
`BEAT_S` while its timer thread lives.

Its connection's rules (the box's three-connection link re-stated for one): a failed request
closes it and reports `lost`; each switch-on that did not reach the PLC goes back as
`reached=false` (a missed reject), and so does every one while the connection is down; the
reconnect (with the link's backoff) writes every one of its coils off before anything else and
only then reports `restored`. A failure here does not drop the box's own link: an ejector write
carries no permit, so the permit's certainty does not depend on it, and the lost pushes are
missed rejects with their configured action.

It exits, its coils switched off where its connection allows, on `close`, on EOF (the box's
end of the pipe closed: the box exited, however it died) and when its parent changes (the box
died and the child was re-parented).
"""

from __future__ import annotations

import json
import os
import select
import sys
import threading
import time
from collections.abc import Callable

from plantvision import log
from plantvision.conveyor.actions import FirePlan
from plantvision.conveyor.timer import EjectorTimer
from plantvision.plc import pulse_wire as wire
from plantvision.plc.config import PlcConfig
from plantvision.plc.link import LinkError, ModbusConn
from plantvision.plc.realtime import make_realtime

BEAT_S = 0.05  # the parent's hang bound: plantvision.plc.ejector_process.stale_bound_ns
SWITCH_INTERVAL_S = 0.0002  # the reader thread hands the GIL back to a spinning timer quickly


class CoilConn:
    """The child's own Modbus connection for its ejector coils."""

    def __init__(self, cfg: PlcConfig, coils: dict[str, int], say: Callable[[wire.ToParent], None]):
        self._cfg, self._coils, self._say = cfg, coils, say
        self._conn = ModbusConn(cfg, "ejector-child", self._on_fail)
        self.healthy = False
        self._told_lost = False  # `lost` went to the parent; `restored` follows the heal
        self._backoff_ms = cfg.reconnect_backoff_ms[0]
        self._next_try_ns = 0

    def _on_fail(self) -> None:  # under the connection's lock, at the failing request
        self.healthy = False

    def fire(self, ejector_id: str, on: bool) -> bool:
        """Switch one coil; True once the PLC acknowledged it."""
        with self._conn.lock:
            if not self.healthy:
                return False
            try:
                self._conn.call(self._conn.client.write_coil, self._coils[ejector_id], on)
            except LinkError as exc:
                self._conn.close()
                self.tell_lost(str(exc))
                self._next_try_ns = time.monotonic_ns() + self._backoff_ms * 1_000_000
                return False
        return True

    def heal(self, now_ns: int) -> None:
        """While down: connect (bounded) with backoff, every coil off first, then healthy."""
        if self.healthy or now_ns < self._next_try_ns:
            return
        with self._conn.lock:
            try:
                if not self._conn.connect():
                    raise LinkError("connect failed")
                for address in sorted(set(self._coils.values())):
                    self._conn.call(self._conn.client.write_coil, address, False)
            except LinkError:
                self._conn.close()
                self._backoff_ms = min(self._backoff_ms * 2, self._cfg.reconnect_backoff_ms[1])
                self._next_try_ns = now_ns + self._backoff_ms * 1_000_000
                return
            self.healthy = True
            self._backoff_ms = self._cfg.reconnect_backoff_ms[0]
        if self._told_lost:
            self._told_lost = False
            self._say(wire.Restored())

    def tell_lost(self, cause: str) -> None:
        self._told_lost = True
        self._say(wire.Lost(cause))

    def close(self) -> None:
        with self._conn.lock:
            self.healthy = False
            self._conn.close()


class Reports:
    """The child's stdout, written whole lines at a time from either thread."""

    def __init__(self, fd: int) -> None:
        self._fd, self._lock = fd, threading.Lock()

    def __call__(self, msg: wire.ToParent) -> None:
        line = wire.encode(msg)
        with self._lock:
            os.write(self._fd, line)  # a pipe write of < PIPE_BUF bytes is whole


def serve(cfg_json: bytes, stdin_fd: int, say: Reports) -> int:
    """Run until close, EOF or a new parent; the exit status."""
    spec = json.loads(cfg_json)
    cfg = PlcConfig.model_validate(spec["plc"])
    coils = {str(k): int(v) for k, v in spec["coils"].items()}
    refused = make_realtime(int(spec["rt_priority"])) if spec["rt_priority"] else "not asked"
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    conn = CoilConn(cfg, coils, say)
    conn.heal(time.monotonic_ns())
    timer = EjectorTimer(
        conn.fire,
        lambda plan, t_ns, reached: say(wire.Fired(plan, t_ns, reached)),
        spin_ns=int(spec["spin_ns"]),
    )
    say(wire.Ready(refused))
    if not conn.healthy:
        conn.tell_lost("connect failed")
    parent, lines = os.getppid(), wire.LineBuffer()
    try:
        while timer.alive() and os.getppid() == parent:
            if select.select([stdin_fd], [], [], BEAT_S)[0]:
                data = os.read(stdin_fd, 65536)
                if not data:
                    return 0  # the box closed its end or died
                for line in lines.feed(data):
                    if not _obey(line, timer):
                        return 0
            conn.heal(time.monotonic_ns())
            say(wire.Beat())
        return 1  # the timer thread died, or the box did: the parent sees EOF either way
    finally:
        timer.close()  # coils that are on go off (where the connection allows)
        conn.close()


def _obey(line: bytes, timer: EjectorTimer) -> bool:
    """Carry out one message; False on close."""
    match wire.decode(line):
        case wire.Arm(plan):
            timer.arm(FirePlan(plan.ejector_id, plan.fire_at_ns, plan.pulse_ns, plan.item_id))
        case wire.Cancel(item_id):
            timer.cancel(item_id)
        case wire.Close():
            return False
        case other:
            raise ValueError(f"not a message for the child: {other!r}")
    return True


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m plantvision.plc.ejector_child CONFIG_JSON (started "
                         "by the box's EjectorProcess, never by hand)")  # fmt: skip
    # stdout is the report channel: keep its descriptor, send anything printed to stderr.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    log.configure(json=True)
    return serve(args[0].encode(), sys.stdin.fileno(), Reports(out_fd))


if __name__ == "__main__":
    raise SystemExit(main())
