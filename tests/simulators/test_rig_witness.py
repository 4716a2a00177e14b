"""The rig's witness: it sees a process held off the CPU, and excuses only the missed rejects
whose item was due inside such a stall, for a reason a starved process gives."""

from __future__ import annotations

import time

from plantvision.conveyor.actions import MissedReject
from simulators.plc.witness import BeltWitness, judge
from tests.reject.test_timer_starved import _hold_the_interpreter_until

MS = 1_000_000


def _belt() -> tuple[int, float]:
    t = time.monotonic_ns()
    return t, t / 1e6  # 1 m/s: 1 mm per ms


def _witnessed_stall(margin_s: float) -> tuple[BeltWitness, int]:
    """A witness that ran `margin_s` before and after an 80 ms stall of every other thread
    beginning at the returned instant."""
    witness = BeltWitness(_belt)
    witness.start()
    time.sleep(margin_s)
    t0 = time.monotonic_ns()
    _hold_the_interpreter_until(t0 + 80 * MS)
    time.sleep(margin_s)
    witness.stop()
    return witness, t0


def test_the_witness_sees_a_stall_and_excuses_only_misses_due_inside_it() -> None:
    """The witness reads the belt; the test holds every other thread off for 80 ms. A `late`
    miss due in that stall is excused (its truth item found at the belt's travel then); one due
    30 ms before it, a `late` without a due time, and a link loss in the stall are not."""
    witness, t0 = _witnessed_stall(0.05)
    in_stall, before = t0 + 30 * MS, t0 - 30 * MS
    assert witness.stalled(in_stall, in_stall + 20 * MS, 20 * MS)
    assert not witness.stalled(before, before + 20 * MS, 20 * MS)
    assert abs(witness.travel_at(in_stall) - in_stall / 1e6) < 1.0
    missed = [
        MissedReject(1, "k", "late", 5.0, in_stall),
        MissedReject(2, "k", "late", 5.0, before),
        MissedReject(3, "k", "late", 5.0),
        MissedReject(4, "k", "coil_not_written", 0.0, in_stall),
    ]
    excuses = judge(witness, missed, [], [], lambda mm: round(mm), 20 * MS)
    assert excuses.items == {round(witness.travel_at(in_stall))}
    assert [m.item_id for m in excuses.unexplained] == [2, 3, 4]


def test_a_fired_late_miss_excuses_the_pulse_its_late_switch_on_made() -> None:
    """The late switch-on's pulse (the first in the log within 100 ms after the timer's stamp)
    is excused with its miss; another pulse is not."""
    witness, t0 = _witnessed_stall(0.02)
    due = t0 + 30 * MS
    missed = [MissedReject(7, "k", "fired_late", 50.0, due)]
    fire_log = [(7, due - 5 * MS, t0 + 81 * MS)]
    pulses = [{"t_ns": t0 - 100 * MS}, {"t_ns": t0 + 83 * MS}, {"t_ns": t0 + 300 * MS}]
    excuses = judge(witness, missed, fire_log, pulses, lambda mm: round(mm), 20 * MS)
    assert (excuses.pulses, excuses.unexplained) == ({1}, ())


def test_a_pulse_the_simulated_plc_applied_late_in_a_stall_is_excused_with_its_item() -> None:
    """The product switched on in time, the simulator (in the same process) stamped the coil
    80 ms later across a stall, and the push binned nothing: that pulse and the item due at
    the line one actuator response after the switch-on are excused. The same lateness without
    a stall, or a pulse that binned its item, is not."""
    witness, t0 = _witnessed_stall(0.05)
    on_in, on_out = t0 - 2 * MS, t0 - 70 * MS  # the second: stamped 45 ms late, no stall
    fire_log = [(7, on_in, on_in), (8, on_out, on_out)]
    pulses = [{"t_ns": t0 + 78 * MS, "mode": "box", "binned": False},
              {"t_ns": t0 - 25 * MS, "mode": "box", "binned": False},
              {"t_ns": t0 + 79 * MS, "mode": "box", "binned": True}]  # fmt: skip
    excuses = judge(witness, [], fire_log, pulses, lambda mm: round(mm), 20 * MS, 10 * MS)
    assert excuses.pulses == {0}
    assert excuses.items == {round(witness.travel_at(on_in + 10 * MS))}


def _samples(stall_from_ns: int | None) -> BeltWitness:
    """1 ms samples over 0..300 ms of a 1 m/s belt, with a 60 ms gap from `stall_from_ns`."""
    t = [i * MS for i in range(301)]
    if stall_from_ns is not None:
        t = [x for x in t if not stall_from_ns < x < stall_from_ns + 60 * MS]
    return BeltWitness.recorded(t, [x / 1e6 for x in t])


def test_with_the_plant_apart_each_process_excuses_only_its_own_lateness() -> None:
    """The plant (simulator, its witness) in a process of its own: a `late` miss is excused
    only by a stall the box's own witness saw, and a pulse the simulator stamped late only by a
    stall of the plant's; a stall of the other process excuses neither."""
    due = 120 * MS
    miss = [MissedReject(1, "k", "late", 5.0, due)]
    on = 98 * MS  # switched on in time; the simulator stamped it 80 ms later, binning nothing
    fire_log, pulses = [(2, on, on)], [{"t_ns": on + 80 * MS, "mode": "box", "binned": False}]
    box_stalled, plant_stalled = _samples(100 * MS), _samples(100 * MS)
    quiet_box, quiet_plant = _samples(None), _samples(None)

    def run(plant: BeltWitness, box: BeltWitness) -> tuple[set[int], set[int]]:
        excuses = judge(plant, miss, fire_log, pulses, lambda mm: round(mm), 20 * MS, 0, box)
        return {m.item_id for m in excuses.unexplained}, set(excuses.pulses)

    assert run(quiet_plant, box_stalled) == (set(), set())
    assert run(plant_stalled, quiet_box) == ({1}, {0})
    assert run(quiet_plant, quiet_box) == ({1}, set())
