"""Latencies of the cell's three clocks-to-belt links, each configured per site and used where
items are placed and fire times are led (issue 15, item 4):

- capture: a frame shows the belt as it was `source.capture_latency_ms` before its stamp (an
  RTSP camera's frame is stamped when grab() returns, ~80 ms after exposure);
- encoder: the PLC's encoder count is `belt.encoder.latency_ms` older than its read's midpoint
  (a PLC scan, an encoder card's update cycle);
- output: the coil is energised `ejectors[].output_latency_ms` after the fire decision (the
  write, the PLC's scan, the output card), before the actuator's own response: box mode fires
  earlier by it, PLC mode leads its fire count by the travel it takes.

The belt runs at 500 mm/s (0.5 mm per ms); 1 px = 1 mm; the ejector is 1000 mm downstream with
a 20 ms actuator response (tests.conveyor.helpers.make_cfg).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from plantvision.conveyor import (
    COUNT_MODULUS,
    Belt,
    BeltModel,
    EjectorModel,
    EncoderModel,
    RejectScheduler,
)
from plantvision.errors import ConfigError
from plantvision.loop.deployment import SourceModel, load_deployment
from tests.conveyor.helpers import FRAME_H, FRAME_W, MS, FakeTimer, encoder_cfg, frame, make_cfg

REPO = Path(__file__).resolve().parents[2]
EJECTOR: dict[str, Any] = {
    "id": "ej1",
    "position_mm": 1000.0,
    "actuator_response_ms": 20.0,
    "pulse_ms": 30.0,
}


def fired_at(sched: RejectScheduler, until_ns: int) -> list[int]:
    """Step 10 ms cycles (fixed-speed belt) from 0 to `until_ns`; the fire times the timer
    carried out."""
    timer = FakeTimer(sched)
    fires: list[int] = []
    for t in range(0, until_ns, 10 * MS):
        timer.run_until(t)
        timer.apply(sched.update(t, None))
    for times in timer.fired.values():
        fires += times
    return fires


# --- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "base", "field"),
    [
        (SourceModel, {"kind": "video", "uri": "a.mp4"}, "capture_latency_ms"),
        (EncoderModel, {"signal": "enc", "counts_per_mm": 10.0}, "latency_ms"),
        (EjectorModel, EJECTOR, "output_latency_ms"),
    ],
)
def test_each_latency_defaults_to_zero_and_refuses_negative_or_absurd_values(
    model: Any, base: dict[str, Any], field: str
) -> None:
    """Unset, a latency is 0 (existing deployments behave as before); it is a measured delay,
    so it is never negative, and seconds of it are a fault to fix, not a latency to lead."""
    assert getattr(model.model_validate(base), field) == 0.0
    assert getattr(model.model_validate(base | {field: 80.0}), field) == 80.0
    assert model.model_fields[field].description
    for bad in (-1.0, 5000.0):
        with pytest.raises(ValidationError, match=field):
            model.model_validate(base | {field: bad})


# --- capture latency ----------------------------------------------------------------------


@pytest.mark.parametrize(("latency_ms", "fire_ms"), [(0.0, 1860), (80.0, 1780)])
def test_a_frame_places_its_items_where_the_belt_was_at_exposure(
    latency_ms: float, fire_ms: int
) -> None:
    """A frame stamped at 80 ms shows a defect at 100 mm. With capture_latency_ms 80 it was
    exposed at 0 ms (belt travel 0): the item reaches the 1000 mm ejector at 1800 ms and fires
    20 ms (the actuator) before. Taken at its stamp (travel 40 mm) it would fire at 1860 ms,
    80 ms (40 mm) late."""
    sched = RejectScheduler(make_cfg(), capture_latency_ms=latency_ms)
    sched.update(0, None)
    sched.observe(80 * MS, 80 * MS, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    assert fired_at(sched, 2000 * MS) == [fire_ms * MS]


def test_capture_latency_moves_a_plc_verdict_by_the_travel_during_it() -> None:
    """PLC-timed: the arrival count of an item seen in a frame exposed 80 ms before its stamp
    is 40 mm (400 counts) of travel earlier than the stamp alone would give."""
    counts = {}
    for latency_ms in (0.0, 80.0):
        sched = RejectScheduler(encoder_cfg(timing_mode="plc"), capture_latency_ms=latency_ms)
        for t in range(0, 90 * MS, 10 * MS):
            sched.update(t, round(t / MS * 0.5 * 10))
        sched.observe(80 * MS, 80 * MS, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
        (verdict,) = sched.update(90 * MS, 450).verdicts
        counts[latency_ms] = verdict.arrival_count
    # Stamp alone: travel 40 mm at 80 ms, arrival at 40 + 900 mm = 940 mm.
    assert counts == {0.0: 9400, 80.0: 9000}


# --- encoder latency ----------------------------------------------------------------------


def lagging_count(t_ns: int, lag_ms: float, raw0: int = 0) -> int:
    """What a read at `t_ns` returns when the PLC's count is `lag_ms` old (0.5 mm/ms, 10/mm)."""
    travel_mm = max(t_ns / MS - lag_ms, 0.0) * 0.5
    return (raw0 + round(travel_mm * 10)) % COUNT_MODULUS


@pytest.mark.parametrize("lag_ms", [0.0, 20.0])
def test_the_belt_dates_each_encoder_reading_back_by_its_latency(lag_ms: float) -> None:
    """Readings stamped at their read, with counts `lag_ms` old: a belt told the latency gives
    the true travel at any instant (interpolated and extrapolated), one not told it lags."""
    enc = {"signal": "enc", "counts_per_mm": 10.0, "speed_window_ms": 30, "latency_ms": lag_ms}
    belt = Belt(BeltModel.model_validate({"encoder": enc}))
    for t in range(100 * MS, 300 * MS, 10 * MS):
        belt.sample(t, lagging_count(t, 20.0))
    # Travel counts from the first reading, the belt's state at 80 ms (40 mm): the truth at
    # t is 0.5 mm/ms x t - 40 mm; a 20 ms lag not configured reads 10 mm short.
    short_mm = 10.0 if lag_ms == 0 else 0.0
    assert belt.position_mm(250 * MS) == pytest.approx(125.0 - 40.0 - short_mm)
    assert belt.position_mm(400 * MS) == pytest.approx(200.0 - 40.0 - short_mm)


def test_encoder_latency_keeps_the_plc_arrival_count_on_the_item() -> None:
    """PLC-timed, a 20 ms old count: the box told the latency writes the count at which the
    item really is at the ejector line (as with a fresh count); one not told it writes a count
    10 mm early, an item pushed off-centre."""
    verdicts = {}
    for lag_ms in (0.0, 20.0):
        enc = {"signal": "enc", "counts_per_mm": 10.0, "speed_window_ms": 30, "latency_ms": lag_ms}
        sched = RejectScheduler(make_cfg(belt={"encoder": enc}, timing_mode="plc"))
        for t in range(100 * MS, 200 * MS, 10 * MS):
            sched.update(t, lagging_count(t, 20.0))
        sched.observe(200 * MS, 200 * MS, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
        (v,) = sched.update(200 * MS, lagging_count(200 * MS, 20.0)).verdicts
        verdicts[lag_ms] = v.arrival_count
    # truth at 200 ms: travel 100 mm; item at 100 mm reaches 1000 mm at travel 1000 mm:
    # count 10000 (the PLC's own count, 20 ms old, then leads by its latency's travel too).
    assert verdicts == {0.0: 9900, 20.0: 10000}


# --- output latency -----------------------------------------------------------------------


def test_box_mode_fires_earlier_by_the_output_latency() -> None:
    """Arrival at 1800 ms; the actuator takes 20 ms and the coil write 15 ms more to move it:
    the timer writes the coil at 1765 ms."""
    ejector = EJECTOR | {"output_latency_ms": 15.0}
    sched = RejectScheduler(make_cfg(ejectors=[ejector]))
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    assert fired_at(sched, 2000 * MS) == [1765 * MS]


def test_plc_mode_hands_the_plc_the_output_latency_as_lead() -> None:
    """PLC-timed: the verdict carries the arrival count and the lead, actuator response plus
    output latency (20 + 15 ms); the PLC turns it into counts at its own speed every scan."""
    ejector = EJECTOR | {"output_latency_ms": 15.0}
    raw0 = COUNT_MODULUS - 100
    sched = RejectScheduler(encoder_cfg(timing_mode="plc", ejectors=[ejector]))
    for t in range(0, 110 * MS, 10 * MS):
        sched.update(t, lagging_count(t, 0.0, raw0))
    sched.observe(100 * MS, 100 * MS, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    (v,) = sched.update(100 * MS, lagging_count(100 * MS, 0.0, raw0)).verdicts
    # arrival at travel 50 + 900 = 950 mm = 9500 counts past raw0
    assert (v.arrival_count, v.lead_ms) == (9400, 35.0)


def test_a_reject_is_late_when_its_coil_write_would_be_past_even_if_the_push_is_not() -> None:
    """Decided at 1760 ms for an arrival at 1800 ms: with 20 ms response and 30 ms output
    latency the coil had to be written at 1750 ms, so it is a missed reject, 10 ms late."""
    ejector = EJECTOR | {"output_latency_ms": 30.0}
    sched = RejectScheduler(make_cfg(ejectors=[ejector]))
    sched.update(0, None)
    sched.observe(1760 * MS, 1760 * MS, frame([(980, 240, "defect")]), 2000, FRAME_H, None)
    acts = sched.update(1760 * MS, None)
    assert acts.plans == ()
    assert [(m.reason, m.late_ms) for m in acts.missed] == [("late", 10.0)]


# --- the horizon against the update gap ---------------------------------------------------


def missed_phases(horizon_ms: float, cycle_ms: int = 150, phases: int = 30) -> int:
    """Updates every `cycle_ms` (a camera cycle), at `phases` offsets against the item's fire
    time (1780 ms); how many of them miss the reject."""
    missed = 0
    for k in range(phases):
        sched = RejectScheduler(make_cfg(horizon_ms=horizon_ms))
        timer = FakeTimer(sched)
        sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
        offset_ns = k * cycle_ms * MS // phases
        for t in range(offset_ns, 2500 * MS, cycle_ms * MS):
            timer.run_until(t)
            acts = sched.update(t, None)
            timer.apply(acts)
            missed += len(acts.missed)
    return missed


def test_a_horizon_shorter_than_the_update_gap_misses_rejects_and_one_covering_it_none() -> None:
    """The reason `check` refuses a box-timed horizon shorter than the longest update gap: with
    updates 150 ms apart, a 100 ms horizon misses the reject for 9 of 30 phases of the fire time
    against the cycle (the issue's figure: the fire time falls between an update more than
    100 ms before it and the next, after it); 150 ms misses none."""
    assert missed_phases(100.0) == 9
    assert missed_phases(150.0) == 0


@pytest.mark.parametrize(
    ("where", "field"),
    [
        (("source",), "capture_latency_ms"),
        (("conveyor", "belt", "encoder"), "latency_ms"),
        (("conveyor", "ejectors", 0), "output_latency_ms"),
    ],
)
def test_a_negative_latency_in_a_deployment_names_the_file_the_field_and_the_fix(
    tmp_path: Path, where: tuple[str | int, ...], field: str
) -> None:
    """demo-conveyor.yaml with one latency at -5 ms: refused in one line that names the file,
    the dotted field and how to fix it."""
    data = yaml.safe_load((REPO / "deployments" / "demo-conveyor.yaml").read_text())
    node = data["cameras"][0]
    for key in where:
        node = node[key]
    node[field] = -5
    f = tmp_path / "dep.yaml"
    f.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load_deployment(f)
    path = "cameras[0]." + ".".join(str(k) for k in where).replace(".0", "[0]") + f".{field}"
    assert str(info.value) == (
        f"{f}: {path}: Input should be greater than or equal to 0 "
        "(fix: give a value within the field's bounds (`plantvision schema` writes them all))"
    )
