"""Helpers for the quantizer's command tests: small runs, deployments, cards edited in place."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from plantvision.detect.quant_card import QUANT_KEY
from plantvision.detect.quantize import tools

REPO = Path(__file__).resolve().parents[2]
CELL = REPO / "plantvision" / "models" / "cell_detector.onnx"
DEMO = REPO / "deployments" / "demo.yaml"
# A few frames only: the figures are not the point here, the quantizer, card and gate are.
SMALL = ["--frames", "4", "--holdout-frames", "6", "--runs", "3", "--search-runs", "2",
         "--threads", "1"]  # fmt: skip


def metadata(path: Path) -> dict[str, str]:
    onnx = tools.require_onnx()
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def deployment(
    tmp_path: Path, model: Path, port: int, backend: str = "onnxruntime", **camera: Any
) -> Path:
    """The demo deployment with `model` run on `backend`, against the PLC at `port`."""
    data = yaml.safe_load(DEMO.read_text())
    cam = data["cameras"][0]
    cam["source"]["scenario"] = str((DEMO.parent / cam["source"]["scenario"]).resolve())
    cam["zones"] = str((DEMO.parent / cam["zones"]).resolve())
    cam["model"]["path"] = str(model)
    cam["model"]["backend"] = backend
    cam.update(camera)
    data["plc"]["port"] = port
    data.pop("demo", None)
    dep = tmp_path / f"dep-{backend}.yaml"
    dep.write_text(yaml.safe_dump(data))
    return dep


def with_card(src: Path, dst: Path, card: dict[str, Any] | None) -> Path:
    shutil.copyfile(src, dst)
    onnx = tools.require_onnx()
    model = onnx.load(str(dst))
    kept = [(p.key, p.value) for p in model.metadata_props if p.key != QUANT_KEY]
    del model.metadata_props[:]
    for key, value in kept:
        model.metadata_props.add(key=key, value=value)
    if card is not None:
        model.metadata_props.add(key=QUANT_KEY, value=json.dumps(card))
    onnx.save(model, str(dst))
    return dst
