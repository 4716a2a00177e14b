"""Command-line options that describe a model, shared by `detect` and `bench`.

`--model` takes an .onnx file (options fill the rest) or a YAML ModelSpec file (options
override its values).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from plantvision.configio import load_model, validation_error
from plantvision.detect import ModelSpec
from plantvision.detect.spec import BACKENDS, FAMILIES


def add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, type=Path, help="ONNX file or model YAML")
    parser.add_argument("--family", choices=("auto", *FAMILIES), help="output layout")
    parser.add_argument("--conf", type=float, help="confidence threshold (0..1)")
    parser.add_argument("--nms-iou", type=float, help="NMS IoU threshold (0..1]")
    parser.add_argument("--names", type=Path, help="class names file, one per line")
    parser.add_argument("--threads", type=int, help="onnxruntime intra-op threads (0: auto)")
    parser.add_argument(
        "--backend", choices=BACKENDS, help="inference runtime (default: onnxruntime)"
    )
    parser.add_argument(
        "--provider",
        action="append",
        help="execution provider, repeat to give a fallback order (default: CPU)",
    )


def spec_from_args(args: argparse.Namespace, **extra: Any) -> ModelSpec:
    """A validated ModelSpec from --model and the override options; errors name the field."""
    model: Path = args.model
    if model.suffix.lower() in (".yaml", ".yml"):
        base = load_model(model, ModelSpec).model_dump(exclude_unset=True)
        for key in ("path", "names_file"):  # relative to the YAML file, not the shell
            if base.get(key) is not None and not Path(base[key]).is_absolute():
                base[key] = model.parent / base[key]
        source = str(model)
    else:
        base, source = {"path": model}, "command line"
    overrides = {
        "family": args.family,
        "conf_threshold": args.conf,
        "nms_iou": args.nms_iou,
        "names_file": args.names,
        "intra_op_threads": args.threads,
        "providers": tuple(args.provider) if args.provider else None,
        "backend": args.backend,
        **extra,
    }
    data = {**base, **{k: v for k, v in overrides.items() if v is not None}}
    if args.names is not None:
        data.pop("class_names", None)
    return _validate(data, source)


def _validate(data: dict[str, Any], source: str) -> ModelSpec:
    try:
        return ModelSpec.model_validate(data)
    except ValidationError as exc:
        raise validation_error(source, exc) from None
