"""Zone files (`zones/*.yaml`): read, validate (zones.model, then zones.checks), compile into
`CompiledZones`. Every error names the file, the zone (index and id) and the field, and says
how to fix it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from plantvision.configio import file_sha256, read_yaml, validation_error
from plantvision.errors import ConfigError
from plantvision.zones.checks import check_file, masks_hiding_stop_zones, to_normalised
from plantvision.zones.geometry import CompiledZones, MaskSpec, ZoneSpec
from plantvision.zones.model import ZoneFileModel


def _name_zone(field: str, data: Any) -> str:
    """'zones[1].polygon' -> 'zones[1] (id exit).polygon', so messages name the zone."""
    for key in ("zones", "masks"):
        if field.startswith(f"{key}["):
            idx = int(field[len(key) + 1 : field.index("]")])
            items = data.get(key) if isinstance(data, dict) else None
            if isinstance(items, list) and idx < len(items) and isinstance(items[idx], dict):
                zid = items[idx].get("id")
                if zid is not None:
                    end = field.index("]") + 1
                    return f"{field[:end]} (id {zid}){field[end:]}"
    return field


def parse_zone_file(path: str | Path) -> ZoneFileModel:
    """Read and validate a zone file, or raise ConfigError naming file, zone and field."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(str(path), "(top level)", "expected a mapping of keys to values")
    try:
        model = ZoneFileModel.model_validate(data, context={"file": str(path)})
    except ValidationError as exc:
        err = validation_error(path, exc)
        raise ConfigError(err.file, _name_zone(err.field, data), err.problem, err.fix) from None
    check_file(model, str(path))
    return model


def load_zone_file(path: str | Path) -> CompiledZones:
    """Validate and compile a zone file; the result carries the file's sha256."""
    model = parse_zone_file(path)
    return compile_zones(model, file_sha256(path), str(path))


def compile_zones(model: ZoneFileModel, sha256: str = "", source: str = "") -> CompiledZones:
    """Convert every polygon to normalised image units (see zones.py)."""
    size = model.frame_size
    w_px, h_px = (1.0, 1.0) if model.units == "normalized" or size is None else size
    zones = tuple(
        ZoneSpec(
            id=z.id,
            kind=z.kind,
            polygon=to_normalised(model, z.polygon),
            classes=tuple(z.classes),
            min_confidence=z.min_confidence,
            min_box_w=z.min_box_w / w_px,
            min_box_h=z.min_box_h / h_px,
            anchor=z.anchor,
            area_fraction=z.area_fraction,
            hold_ms=z.hold_ms,
        )
        for z in model.zones
    )
    masks = tuple(
        MaskSpec(
            m.id,
            to_normalised(model, m.polygon),
            m.anchor,
            None if m.classes is None else tuple(m.classes),
            m.waiver,
            hidden,
        )
        for m, hidden in zip(model.masks, masks_hiding_stop_zones(model), strict=True)
    )
    to_floor = None
    if model.calibration is not None and size is not None:
        to_floor = model.calibration.homography() @ np.diag([size[0], size[1], 1.0])
    hazard = None if model.hazard_mm is None else np.asarray(model.hazard_mm, np.float64)
    return CompiledZones(
        zones,
        masks,
        sha256=sha256,
        source=source or "(memory)",
        frame_size=None if model.units == "normalized" else size,
        image_to_floor_mm=to_floor,
        hazard_mm=hazard,
        camera=model.camera,
        calibration_error_mm=0.0
        if model.calibration is None
        else model.calibration.worst_error_mm(),
    )
