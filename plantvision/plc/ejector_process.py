"""The box's side of the ejector child (plantvision.plc.ejector_child): same interface to the
reject runtime as the in-process `EjectorTimer` (arm, cancel, close, alive, `on_fired`,
`on_errors_ns`), so the scheduler and its judgement do not change.

Plans go down the child's stdin, reports come up its stdout (plantvision.plc.pulse_wire); a
reader thread here hands each switch-on to `on_fired(plan, t_ns, reached)` as the timer thread
did. The pipe to the child is non-blocking: a camera thread arming a plan never waits on it.

Faults end in the safe state, logged and counted, never silent:
- the child dies (killed, crashed, its timer thread dead) or hangs (no beat for `STALE_NS` plus
  its longest reconnect, `stale_bound_ns`: it is then killed): `alive()` turns False at once,
  so the loop's supervisor trips the permit (thread_stopped) as it does for a dead timer
  thread; every ejector coil of this runtime is written off through the box's own link
  (`fire`, the link's ejector connection: a coil the child left on goes off); every plan armed
  and not reported becomes a switch-on with `reached=False` (a missed reject with its action),
  and so does every plan armed after;
- a full or broken pipe is a hung or dead child: killed, as above;
- the box exits however it dies: the child sees EOF on its stdin (or a new parent) and exits,
  switching its coils off on its own connection.
One switch-on the child sent just before it died may still be on the wire and land after the
box's off write (the link's "a timed-out write may be applied later"); the PLC program's
pulse limit bounds it (README, "### Ejectors").
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

from plantvision import log
from plantvision.conveyor.actions import FirePlan
from plantvision.plc import pulse_wire as wire
from plantvision.plc.config import PlcConfig
from plantvision.plc.realtime import FIX, RT_PRIORITY

STALE_NS = 1_000_000_000  # no beat (every 50 ms) for this long, past a reconnect: it hangs
START_NS = 20_000_000_000  # ... before its first report: a loaded box imports slowly
POLL_S = 0.05


def stale_bound_ns(plc: PlcConfig, n_coils: int) -> int:
    """How long a live child may go without a beat: `STALE_NS`, plus its reconnect (one connect
    and a coil-off write per coil) and one switch in flight, each at their timeouts: the child
    beats from the thread that heals, which waits for the connection the timer may hold."""
    write_ms = plc.request_timeout_ms * (1 + plc.retries)
    return STALE_NS + int((plc.connect_timeout_ms + (n_coils + 1) * write_ms) * 1e6)


class EjectorProcess:
    """Times box-timed pulses in a child process with its own Modbus connection.

    `coils`: ejector id -> coil address; `fire(ejector_id, on)`: the box's own coil write, used
    only to switch coils off after the child died."""

    def __init__(
        self,
        plc: PlcConfig,
        coils: Mapping[str, int],
        fire: Callable[[str, bool], bool],
        on_fired: Callable[[FirePlan, int, bool], None],
        spin_ns: int,
        rt_priority: int = RT_PRIORITY,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._fire, self._on_fired, self._clock = fire, on_fired, clock
        self._ejectors = sorted(coils)
        self._log = log.get(room="ejector_child")
        self._lock = threading.Lock()
        self._armed: dict[int, FirePlan] = {}  # sent, not yet reported
        self._fired: deque[int] = deque(maxlen=4096)
        self._dead = self._closing = False
        self.on_errors_ns: deque[int] = deque(maxlen=100_000)
        self.deaths = 0  # the child died or hung (at most once: it is not restarted)
        spec = {"plc": plc.model_dump(mode="json"), "coils": dict(coils), "spin_ns": spin_ns,
                "rt_priority": rt_priority}  # fmt: skip
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "plantvision.plc.ejector_child", json.dumps(spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0,
        )  # fmt: skip
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._in_fd, self._out_fd = self._proc.stdin.fileno(), self._proc.stdout.fileno()
        fl = fcntl.fcntl(self._in_fd, fcntl.F_GETFL)
        fcntl.fcntl(self._in_fd, fcntl.F_SETFL, fl | os.O_NONBLOCK)
        self._seen_ns, self._ready = clock(), False
        self._settled = threading.Event()  # ready, or gone
        self._stale_ns = stale_bound_ns(plc, len(set(coils.values())))
        self._reader = threading.Thread(target=self._read, name="ejector-child", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def ready(self) -> bool:
        """The child has started its timer and said at which priority."""
        return self._ready

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait until the child is ready (a plan armed before waits in the pipe meanwhile and
        fires late); False when it is not by `timeout_s` (logged) or died."""
        self._settled.wait(timeout_s)
        if not self._ready:
            with contextlib.suppress(Exception):
                self._log.warning("ejector_child_not_ready", waited_s=timeout_s, pid=self.pid)
        return self._ready

    def arm(self, plan: FirePlan) -> bool:
        """Arm or re-time `plan`; False when its item has already fired."""
        with self._lock:
            if plan.item_id in self._fired:
                if not self._dead:  # after the death: already reported not reached, once
                    self._log.warning("reject_rearm_refused", item_id=plan.item_id)
                return False
            if not self._dead:
                self._armed[plan.item_id] = plan
                self._send(wire.Arm(plan))
                return True
            self._fired.append(plan.item_id)
        self._on_fired(plan, self._clock(), False)  # no child: nothing will push it
        return True

    def cancel(self, item_id: int) -> bool:
        """Withdraw an armed plan; False when none was armed (or it already fired)."""
        with self._lock:
            if self._armed.pop(item_id, None) is None:
                return False
            if not self._dead:
                self._send(wire.Cancel(item_id))
            return True

    def close(self, timeout_s: float = 1.0) -> None:
        """Stop the child; its coils that are on go off."""
        with self._lock:
            self._closing = True
            if not self._dead:
                self._send(wire.Close())
        try:
            self._proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        self._reader.join(timeout_s + 1.0)

    def alive(self) -> bool:
        """The child runs, beats, and its reader here reads (until close)."""
        bound = self._stale_ns if self._ready else START_NS
        return (
            not self._dead
            and self._reader.is_alive()
            and self._proc.poll() is None
            and self._clock() - self._seen_ns <= bound
        )

    def _send(self, msg: wire.ToChild) -> None:
        """Under the lock. A pipe that is full (the child stopped reading) or broken: dead."""
        try:
            os.write(self._in_fd, wire.encode(msg))
        except (BlockingIOError, BrokenPipeError, OSError) as exc:
            self._kill("pipe_" + type(exc).__name__)

    def _kill(self, cause: str) -> None:
        if self._proc.poll() is None and not self._closing:
            with contextlib.suppress(Exception):
                self._log.error("ejector_child_killed", cause=cause, pid=self._proc.pid)
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()

    def _read(self) -> None:
        lines = wire.LineBuffer()
        try:
            while True:
                if select.select([self._out_fd], [], [], POLL_S)[0]:
                    data = os.read(self._out_fd, 65536)
                    if not data:
                        break  # the child exited (or closed its stdout)
                    for line in lines.feed(data):
                        self._take(wire.decode(line))
                bound = self._stale_ns if self._ready else START_NS
                if not self._closing and self._clock() - self._seen_ns > bound:
                    self._kill("no_beat")
        except (wire.WireError, OSError) as exc:
            self._kill(f"unreadable: {exc}")
        finally:
            self._ended()

    def _take(self, msg: object) -> None:
        self._seen_ns = self._clock()
        match msg:
            case wire.Fired(plan, t_ns, reached):
                with self._lock:
                    self._armed.pop(plan.item_id, None)
                    self._fired.append(plan.item_id)
                self.on_errors_ns.append(t_ns - plan.fire_at_ns)
                self._on_fired(plan, t_ns, reached)
            case wire.Beat():
                pass
            case wire.Ready(refused):
                self._ready = True
                self._settled.set()
                if refused is None:
                    self._log.info("ejector_timer_realtime", policy="SCHED_FIFO", pid=self.pid)
                else:
                    self._log.warning("ejector_timer_realtime_refused", error=refused, fix=FIX)
            case wire.Lost(cause):
                self._log.warning("ejector_link_lost", cause=cause)
            case wire.Restored():
                self._log.info("ejector_link_restored")
            case _:
                raise wire.WireError(f"not a report: {msg!r}")

    def _ended(self) -> None:
        """The child is gone (or about to be): reap it; unless closed on purpose, coils off
        through the box's link, then every plan not reported is a missed push."""
        self._settled.set()
        with self._lock:  # _send writes only while not dead: the descriptor is not reused
            self._dead = True
            orphans, self._armed = list(self._armed.values()), {}
            self._fired.extend(p.item_id for p in orphans)  # a re-arm is not a second miss
            closing = self._closing
            for pipe in (self._proc.stdin, self._proc.stdout):
                with contextlib.suppress(OSError):
                    pipe.close()  # type: ignore[union-attr]
        try:  # EOF is the child's exit; a closing child may still switch its coils off
            code = self._proc.wait(1.0 if closing else 0.05)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            code = self._proc.wait()
        if closing and code == 0:
            return
        off = {e: self._safe_off(e) for e in self._ejectors}
        for plan in orphans:
            self._on_fired(plan, self._clock(), False)
        if not closing:
            self.deaths += 1
        with contextlib.suppress(Exception):
            self._log.error("ejector_child_died", returncode=code, pending=len(orphans),
                            coils_off=off, closing=closing)  # fmt: skip

    def _safe_off(self, ejector_id: str) -> bool:
        try:
            return bool(self._fire(ejector_id, False))
        except Exception:  # the box's link failing must not stop the others going off
            return False
