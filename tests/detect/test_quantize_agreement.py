"""INT8 against FP32: detections matched per class at IoU 0.5, zone verdicts frame by frame."""

from __future__ import annotations

import pytest

from plantvision.detect.agreement import AgreementTally, ClassCounts, match_count
from plantvision.types import Detections

NAMES = ("person", "car")


def dets(*rows: tuple[float, float, float, float, float, int]) -> Detections:
    return Detections.from_arrays(
        [r[:4] for r in rows], [r[4] for r in rows], [r[5] for r in rows], NAMES
    )


BOX = (10.0, 10.0, 50.0, 90.0, 0.9, 0)


@pytest.mark.parametrize(
    ("cand", "matched"),
    [
        (dets(BOX), 1),  # the same box
        (dets((12.0, 12.0, 52.0, 92.0, 0.5, 0)), 1),  # shifted, IoU about 0.87
        (dets((30.0, 10.0, 70.0, 90.0, 0.9, 0)), 0),  # IoU 0.33: not the same detection
        (dets(), 0),
        (dets(BOX, (11.0, 10.0, 51.0, 90.0, 0.8, 0)), 1),  # a duplicate matches nothing more
    ],
)
def test_detections_match_once_at_iou_half(cand: Detections, matched: int) -> None:
    """Each reference detection pairs with at most one candidate overlapping it by IoU >= 0.5."""
    assert match_count(dets(BOX), cand) == matched


def test_precision_and_recall_are_per_class() -> None:
    """A car the INT8 model adds lowers car precision, not person figures; a missed person
    lowers person recall."""
    tally = AgreementTally()
    fp32 = dets(BOX, (100.0, 10.0, 140.0, 90.0, 0.8, 0))
    int8 = dets(BOX, (200.0, 200.0, 260.0, 240.0, 0.7, 1))
    tally.add(fp32, int8, {"stop": True}, {"stop": True})
    assert tally.classes["person"] == ClassCounts(reference=2, candidate=1, matched=1)
    assert tally.classes["person"].recall == 0.5
    assert tally.classes["person"].precision == 1.0
    assert tally.classes["car"].precision == 0.0
    assert tally.worst_class() == 0.5  # car has no FP32 detection: it does not count


def test_zone_agreement_needs_every_zone_the_same() -> None:
    """A frame agrees only when every zone's occupied/clear verdict is equal."""
    tally = AgreementTally()
    tally.add(dets(), dets(), {"stop": False, "warn": True}, {"stop": False, "warn": True})
    tally.add(dets(), dets(), {"stop": False, "warn": True}, {"stop": False, "warn": False})
    tally.add(dets(), dets(), {"stop": True, "warn": True}, {"stop": True, "warn": True})
    tally.add(dets(), dets(), {"stop": True, "warn": True}, {"stop": False, "warn": True})
    assert tally.frames == 4
    assert tally.zone_agreement_pct == 50.0


def test_targets_can_be_judged_on_the_classes_the_zones_watch() -> None:
    """A rare class no zone watches does not decide the worst figure when classes are given."""
    tally = AgreementTally()
    tally.add(dets(BOX, (100.0, 10.0, 140.0, 90.0, 0.8, 1)), dets(BOX), {}, {})
    assert tally.worst_class() == 0.0  # the car was missed
    assert tally.worst_class({"person"}) == 1.0
