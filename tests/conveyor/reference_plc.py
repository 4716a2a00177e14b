"""A PLC-timed cell stepped by hand: the pure scheduler against the reference PLC program
(`FifoReader`, scanning every 1 ms) over a belt whose travel the test gives as its own truth.
Shared by the reviews' landing tests (review 8: a stop inside the lead; review 9: a slowing
belt); the truth shares no code with the judgement."""

from __future__ import annotations

from collections.abc import Callable

from plantvision.conveyor import RejectScheduler
from plantvision.plc.fifo import FifoReader, FifoVerdict, FifoWriter
from tests.conveyor.helpers import FRAME_H, FRAME_W, MS, encoder_cfg, frame

CPM = 10.0
LEAD_MS, REACH_MM = 60.0, 10.0
BLOCK = 3 + 5 * 4


def run_cell(travel_mm: Callable[[float], float], until_ms: int) -> tuple[RejectScheduler, float]:
    """Camera cycles every 10 ms; a defect at 100 mm at 0 ms arrives at the 1000 mm ejector
    (60 ms actuator, 10 mm reach) at 900 mm of travel. Returns the scheduler at `until_ms` and
    where the paddle landed relative to the item (mm, < 0: short of it); the PLC fired once."""
    ejector = {"id": "ej1", "position_mm": 1000.0, "actuator_response_ms": LEAD_MS,
               "pulse_ms": 30.0, "reach_mm": REACH_MM}  # fmt: skip
    sched = RejectScheduler(encoder_cfg(timing_mode="plc", ejectors=[ejector]))
    reader = FifoReader("big", boot=1, ejectors=1, late_counts=round(REACH_MM * CPM))
    reader.power_up([0] * BLOCK)
    writer = FifoWriter(BLOCK, "big")

    def count(t_ms: float) -> int:
        return round(travel_mm(t_ms) * CPM)

    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, count(0))
    landed: list[float] = []
    arrivals: list[int] = []
    for t_ms in range(0, until_ms):
        if t_ms % 10 == 0:
            for v in sched.update(t_ms * MS, count(t_ms)).verdicts:
                arrivals.append(v.arrival_count)
                reader.on_block(writer.batches([FifoVerdict(0, v.arrival_count, v.lead_ms)])[0])
        reader.sample(t_ms * MS, count(t_ms))
        for e in reader.due(0, count(t_ms)):
            landed.append(travel_mm(t_ms + e.lead_ms) - e.arrival_count / CPM)
    assert len(arrivals) == 1
    assert abs(arrivals[0] - 9000) <= 1
    assert len(landed) == 1
    return sched, landed[0]
