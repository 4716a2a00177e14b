"""Box-timed ejector pulses: sleep most of the wait, spin the last fraction of a millisecond.

No I/O here: `EjectorTimer` calls `fire(ejector_id, on)` and the caller drives the coil. The OS
wakes a sleeping thread late by tens to hundreds of microseconds, so `sleep_until_ns` sleeps
until `spin_ns` before the deadline and busy-waits the rest. `python -m plantvision.conveyor.timer`
measures the error (actual minus ideal) on this machine.
"""

from __future__ import annotations

import argparse
import heapq
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np

from plantvision import log
from plantvision.conveyor.actions import FirePlan

Clock = Callable[[], int]
Fire = Callable[[str, bool], bool]  # (ejector id, on) -> the coil write reached the PLC
OnFired = Callable[[FirePlan, int, bool], None]  # (plan carried out, switch-on ns, reached)
DEFAULT_SPIN_NS = 500_000  # above typical Linux sleep overshoot, short enough to waste little CPU


def sleep_until_ns(
    deadline_ns: int,
    clock: Clock = time.monotonic_ns,
    spin_ns: int = DEFAULT_SPIN_NS,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Return at `deadline_ns` (clock units, ns) or just after; returns the clock at return."""
    now = clock()
    if deadline_ns - now > spin_ns:
        sleep((deadline_ns - now - spin_ns) / 1e9)
        now = clock()
    while now < deadline_ns:
        now = clock()
    return now


class EjectorTimer:
    """A thread that switches ejector coils on at each plan's `fire_at_ns` and off `pulse_ns`
    after the actual switch-on.

    Plans may arrive in any order; a plan for an item already armed replaces it; `cancel`
    withdraws it. An item whose coil went on is never fired again. Overlapping pulses on one
    ejector keep its coil on until the last one ends. `fire(ejector_id, on)` returns whether the
    coil write reached the PLC (an exception counts as not). `on_fired(plan, t_ns, reached)`
    reports each switch-on (the plan it carried out, at `t_ns`) from the timer thread, `reached`
    False when the coil never got to the PLC (link down): the loop queues it and calls
    `RejectScheduler.report_fired` (or `report_lost`) from its own thread, which judges the
    push at `t_ns` by where the belt was then (a starved thread switches on late; a belt that
    stopped after the plan leaves the item short). `close()` switches every coil off.
    """

    def __init__(
        self,
        fire: Callable[[str, bool], bool],
        on_fired: Callable[[FirePlan, int, bool], None] | None = None,
        clock: Clock = time.monotonic_ns,
        spin_ns: int = DEFAULT_SPIN_NS,
    ) -> None:
        self._fire, self._on_fired, self._clock, self._spin_ns = fire, on_fired, clock, spin_ns
        self._cond = threading.Condition()
        # (t_ns, seq, item_id, generation, on, ejector_id, pulse_ns); a switch-on whose
        # generation is no longer armed was cancelled or re-timed and is skipped when reached.
        self._heap: list[tuple[int, int, int, int, bool, str, int]] = []
        self._seq = 0
        self._armed: dict[int, tuple[int, FirePlan]] = {}  # item_id -> (generation, plan)
        self._fired: deque[int] = deque(maxlen=4096)
        self._active: dict[str, int] = {}  # ejector -> pulses now on
        self._coil_reached: dict[str, bool] = {}  # ejector -> its last switch-on reached the PLC
        self.on_errors_ns: deque[int] = deque(maxlen=100_000)
        self._running = True
        self._log = log.get(room="ejector_timer")
        self._thread = threading.Thread(target=self._run, name="ejector-timer", daemon=True)
        self._thread.start()

    def arm(self, plan: FirePlan) -> bool:
        """Arm or re-time `plan`; False when its item has already fired."""
        with self._cond:
            if plan.item_id in self._fired:
                self._log.warning("reject_rearm_refused", item_id=plan.item_id)
                return False
            gen = self._armed.get(plan.item_id, (0, plan))[0] + 1
            self._armed[plan.item_id] = (gen, plan)
            self._push(plan.fire_at_ns, plan.item_id, gen, True, plan)
            self._cond.notify()
            return True

    def cancel(self, item_id: int) -> bool:
        """Withdraw an armed plan; False when none was armed (or it already fired)."""
        with self._cond:
            return self._armed.pop(item_id, None) is not None

    def close(self, timeout_s: float = 1.0) -> None:
        """Stop the thread; coils that are on are switched off."""
        with self._cond:
            self._running = False
            self._cond.notify()
        self._thread.join(timeout_s)

    def _push(self, t_ns: int, item_id: int, gen: int, on: bool, plan: FirePlan) -> None:
        self._seq += 1
        entry = (t_ns, self._seq, item_id, gen, on, plan.ejector_id, plan.pulse_ns)
        heapq.heappush(self._heap, entry)

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    due = self._next_due()
                    if due is None:
                        break
                self._execute(*due)
        finally:
            for ejector_id, n in list(self._active.items()):
                if n > 0:
                    self._safe_fire(ejector_id, False)

    def _next_due(self) -> tuple[int, FirePlan, bool] | None:
        """Under the lock: wait until the earliest live event is within spin range."""
        while self._running:
            if not self._heap:
                self._cond.wait()
                continue
            t_ns, _, item_id, gen, on, ejector_id, pulse_ns = self._heap[0]
            entry = self._armed.get(item_id)
            if on and (entry is None or entry[0] != gen):
                heapq.heappop(self._heap)  # cancelled or re-timed
                continue
            wait_ns = t_ns - self._clock()
            if wait_ns > self._spin_ns:
                self._cond.wait((wait_ns - self._spin_ns) / 1e9)
                continue  # an earlier plan may have arrived meanwhile
            heapq.heappop(self._heap)
            if on:
                self._fired.append(item_id)
                del self._armed[item_id]  # from now on neither cancel nor re-arm applies
            return t_ns, FirePlan(ejector_id, t_ns, pulse_ns, item_id), on
        return None

    def _execute(self, t_ns: int, plan: FirePlan, on: bool) -> None:
        """Outside the lock, so arm() never waits on a spin."""
        actual_ns = sleep_until_ns(t_ns, self._clock, self._spin_ns)
        eid = plan.ejector_id
        before = self._active.get(eid, 0)
        self._active[eid] = before + (1 if on else -1)
        if on:
            self.on_errors_ns.append(actual_ns - t_ns)
            if before == 0:  # else the coil is on already, for an overlapping pulse
                self._coil_reached[eid] = self._safe_fire(eid, True)
            with self._cond:
                self._push(actual_ns + plan.pulse_ns, plan.item_id, 0, False, plan)
            if self._on_fired is not None:
                self._on_fired(plan, actual_ns, self._coil_reached.get(eid, False))
        elif before == 1:
            self._safe_fire(eid, False)

    def alive(self) -> bool:
        """The timer thread runs (until close)."""
        return self._thread.is_alive()

    def _safe_fire(self, ejector_id: str, on: bool) -> bool:
        try:
            return bool(self._fire(ejector_id, on))
        except Exception as exc:  # the timer must survive a failing output for other items
            self._log.error("ejector_fire_failed", ejector=ejector_id, on=on, error=repr(exc))
            return False


class PulseTimer(Protocol):
    """What the reject runtime drives: `EjectorTimer` (a thread here) or the link's
    `EjectorProcess` (a child process with its own connection: plantvision.plc)."""

    on_errors_ns: deque[int]  # switch-on minus planned, ns

    def arm(self, plan: FirePlan) -> bool: ...

    def cancel(self, item_id: int) -> bool: ...

    def close(self, timeout_s: float = 1.0) -> None: ...

    def alive(self) -> bool: ...


class PulseTimers(Protocol):
    """Makes the pulse timer for ejectors `outputs` (ejector id -> PLC ejector index): coils
    switched through `fire` (or a connection of the timer's own), switch-ons reported to
    `on_fired`, spinning the last `spin_ns` before each."""

    def __call__(
        self, outputs: Mapping[str, int], fire: Fire, on_fired: OnFired, spin_ns: int
    ) -> PulseTimer: ...


def thread_timer(
    outputs: Mapping[str, int], fire: Fire, on_fired: OnFired, spin_ns: int
) -> EjectorTimer:
    """`PulseTimers` for a timer thread in this process (links without a child of their own)."""
    return EjectorTimer(fire, on_fired, spin_ns=spin_ns)


def percentiles_us(errors_ns: Sequence[int]) -> tuple[float, float, float]:
    """(median, p99, max) of timing errors, in microseconds."""
    arr = np.asarray(errors_ns, np.float64) / 1e3
    return float(np.median(arr)), float(np.percentile(arr, 99)), float(arr.max())


def bench(n: int, spacing_ms: float, spin_us: float) -> tuple[float, float, float]:
    """Arm `n` plans, out of order, `spacing_ms` apart; return their on-errors (us)."""
    done = threading.Event()
    count = [0]

    def on_fired(_plan: FirePlan, _t: int, _reached: bool) -> None:
        count[0] += 1
        if count[0] == n:
            done.set()

    timer = EjectorTimer(lambda _e, _on: True, on_fired, spin_ns=int(spin_us * 1e3))
    start = time.monotonic_ns() + 20_000_000
    order = np.random.default_rng(0).permutation(n)
    for i in order.tolist():
        timer.arm(FirePlan("bench", start + int(i * spacing_ms * 1e6), 1_000_000, i))
    done.wait(n * spacing_ms / 1e3 + 5.0)
    timer.close()
    return percentiles_us(list(timer.on_errors_ns))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m plantvision.conveyor.timer",
        description="Measure ejector timing error (actual minus ideal switch-on), microseconds.",
    )
    parser.add_argument("--n", type=int, default=300, help="pulses per run")
    parser.add_argument("--spacing-ms", type=float, default=3.0, help="time between pulses")
    parser.add_argument("--spin-us", type=float, nargs="+", default=[0.0, 500.0, 2000.0])
    args = parser.parse_args(argv)
    print(f"{'spin_us':>8} {'median_us':>10} {'p99_us':>10} {'max_us':>10}  (n={args.n})")
    for spin in args.spin_us:
        med, p99, mx = bench(args.n, args.spacing_ms, spin)
        print(f"{spin:8.0f} {med:10.1f} {p99:10.1f} {mx:10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
