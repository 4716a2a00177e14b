"""Masks are guarded like light-curtain blanking: one that can hide any part of a stop zone (in
the zone's anchor space) needs the classes it applies to and a written waiver; what it hides in
a stop zone is counted, never silently dropped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plantvision.errors import ConfigError
from plantvision.types import Detections
from plantvision.zones.config import load_zone_file
from plantvision.zones.geometry import CompiledZones, MaskSpec, ZoneKind, ZoneSpec

HEAD = "version: 1\ncamera: c\nunits: pixels\nframe_size: [640, 480]\n"
# The stop zone: x 100..300, y 200..300 px (feet, bottom_center).
STOP = "  - {id: press, kind: stop, polygon: [[100, 200], [300, 200], [300, 300], [100, 300]]}\n"
AREA_STOP = STOP.replace("kind: stop,", "kind: stop, anchor: area_fraction,")
WAIVER = (
    "    waiver: 'risk assessment RA-12: the sign is bolted to the guard; nobody stands there'\n"
)


def mask(poly: str, extra: str = "", anchor: str = "center") -> str:
    return f"masks:\n  - id: m\n    polygon: {poly}\n    anchor: {anchor}\n{extra}"


OVERLAPS = "[[250, 250], [350, 250], [350, 350], [250, 350]]"  # part of the zone's corner
ABOVE = "[[100, 80], [300, 80], [300, 150], [100, 150]]"  # no overlap; box centres of people
BESIDE = "[[400, 200], [500, 200], [500, 300], [400, 300]]"  # right of the zone, same rows
FAR_ABOVE_BESIDE = "[[400, 0], [500, 0], [500, 50], [400, 50]]"

REFUSED = [
    # (name, zone lines, mask text, words in the problem)
    ("partly overlaps", STOP, mask(OVERLAPS), "can hide detections in stop zone press"),
    # Centre anchor above the zone: a person standing in it (feet at y 250, 200 px tall) has
    # the box centre at y 150, on the mask. The polygons do not touch.
    ("centre above the feet", STOP, mask(ABOVE), "can hide detections in stop zone press"),
    ("waiver without classes", STOP, mask(ABOVE, WAIVER), "name the classes"),
    (
        "classes without waiver",
        STOP,
        mask(ABOVE, "    classes: [person]\n"),
        "waiver",
    ),
    ("area-fraction zone", AREA_STOP, mask(FAR_ABOVE_BESIDE), "stop zone press"),
]


@pytest.mark.parametrize(("name", "zones", "masks", "words"), REFUSED, ids=[r[0] for r in REFUSED])
def test_a_mask_that_can_hide_part_of_a_stop_zone_needs_classes_and_a_waiver(
    tmp_path: Path, name: str, zones: str, masks: str, words: str
) -> None:
    """Refused in one line naming the mask, unless it names its classes and a waiver."""
    f = tmp_path / "z.yaml"
    f.write_text(HEAD + "zones:\n" + zones + masks)
    with pytest.raises(ConfigError) as info:
        load_zone_file(f)
    msg = str(info.value)
    assert info.value.field.startswith("masks[0] (id m)"), msg
    assert words in msg, msg
    assert "\n" not in msg


ACCEPTED = [
    ("waived", STOP, mask(ABOVE, "    classes: [person]\n" + WAIVER)),
    ("same anchor, no overlap", STOP, mask(ABOVE, anchor="bottom_center")),
    ("centre anchor beside the zone", STOP, mask(BESIDE)),
    ("a class the zone does not count", STOP, mask(OVERLAPS, "    classes: [forklift]\n")),
]


@pytest.mark.parametrize(("name", "zones", "masks"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_masks_that_cannot_hide_a_stop_zone_or_are_waived_load(
    tmp_path: Path, name: str, zones: str, masks: str
) -> None:
    """A mask whose reach misses every stop zone, or that is waived, loads."""
    f = tmp_path / "z.yaml"
    f.write_text(HEAD + "zones:\n" + zones + masks)
    z = load_zone_file(f)
    assert [m.id for m in z.masks] == ["m"]


def test_a_waiver_is_kept_for_check_to_print(tmp_path: Path) -> None:
    """The compiled mask carries its classes and its waiver text."""
    f = tmp_path / "z.yaml"
    f.write_text(HEAD + "zones:\n" + STOP + mask(ABOVE, "    classes: [person]\n" + WAIVER))
    m = load_zone_file(f).masks[0]
    assert m.classes == ("person",)
    assert m.waiver is not None
    assert m.waiver.startswith("risk assessment RA-12")
    assert m.hides_stop == ("press",)


SQUARE = np.array([[0.25, 0.5], [0.75, 0.5], [0.75, 0.75], [0.25, 0.75]])
TOP = np.array([[0.25, 0.3], [0.75, 0.3], [0.75, 0.49], [0.25, 0.49]])


def test_a_mask_hides_only_its_classes_and_counts_what_it_hides_in_a_stop_zone() -> None:
    """A person whose feet are in the stop zone and centre on a person-only mask is hidden from
    the zone but counted as masked there; a forklift box in the same place is not masked."""
    zones = CompiledZones(
        (ZoneSpec("press", ZoneKind.STOP, SQUARE, classes=("person", "forklift")),),
        (MaskSpec("m", TOP, classes=("person",)),),
    )
    box = [200.0, 120.0, 240.0, 260.0]  # 400x400 frame: centre (220, 190) on mask, feet in zone
    det = Detections.from_arrays([box, box], [0.9, 0.9], [0, 1], ("person", "forklift"))
    h = zones.evaluate(det, 400, 400)
    assert h.masked.tolist() == [True, False]
    assert h.hits.tolist() == [[False, True]]
    assert h.masked_in_stop.tolist() == [1]
