"""PLC-timed: a verdict whose write has not come back is not fired; the PLC's fires count."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import structlog

from plantvision.conveyor.runtime import RejectRuntime
from plantvision.conveyor.verdicts import InlineVerdicts, Verdict, VerdictOutcome, VerdictsOut
from plantvision.plc.values import PlcInputs
from plantvision.types import Frame
from tests.conveyor.helpers import MS, encoder_cfg, frame

IMAGE = np.random.default_rng(0).integers(60, 200, (480, 640, 3), dtype=np.uint8)


class HeldSender:
    """A verdict writer stuck in its write: nothing comes back until `finish`."""

    def __init__(self, _write: VerdictsOut) -> None:
        self.submitted: list[Verdict] = []
        self._done: list[VerdictOutcome] = []

    def submit(self, verdicts: Sequence[Verdict]) -> None:
        self.submitted += verdicts

    def finish(self, reason: str | None) -> None:
        self._done += [VerdictOutcome(v.item_id, reason) for v in self.submitted]

    def outcomes(self) -> list[VerdictOutcome]:
        done, self._done = self._done, []
        return done

    def alive(self) -> bool:
        return True

    def close(self) -> None:
        pass


def _at(t_ns: int) -> PlcInputs:
    count = round(t_ns / 1e9 * 500.0 * 10)  # 500 mm/s, 10 counts/mm
    return PlcInputs(False, encoder=count, t_read_ns=t_ns, t_encoder_ns=t_ns)


def _runtime(sender: object, **over: object) -> RejectRuntime:
    cfg = encoder_cfg(timing_mode="plc", **({"confirm_window_ms": 100.0} | over))
    rt = RejectRuntime(cfg, {"ej1": 0}, structlog.get_logger())
    rt.start(lambda _i, _on: True, lambda _v: True, lambda _w: sender)  # type: ignore[arg-type,return-value]
    return rt


def _drive(rt: RejectRuntime, t0: int, t1: int) -> list[str | None]:
    faults = []
    for t in range(t0, t1, 10 * MS):
        rt.feed(_at(t))
        faults.append(rt.step(t, 0, False).fault)
    return faults


def test_an_undelivered_verdict_never_trips_reject_unconfirmed() -> None:
    """The verdict's write hangs past the item's fire point and the confirm window, then fails:
    it is one missed reject (alarm, missed_action alarm: no stop), never an unconfirmed one."""
    sender = HeldSender(lambda _v: True)
    rt = _runtime(sender)
    _drive(rt, 0, 20 * MS)
    rt.observe(20 * MS, Frame(IMAGE, 0, 20 * MS), frame([(100.0, 240.0, "defect")]))
    faults = _drive(rt, 20 * MS, 2500 * MS)  # fire point ~1800 ms, window 100 ms
    assert len(sender.submitted) == 1
    assert set(faults) == {None}
    assert rt.counters["unconfirmed"] == 0
    sender.finish("verdict_not_delivered")
    rt.feed(_at(2500 * MS))
    status = rt.step(2500 * MS, 0, False)
    assert (status.fault, status.alarm) == (None, True)
    assert (rt.counters["missed"], rt.counters["unconfirmed"], rt.counters["fired"]) == (1, 0, 0)


def test_plc_fires_are_counted() -> None:
    """A delivered verdict whose count the belt has passed counts as fired (it was always 0)."""
    rt = _runtime(InlineVerdicts(lambda _v: True))
    _drive(rt, 0, 20 * MS)
    rt.observe(20 * MS, Frame(IMAGE, 0, 20 * MS), frame([(100.0, 240.0, "defect")]))
    _drive(rt, 20 * MS, 2500 * MS)
    assert rt.counters["fired"] == 1
