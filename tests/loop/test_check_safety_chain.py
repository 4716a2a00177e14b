"""`plantvision check` states what the safety chain must do with the permit: the stop category,
what stopping_time_ms means, the stop-monitoring bounds and the heartbeat rule."""

from __future__ import annotations

from plantvision.commands.check import safety_chain_lines
from plantvision.loop.deployment import load_deployment
from plantvision.plc.config import SignalModel
from tests.loop.live import REPO


def test_check_states_the_stop_category_and_the_stop_monitoring_bounds() -> None:
    """Category 0 or 1 (IEC 60204-1), the stopping time as a measured worst case, the EDM
    bounds from the scan and stopping times, the maintenance reset and the heartbeat rule."""
    dep = load_deployment(REPO / "deployments" / "demo.yaml")
    text = "\n".join(safety_chain_lines(dep))
    assert "stop category 0 or 1 (IEC 60204-1)" in text
    assert "stopping_time_ms 200 ms: the measured worst case from permit OFF at the PLC" in text
    assert "PLC latched <= 20 ms" in text
    assert "standstill <= 260 ms" in text
    assert "maintenance reset: plc.signals.maintenance_reset (discrete_input 3)" in text
    assert "+1 per beat" in text


def test_check_says_what_is_not_monitored() -> None:
    """Without a standstill input or a maintenance reset, check says so and what follows."""
    dep = load_deployment(REPO / "deployments" / "demo.yaml")
    signals = dep.plc.signals.model_copy(
        update={"machine_stopped": None, "maintenance_reset": None}
    )
    dep = dep.model_copy(update={"plc": dep.plc.model_copy(update={"signals": signals})})
    text = "\n".join(safety_chain_lines(dep))
    assert "standstill not monitored" in text
    assert "no maintenance reset mapped" in text
    assert isinstance(dep.plc.signals.permit, SignalModel)
