"""Who watches the threads: every camera thread and every service thread must be alive and
cycling, or the permit goes OFF and the heartbeat stops.

A pure check (`find_problems`) over what the controller's threads report (alive, and the time
each last completed an iteration), run by the controller's own supervisor thread every
`SUPERVISE_PERIOD_MS`. Bounds (noticed within, from the instant a thread stops):
- a dead thread (camera, capture, input poller, ejector timer, heartbeat): one period;
- a stuck camera thread: its expiry bound (see `expiry_ns`) plus one period;
- a stuck input poller: `service_stale_ns` plus one period;
- a stuck shared inference worker (one run longer than the longest expiry bound of the cameras
  it serves): that bound plus one period.
Any problem but a stuck camera (which expires on its own) is fatal: the permit is written OFF
(`thread_stopped`), and every camera it `covers` trips and sees the fault in each cycle for as
long as the problem lasts, so no reset is accepted before it ends.

The heartbeat asks `Controller.liveness()` before each beat, which also fails when the
supervisor itself has not checked for `SUPERVISOR_STALE_NS`: a box that is half alive must look
dead to the PLC.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SUPERVISE_PERIOD_MS = 20
# A supervisor that has not checked for this long (starved, or blocked behind a write bounded
# by the link's timeouts) stops the heartbeat; its death stops it at once. Generous: a starved
# supervisor must not stop the heartbeat of a healthy, merely busy box.
SUPERVISOR_STALE_NS = 500_000_000
SERVICE_STALE_MS = 2000.0  # an input poll: one period plus a few bounded Modbus requests


def expiry_ns(budget_ns: int, stall_ns: int) -> int:
    """How old a camera's last decision may be before it counts as permit OFF.

    A camera thread that is alive and within its budget decides at least every read wait
    (it waits at most `read_wait_ns` for a frame, then decides on none) plus one budget (a frame
    is decided and written within the budget of its capture): so `budget + read wait` never
    expires a healthy camera. It is never longer than `stall_ms`, the bound the deployment
    already declares for a camera that delivers nothing.
    """
    return min(stall_ns, budget_ns + read_wait_ns(budget_ns, stall_ns))


def read_wait_ns(budget_ns: int, stall_ns: int) -> int:
    """The longest a camera thread waits for a frame before it cycles without one."""
    return min(stall_ns, budget_ns) // 4


@dataclass(frozen=True, slots=True)
class Watched:
    """One long-lived thread as the supervisor sees it.

    `last_ns` is when it last completed an iteration (None: not a cycling thread, only its
    being alive is checked); `bound_ns` how long an iteration may take. `camera` is set for a
    camera thread: its contribution expires on its own (fault `decision_expired`). `serves`
    names the cameras a service thread works for alone (a shared inference worker); empty: the
    whole box."""

    name: str
    alive: bool
    last_ns: int | None = None
    bound_ns: int = 0
    camera: bool = False
    serves: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Problem:
    name: str
    kind: str  # "dead" or "stuck"
    camera: bool
    age_ms: float | None = None
    serves: frozenset[str] = frozenset()

    @property
    def key(self) -> tuple[str, str]:
        return self.name, self.kind

    @property
    def fatal(self) -> bool:
        """Anything but a stuck camera, which expires on its own and latches when it is back."""
        return not self.camera or self.kind == "dead"


def covers(problems: Iterable[Problem], cameras: Iterable[str]) -> frozenset[str]:
    """The cameras whose guards trip on these problems: the fatal ones' `serves`, or every
    camera for a thread of the whole box."""
    every = frozenset(cameras)
    tripped: frozenset[str] = frozenset().union(*(p.serves or every for p in problems if p.fatal))
    return tripped & every  # a camera the box does not run is nobody's to trip


def find_problems(watched: Iterable[Watched], now_ns: int) -> list[Problem]:
    """Threads that died, or have not completed an iteration within their bound."""
    problems = []
    for w in watched:
        if not w.alive:
            problems.append(Problem(w.name, "dead", w.camera, serves=w.serves))
        elif w.last_ns is not None and now_ns - w.last_ns > w.bound_ns:
            age_ms = round((now_ns - w.last_ns) / 1e6)
            problems.append(Problem(w.name, "stuck", w.camera, age_ms, w.serves))
    return problems
