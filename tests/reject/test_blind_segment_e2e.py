"""Reject unless proven good, end to end over loopback TCP: the scene camera, plantvision's loop
with a coverage map, the PLC simulator whose belt is the item truth. The judge uses only the
scene's truth and the travel of every frame the camera grabbed: an item no frame showed whole
(`RigResult.unseen`) must end in the bin (reject) or the belt must stop (stop_belt).

Before the coverage map, a camera that hung left every counter at 0 and, after the reset, the
items that had passed it unseen went on as good."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from plantvision.loop.outputs import FAULT_CODES
from simulators.plc.rig import RigResult, RigSpec, run_rig

VIEW_PX = 640
REACH_MM = 20.0  # the simulated paddle's reach (conveyor_sim_config)


def run(spec: RigSpec, tmp_path: Path) -> tuple[RigResult, list[dict[str, Any]]]:
    with capture_logs() as logs:
        result = run_rig(spec, tmp_path)
    return result, logs


def only_start_up_misses(result: RigResult, logs: list[dict[str, Any]]) -> None:
    """A belt standing at start-up starts at full speed: the blind belt within one camera
    cycle of the ejector line has passed it before the box's next update (counted missed,
    never silent). Nothing else is missed but what a starved process explains: a miss the
    product counted while the witness saw the whole process held off the CPU at its due time
    (simulators.plc.witness, as in test_reject_e2e)."""
    missed = [e for e in logs if e["event"] == "reject_missed"]
    # Blind pushes missed: two at the belt's start, any more only in a witnessed stall.
    blind = [m for m in result.excuses.unexplained if m.item_id < 0]
    assert len(blind) <= 2, (blind, [e for e in missed if e["item_id"] < 0])
    seen = [e for e in missed if e["item_id"] >= 0]
    assert len(seen) <= len(result.excuses.items), (seen, result.excuses)
    unexplained = [m for m in result.excuses.unexplained if m.item_id >= 0]
    assert unexplained == [], unexplained


def every_defect_binned(result: RigResult) -> None:
    """Every defective item that passed is in the bin, or its miss is excused (above)."""
    missing = result.defective_passed - result.in_bin
    assert missing <= result.excuses.items, (sorted(missing), result.missed_rejects)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["box", "plc"])
def test_a_three_second_stall_puts_every_item_that_passed_unseen_in_the_bin(
    mode: str, tmp_path: Path
) -> None:
    """At 1 m/s the camera hangs 3 s; the ejector pushes (box-timed pulses, or PLC-timed
    ranges) over all belt no frame proved, before and after the stop and the reset: every item
    never shown whole is in the bin, and every defect seen is too."""
    # A 1 s budget: the stale verdict stops the belt ~1.1 m after the last frame, more than the
    # 576 mm one frame proves (items 60 mm long). The camera hung, the loop cycles every 250 ms
    # (a quarter budget): the horizon covers that (check's rule), and the ejector sits 0.9 m
    # past the view, so belt judged blind a cycle late still reaches it after the decision.
    spec = RigSpec(1000.0, mode, ejector_mm=1500.0, budget_ms=1000.0, horizon_ms=1300.0,  # type: ignore[arg-type]
                   longest_item_mm=60.0, stall_at_s=1.0, stall_s=3.0, after_s=3.0)  # fmt: skip
    result, logs = run(spec, tmp_path)
    assert result.counters["blind_segments"] >= 2, result.counters  # start-up and the stall
    hung = [w for w in result.permit_writes if result.hang_ns[0] <= w[0] <= result.hang_ns[1]]
    assert any(not permit for _, permit in hung)  # the stale verdict stopped the belt
    assert result.unseen, "no item passed the camera unseen: the stall proved nothing"
    assert result.unseen <= result.in_bin, (sorted(result.unseen - result.in_bin), result.pulses)
    # Box-timed too: a defect's pulse armed before the stale verdict stopped the belt fired at
    # air when only camera cycles (every 250 ms with the camera hung) re-timed it; plans are
    # now re-timed on each encoder reading and withdrawn before they fire (issue 15).
    every_defect_binned(result)
    only_start_up_misses(result, logs)


@pytest.mark.slow
def test_stop_belt_stops_the_running_belt_on_a_gap_between_frames(tmp_path: Path) -> None:
    """A hang of 0.4 s, inside the 500 ms budget (no stale verdict, the permit stays on): at
    1 m/s the belt between two frames' proofs passes unseen; with stop_belt the permit drops
    with fault code blind_segment, and the reset press brings the belt back."""
    spec = RigSpec(1000.0, "box", longest_item_mm=300.0, no_decision_action="stop_belt",
                   stall_at_s=1.0, stall_s=0.4, after_s=1.0)  # fmt: skip
    result = run_rig(spec, tmp_path)
    after = [w for w in result.permit_writes if w[0] >= result.hang_ns[0]]
    assert any(not permit for _, permit in after), "the permit never dropped after the gap"
    codes = [(t, code) for t, code in result.fault_writes if t >= result.hang_ns[0] and code]
    assert codes, "no fault code after the gap"
    assert codes[0][1] == FAULT_CODES["blind_segment"], codes[:3]
    assert result.counters["blind_segments"] >= 2, result.counters
    # The reset press and start brought the belt back (before the run's shutdown write).
    assert any(permit for t, permit in after if t > codes[0][0])


@pytest.mark.slow
def test_a_healthy_run_with_overlapping_frames_rejects_no_good_item(tmp_path: Path) -> None:
    """0.5 m/s, 20 fps, items 60 mm long: each frame proves 576 mm and the next is 25 mm on.
    Only the belt between the view and the ejector at start-up is blind (and rejected); no
    good item the camera saw whole goes in the bin, and every defect does."""
    spec = RigSpec(500.0, "box", belt_s=3.0, longest_item_mm=60.0)
    result, logs = run(spec, tmp_path)
    assert result.counters["blind_segments"] == 1, result.counters  # start-up only
    judging_line_mm = VIEW_PX - 2 - 60 / 2  # where a frame stops holding an item whole
    for item in result.in_bin:
        defective = item in result.defective_passed
        at_start = result.start_centre_mm[item]
        # Good items only from the start-up stretch (and its edge, within the paddle's reach).
        assert defective or at_start >= judging_line_mm - REACH_MM - 2, (item, at_start)
    assert result.unseen <= result.in_bin
    every_defect_binned(result)
    only_start_up_misses(result, logs)
