"""The rig's own witness of a run: the simulator's belt read every millisecond by a thread.

Its samples give the belt's true travel at any instant of the run (from the simulator, not the
product), and the gaps between them show when the process got no CPU: a thread that sleeps 1 ms
and wakes 300 ms later was held off by the machine (on a loaded 2-core box the rig measured
every thread of the process runnable and not run for that long, /proc schedstat run-queue wait,
and a sampler in another process stalled with them). A missed reject whose item was due at the
ejector inside such a stall is one no software in the process could have pushed; `judge` sorts
the product's missed rejects into those (excused) and the rest.

With the plant in the box's process (the rig's rendered camera, or `RigSpec.plant` "thread"), the
PLC simulator runs there too, so a stall can also hold it off: a box-timed coil write that left
the product on time is then applied late, when the simulator gets the CPU (and the process's GIL)
back. With the ejector timer in a child process of its own (issue 17) the product's switch-on
stays on time through such a stall, and only the simulated PLC is late: `judge` excuses a pulse
that the simulator stamped more than the reach's time after the switch-on, with the witness
seeing the process stalled in between, and the item it was aimed at.

With the plant in a process of its own (network mode's default, simulators.plc.plant_process)
the witness runs there, beside the simulator whose lateness it explains, and a second one in the
box's process (`clock_witness`: it reads only the clock) sees the box's stalls: `judge` takes it
as `box` for the product's missed rejects.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from plantvision.conveyor.actions import MissedReject

ReadBelt = Callable[[], tuple[int, float]]  # (now_ns, belt travel mm), taken together
STARVED = ("late", "fired_late")  # the reasons a process held off the CPU gives


class BeltWitness:
    """Reads `read` every `period_s` in its own thread between `start` and `stop`."""

    def __init__(self, read: ReadBelt, period_s: float = 0.001) -> None:
        self._read, self._period_s = read, period_s
        self._t: list[int] = []
        self._mm: list[float] = []
        self._running = False
        self._thread = threading.Thread(target=self._run, name="rig-witness", daemon=True)

    def start(self) -> None:
        self._running = True
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        self._thread.join(5.0)

    def _run(self) -> None:
        while self._running:
            t_ns, mm = self._read()
            self._t.append(t_ns)
            self._mm.append(mm)
            time.sleep(self._period_s)

    @classmethod
    def recorded(cls, t_ns: Sequence[int], travel_mm: Sequence[float]) -> BeltWitness:
        """A witness from another process's samples (`samples()`), for judging here."""
        witness = cls(lambda: (0, 0.0))
        witness._t, witness._mm = list(t_ns), list(travel_mm)
        return witness

    def samples(self) -> tuple[list[int], list[float]]:
        """(times ns, belt travels mm) read so far (call after `stop`)."""
        return list(self._t), list(self._mm)

    def travel_at(self, t_ns: int) -> float:
        """The belt's travel at `t_ns` (between two samples: linear, as the belt runs)."""
        return float(np.interp(t_ns, self._t, self._mm))

    def stalls(self, min_ns: int) -> list[tuple[int, int]]:
        """Every gap of at least `min_ns` between two samples: (before, after) ns."""
        t = self._t
        return [(a, b) for a, b in itertools.pairwise(t) if b - a >= min_ns]

    def stalled(self, t0_ns: int, t1_ns: int, min_ns: int) -> bool:
        """The process got no CPU for at least `min_ns` at some time in [t0_ns, t1_ns]."""
        t = np.asarray(self._t, np.int64)
        a, b = t[:-1], t[1:]
        return bool(np.any((b - a >= min_ns) & (a <= t1_ns) & (b >= t0_ns)))


def clock_witness() -> BeltWitness:
    """A witness of this process's stalls only: it reads the clock, not a belt (the box's
    process, whose plant runs elsewhere: `travel_at` means nothing on it)."""
    return BeltWitness(lambda: (time.monotonic_ns(), 0.0))


@dataclass(frozen=True)
class Excuses:
    """What a starved process explains: truth items whose missed reject the product counted
    while the process was held off the CPU at their due time, the pulses those late switch-ons
    made (indices into the pulse log), and the product's missed rejects it does not explain."""

    items: frozenset[int] = frozenset()
    pulses: frozenset[int] = frozenset()
    unexplained: tuple[MissedReject, ...] = ()


def judge(
    witness: BeltWitness,
    missed: Sequence[MissedReject],
    fire_log: Sequence[tuple[int, int, int]],
    pulses: Sequence[dict[str, Any]],
    nearest_item: Callable[[float], int],
    reach_ns: int,
    response_ns: int = 0,
    box: BeltWitness | None = None,
) -> Excuses:
    """A missed reject is excused when its reason is one a starved process gives, it says when
    its item was due at the line (`due_ns`), and the witness saw the process stalled for at
    least the reach's time (`reach_ns`) between the due time and the reach's end. Its truth
    item is the one `nearest_item(travel)` finds at the ejector at that time; a `fired_late`
    one's pulse (the first in the log within 100 ms after the switch-on, `fire_log`'s actual
    time) hit nothing or the item behind, and is excused with it. A pulse the simulated PLC
    applied late in a stall (`_plc_held_off`) is excused with the item due at the line one
    actuator response (`response_ns`) after its switch-on. `box`: the box's own process's witness
    when the plant (simulator and `witness`) runs in another process: the product's misses are
    excused by the box's stalls, the simulator's late pulses by the plant's."""
    own = witness if box is None else box
    items: set[int] = set()
    late_on: list[int] = []
    unexplained: list[MissedReject] = []
    on_ns = {item: actual for item, _, actual in fire_log}
    for m in missed:
        due = m.due_ns
        starved = due > 0 and own.stalled(due, due + reach_ns, reach_ns)
        if m.reason not in STARVED or not starved:
            unexplained.append(m)
            continue
        items.add(nearest_item(witness.travel_at(due)))
        if m.reason == "fired_late" and m.item_id in on_ns:
            late_on.append(on_ns[m.item_id])
    excused_pulses = {
        next((i for i, p in enumerate(pulses) if 0 <= p["t_ns"] - t < 100_000_000), -1)
        for t in late_on
    }
    for i, on in _plc_held_off(witness, fire_log, pulses, reach_ns):
        excused_pulses.add(i)
        items.add(nearest_item(witness.travel_at(on + response_ns)))
    return Excuses(frozenset(items), frozenset(excused_pulses - {-1}), tuple(unexplained))


def _plc_held_off(
    witness: BeltWitness,
    fire_log: Sequence[tuple[int, int, int]],
    pulses: Sequence[dict[str, Any]],
    reach_ns: int,
) -> list[tuple[int, int]]:
    """(pulse index, switch-on ns) of each box-timed pulse that binned nothing and that the
    simulator stamped more than `reach_ns` after the latest switch-on within 100 ms before it,
    the process stalled in between: the simulated PLC, not the product, was late."""
    out = []
    for i, p in enumerate(pulses):
        if p.get("mode") != "box" or p.get("binned", True):
            continue
        ons = [a for _, _, a in fire_log if 0 <= p["t_ns"] - a < 100_000_000]
        late = bool(ons) and p["t_ns"] - max(ons) > reach_ns
        if late and witness.stalled(max(ons), p["t_ns"], reach_ns):
            out.append((i, max(ons)))
    return out
