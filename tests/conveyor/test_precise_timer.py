"""The ejector timer fires each item once, in time order, and never leaves a coil on."""

from __future__ import annotations

import threading
import time

from plantvision.conveyor import FirePlan
from plantvision.conveyor.timer import EjectorTimer, percentiles_us, sleep_until_ns

MS = 1_000_000


class Recorder:
    """Collects coil switches and fired reports; `wait` blocks until `n` switch-ons."""

    def __init__(self) -> None:
        self.switches: list[tuple[str, bool]] = []
        self.fired: list[int] = []
        self._cond = threading.Condition()

    def fire(self, ejector_id: str, on: bool) -> bool:
        with self._cond:
            self.switches.append((ejector_id, on))
            self._cond.notify_all()
        return True

    def on_fired(self, plan: FirePlan, _t_ns: int, _reached: bool) -> None:
        with self._cond:
            self.fired.append(plan.item_id)
            self._cond.notify_all()

    def wait_switches(self, n: int, timeout_s: float = 5.0) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.switches) >= n, timeout_s)


def plan(item_id: int, at_ns: int, ejector: str = "ej1", pulse_ms: float = 2.0) -> FirePlan:
    return FirePlan(ejector, at_ns, int(pulse_ms * MS), item_id)


def test_sleep_until_sleeps_then_spins_to_the_deadline() -> None:
    """The wait is one sleep to spin_ns before the deadline, then polling the clock."""
    now = [0]
    slept: list[float] = []

    def clock() -> int:
        now[0] += 10_000  # each reading advances 10 us
        return now[0]

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += int(s * 1e9)

    out = sleep_until_ns(5 * MS, clock, spin_ns=500_000, sleep=sleep)
    assert slept == [(5 * MS - 10_000 - 500_000) / 1e9]
    assert 5 * MS <= out < 5 * MS + 10_000


def test_sleep_until_a_past_deadline_returns_at_once() -> None:
    """A deadline already past neither sleeps nor spins."""
    slept: list[float] = []
    assert sleep_until_ns(100, lambda: 200, sleep=slept.append) == 200
    assert slept == []


def test_plans_arriving_out_of_order_fire_in_time_order() -> None:
    """Plans armed latest-first switch on earliest-first, each coil on then off."""
    rec = Recorder()
    timer = EjectorTimer(rec.fire, rec.on_fired)
    t0 = time.monotonic_ns() + 30 * MS
    for item, ejector in ((3, "c"), (1, "a"), (2, "b")):
        timer.arm(plan(item, t0 + item * 10 * MS, ejector))
    rec.wait_switches(6)
    timer.close()
    assert rec.fired == [1, 2, 3]
    assert [s for s in rec.switches if s[1]] == [("a", True), ("b", True), ("c", True)]
    assert sorted(rec.switches) == sorted([(e, on) for e in "abc" for on in (True, False)])


def test_retimed_plan_fires_once_and_cancelled_plan_never() -> None:
    """A plan re-sent for the same item replaces it; a cancelled one does not fire."""
    rec = Recorder()
    timer = EjectorTimer(rec.fire, rec.on_fired)
    t0 = time.monotonic_ns() + 30 * MS
    timer.arm(plan(1, t0 + 40 * MS))
    timer.arm(plan(1, t0))  # re-timed earlier
    timer.arm(plan(2, t0 + 5 * MS))
    assert timer.cancel(2)
    timer.arm(plan(3, t0 + 60 * MS))
    rec.wait_switches(4)
    timer.close()
    assert rec.fired == [1, 3]


def test_fired_item_is_never_armed_again() -> None:
    """Once its coil went on, an item's new plan is refused and cancel has nothing to do."""
    rec = Recorder()
    timer = EjectorTimer(rec.fire, rec.on_fired)
    timer.arm(plan(7, time.monotonic_ns()))
    rec.wait_switches(2)
    assert timer.arm(plan(7, time.monotonic_ns() + MS)) is False
    assert timer.cancel(7) is False
    timer.close()
    assert rec.fired == [7]


def test_overlapping_pulses_keep_the_coil_on_until_the_last_ends() -> None:
    """Two items 1 ms apart on one ejector with 20 ms pulses: one on, one off."""
    rec = Recorder()
    timer = EjectorTimer(rec.fire, rec.on_fired)
    t0 = time.monotonic_ns() + 20 * MS
    timer.arm(plan(1, t0, pulse_ms=20))
    timer.arm(plan(2, t0 + MS, pulse_ms=20))
    rec.wait_switches(2)
    timer.close(timeout_s=2.0)
    assert rec.switches == [("ej1", True), ("ej1", False)]
    assert rec.fired == [1, 2]


def test_close_switches_an_active_coil_off() -> None:
    """Closing the timer mid-pulse never leaves the ejector on."""
    rec = Recorder()
    timer = EjectorTimer(rec.fire, rec.on_fired)
    timer.arm(plan(1, time.monotonic_ns(), pulse_ms=10_000))
    rec.wait_switches(1)
    timer.close()
    assert rec.switches == [("ej1", True), ("ej1", False)]


def test_a_failing_output_does_not_stop_later_pulses() -> None:
    """An exception from fire() is logged; the next item still fires."""
    rec = Recorder()
    calls = [0]

    def flaky(ejector_id: str, on: bool) -> bool:
        calls[0] += 1
        if calls[0] == 1:
            raise OSError("coil write failed")
        return rec.fire(ejector_id, on)

    timer = EjectorTimer(flaky, rec.on_fired)
    t0 = time.monotonic_ns() + 10 * MS
    timer.arm(plan(1, t0, "a"))
    timer.arm(plan(2, t0 + 10 * MS, "b"))
    rec.wait_switches(3)
    timer.close()
    assert ("b", True) in rec.switches


def test_percentiles_are_in_microseconds() -> None:
    """Bench figures: median, p99 and max of ns errors, in us."""
    med, p99, mx = percentiles_us([0, 1000, 2000, 3000, 100_000])
    assert (med, mx) == (2.0, 100.0)
    assert 3.0 < p99 <= 100.0
