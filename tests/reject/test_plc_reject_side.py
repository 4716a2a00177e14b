"""The PLC simulator's side of rejection: pulses in both timing modes, the FIFO over real
loopback TCP, the bin sensor, a belt whose speed changes at run time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from plantvision.plc.fifo import FifoVerdict
from plantvision.plc.link import PlcLink, PlcOutputs
from simulators.plc import ConveyorSimConfig, EjectorSite, PlcSimulator, SimConfig
from simulators.plc.conveyor import BeltNow, ConveyorModel
from simulators.plc.machine import Machine, MachineParams
from simulators.verify.rejects import false_rejects
from tests.reject.running_belt import running_link
from tests.waiting import wait_for

MS = 1_000_000
SPEED_MM_S = 1000.0
CPM = 10.0


@pytest.fixture
def running() -> Iterator[tuple[PlcSimulator, PlcLink]]:
    """A belt at 1 m/s behind a running machine, and the box's link to it."""
    conv = ConveyorSimConfig(counts_per_mm=CPM, belt_speed_mm_s=SPEED_MM_S, scan_ms=1.0)
    sim = PlcSimulator(SimConfig(conveyor=conv, watchdog_ms=2000, stopping_ms=0))
    yield from running_link(sim)


def test_plc_timed_entries_fire_when_the_encoder_reaches_their_count(
    running: tuple[PlcSimulator, PlcLink],
) -> None:
    """Three verdicts written in one batch fire in count order, each at or just past its count
    (within a few scans), with the belt's true travel at that instant."""
    sim, link = running
    inputs = link.read_inputs()
    assert inputs is not None
    assert inputs.encoder is not None
    targets = [inputs.encoder + n for n in (900, 300, 600)]  # 30-90 ms ahead at 1 m/s
    assert link.write_verdicts([FifoVerdict(0, t) for t in targets])
    assert sim.belt is not None
    assert wait_for(lambda: len(sim.belt.pulses()) == 3)  # type: ignore[union-attr]
    pulses = sim.belt.pulses()
    assert [p["arrival_count"] for p in pulses] == sorted(targets)
    for p in pulses:
        assert p["mode"] == "plc"
        assert 0 <= p["past_counts"] <= 200, p  # at most ~20 ms of scans on a loaded machine
        assert p["belt_mm"] == pytest.approx(p["encoder"] / CPM, abs=0.2)


def test_box_timed_pulses_are_rising_edges_of_the_ejector_coil(
    running: tuple[PlcSimulator, PlcLink],
) -> None:
    """Coil on is a pulse; on again while on is not; off then on is a second pulse."""
    sim, link = running
    assert sim.belt is not None
    link.write(PlcOutputs(permit=True))
    for on in (True, True, False, True, False):
        assert link.write_ejector(0, on)
    pulses = sim.belt.pulses()
    assert [p["mode"] for p in pulses] == ["box", "box"]
    assert pulses[0]["belt_mm"] < pulses[1]["belt_mm"]


def test_the_belt_speed_changes_at_run_time(running: tuple[PlcSimulator, PlcLink]) -> None:
    """After set_belt_speed the encoder counts at the new rate."""
    sim = running[0]
    sim.belt.set_speed(200.0)  # type: ignore[union-attr]
    before = sim.belt.read()  # type: ignore[union-attr]
    assert wait_for(lambda: sim.belt.read()[0] - before[0] > 50 * MS)  # type: ignore[union-attr]
    after = sim.belt.read()  # type: ignore[union-attr]
    speed_mm_s = (after[1] - before[1]) / (after[0] - before[0]) * 1e9
    assert speed_mm_s == pytest.approx(200.0, rel=1e-6)


class OneItem:
    """Item truth: one item, centre at travel - 100 mm, defective."""

    def nearest_item(self, travel_mm: float, x_mm: float) -> tuple[int, float, bool] | None:
        return 7, travel_mm - 100.0, True


def belt_at(t_ns: int, travel_mm: float) -> BeltNow:
    return BeltNow(t_ns, round(travel_mm * CPM), travel_mm, SPEED_MM_S / 1e9)


@pytest.mark.parametrize(
    ("travel_mm", "binned", "error_ms"),
    [(600.0, True, 0.0), (615.0, True, 15.0), (590.0, True, -10.0), (630.0, False, 30.0)],
)
def test_a_pulse_bins_the_item_within_reach_and_logs_its_timing_error(
    travel_mm: float, binned: bool, error_ms: float
) -> None:
    """The pulse's item offset from the ejector (as ms at belt speed) is actual minus ideal;
    within reach the item goes in the bin and the bin sensor rises after bin_delay_ms."""
    cfg = ConveyorSimConfig(
        ejectors=(EjectorSite(x_mm=500.0, reach_mm=20.0),), bin_delay_ms=40, confirm_pulse_ms=30
    )
    model = ConveyorModel(cfg, 0, "big", OneItem())
    model.on_coil(0, True, False, belt_at(0, travel_mm))
    (p,) = model.pulses
    assert (p["item"], p["binned"]) == (7, binned)
    assert p["error_ms"] == pytest.approx(error_ms)
    assert not model.confirm_input(39 * MS)
    assert model.confirm_input(50 * MS) == binned
    assert not model.confirm_input(80 * MS)


def test_an_entry_found_far_past_its_count_is_refused_not_fired() -> None:
    """A verdict that reaches the PLC after its item passed the ejector fires at nothing."""
    cfg = ConveyorSimConfig(late_limit_mm=20.0)
    model = ConveyorModel(cfg, 11, "big")
    model.on_fifo_write(0, [7, 1, 1, 1, 0, 0, 1000, 0, 0, 0, 0])  # epoch 7, entry 1 at 1000
    model.scan(belt_at(0, 130.0))  # 300 counts past
    assert model.pulses == []
    assert model.echo()[3] == 1  # refused, and the echo tells the box


def test_machine_speed_change_keeps_the_travel_continuous() -> None:
    """Travel is continuous across a speed change and grows at the new rate after it."""
    m = Machine(MachineParams(10**9, 0, 10_000.0, 0), 0)
    m.on_heartbeat(1, 0)
    m.press_reset(0)
    m.on_permit(True, 0)
    assert m.press_start(0)
    assert m.position_counts(100 * MS) == pytest.approx(1000.0)
    m.set_counts_per_s(2_000.0, 100 * MS)
    assert m.position_counts(100 * MS) == pytest.approx(1000.0)
    m.on_heartbeat(2, 150 * MS)
    assert m.position_counts(200 * MS) == pytest.approx(1200.0)


def test_a_verdict_that_failed_to_reach_the_plc_is_never_sent_again(
    running: tuple[PlcSimulator, PlcLink],
) -> None:
    """A refused FIFO write drops the link and its verdict counts as missed at the box; the next
    write after the reconnect carries only the new verdict: the PLC takes A and C, never B."""
    sim, link = running
    assert sim.belt is not None
    inputs = link.read_inputs()
    assert inputs is not None
    assert inputs.encoder is not None
    a, b, c = (inputs.encoder + n for n in (40_000, 50_000, 60_000))  # 4-6 s ahead: none fires
    assert link.write_verdicts([FifoVerdict(0, a)])
    sim.set_exception(4)
    assert not link.write_verdicts([FifoVerdict(0, b)])
    sim.set_exception(None)
    assert wait_for(lambda: link.healthy)
    assert link.write_verdicts([FifoVerdict(0, c)])
    taken = [e.arrival_count for e in sim.belt.model.pending] + [
        p["arrival_count"] for p in sim.belt.pulses() if p["mode"] == "plc"
    ]
    assert taken == [a, c]


def test_a_plc_restart_resets_the_encoder_and_forgets_the_fifo(
    running: tuple[PlcSimulator, PlcLink],
) -> None:
    """A restarted PLC counts from 0 again and has no pending entry: an entry written before
    the restart never fires, though the belt keeps its true travel (the items do not jump)."""
    sim, link = running
    inputs = link.read_inputs()
    assert inputs is not None
    assert inputs.encoder is not None
    assert link.write_verdicts([FifoVerdict(0, inputs.encoder + 5000)])  # 500 ms ahead at 1 m/s
    assert sim.belt is not None
    before_mm = sim.belt.belt_mm()
    sim.go_down()
    sim.restart_program()
    sim.come_back()
    assert sim.belt.model.pending == []
    after = sim.machine.encoder(sim.cfg.clock())
    assert after < 1000  # counting from 0 again (0.1 s of coasting at most)
    assert sim.belt.belt_mm() >= before_mm


class Row:
    """Item truth: item k's centre at travel - 50 k mm (one every 50 mm); even k defective."""

    def nearest_item(self, travel_mm: float, x_mm: float) -> tuple[int, float, bool] | None:
        k = round((travel_mm - x_mm) / 50.0)
        return k, travel_mm - 50.0 * k, k % 2 == 0


@pytest.mark.parametrize(
    ("off_at_mm", "swept"),
    [(560.0, [{"item": 1, "defective": False}]), (530.0, [])],
)
def test_the_paddle_sweeps_the_next_item_into_the_bin_while_the_coil_stays_on(
    off_at_mm: float, swept: list[dict[str, object]]
) -> None:
    """Box-timed: the push meets item 0 at the line; held out for 60 mm of belt, the paddle
    also meets good item 1 (its centre reaches the line 50 mm later): a false reject, and the
    bin counter counts it. Held for 30 mm, item 1 is still 10 mm short of the reach."""
    cfg = ConveyorSimConfig(ejectors=(EjectorSite(x_mm=500.0, reach_mm=10.0),))
    model = ConveyorModel(cfg, 0, "big", Row())
    model.on_coil(0, True, False, belt_at(0, 500.0))
    model.on_coil(0, False, True, belt_at(int((off_at_mm - 500.0) * MS), off_at_mm))
    (p,) = model.pulses
    assert (p["item"], p["binned"], p["swept"]) == (0, True, swept)
    assert p["swept_mm"] == pytest.approx(off_at_mm - 500.0)
    assert false_rejects(model.pulses) == [s["item"] for s in swept]
    assert model.bin_counter(0, 10_000 * MS) == 1 + len(swept)


def test_a_plc_timed_pulse_sweeps_for_the_sites_pulse_at_the_speed_of_the_moment() -> None:
    """The PLC holds the coil 60 ms at 1 m/s: 60 mm of belt, so item 1 goes in the bin too."""
    site = EjectorSite(x_mm=100.0, reach_mm=10.0, pulse_ms=60.0)
    model = ConveyorModel(ConveyorSimConfig(ejectors=(site,)), 11, "big", Row())
    model.on_fifo_write(0, [7, 1, 1, 1, 0, 0, 1000, 0, 0, 0, 0])  # entry 1 fires at 1000 (100 mm)
    model.scan(belt_at(0, 100.0))
    (p,) = model.pulses
    assert (p["item"], p["swept"], p["pulse_ms"]) == (0, [{"item": 1, "defective": False}], 60.0)
