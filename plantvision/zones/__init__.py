"""Zones: where a detection counts. Zone files (validated data) compile into `CompiledZones`,
which evaluate every detection against every zone at once. Pure: no camera, model or PLC.

    geometry.py  compiled zones: anchors, masks, filters, vectorised hit test (shapely)
    model.py     the zone file model, field by field (pydantic)
    checks.py    whole-file checks (ids, polygons inside the frame, masks)
    masks.py     which stop zones a mask can hide (the blanking rule: classes and a waiver)
    config.py    read, validate, compile a zone file
    floor.py     floor calibration: image <-> floor millimetres (homography)
"""

from plantvision.zones.config import load_zone_file, parse_zone_file
from plantvision.zones.geometry import Anchor, CompiledZones, MaskSpec, ZoneHits, ZoneKind, ZoneSpec

__all__ = [
    "Anchor",
    "CompiledZones",
    "MaskSpec",
    "ZoneHits",
    "ZoneKind",
    "ZoneSpec",
    "load_zone_file",
    "parse_zone_file",
]
