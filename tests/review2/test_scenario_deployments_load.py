"""Review 2: after the merge of frozen_ms (issue 13 item 7, `frozen_frames` now refused), four
scenario deployments still say `frozen_frames: 4`, so the verifier refuses to run the scenarios
that prove earlier review fixes (slow_stream_3fps, stale_clear_press, two_cameras_hang,
held_in_zone_no_hold, blind_in_zone): `plantvision simulate` stops on the first one with a
ConfigError, and the whole suite run stops with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantvision.loop.deployment import load_deployment

DEPLOYMENTS = sorted(
    (Path(__file__).resolve().parents[2] / "simulators/scenarios/deployments").glob("*.yaml")
)


@pytest.mark.parametrize("path", DEPLOYMENTS, ids=lambda p: p.name)
def test_every_scenario_deployment_loads(path: Path) -> None:
    load_deployment(path)
