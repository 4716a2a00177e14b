"""`plantvision quantize MODEL --calibration SOURCE --out OUT.onnx`: an INT8 model and its proof.

Calibrates on frames from SOURCE through the detector's own pre-processing, places the Q/DQ
pairs for the runtime the model is made for (`--backend`: onnxruntime or openvino), searches which
conv blocks to keep in float (the decode head always is) until the INT8 model decides like the
FP32 one on the calibration frames, then measures on held-out frames, side by side in one run and
per backend (onnxruntime always, the one it is made for, or both with --compare-backends): the
speed (bare inference calls, every backend's FP32 and INT8 interleaved, per thread count),
per-class precision and recall against FP32 on onnxruntime at the deployment's threshold, and
zone-decision agreement. The figures, the calibration set's hash and the command go into the
output model's card (its ONNX metadata). Exit 0: written and within the targets on the backend
it is made for; 1: written but under them (check and run will refuse it under the deployment's
zone-agreement threshold); 2: invalid input.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
from pathlib import Path
from typing import Any

from plantvision.commands.model_args import spec_from_args
from plantvision.commands.quant_frames import deployment_camera
from plantvision.commands.quant_report import card_lines
from plantvision.commands.quant_workshop import (
    IOU_MATCH,
    REFERENCE_BACKEND,
    Workshop,
    measure,
    run_search,
)
from plantvision.detect import ModelSpec
from plantvision.detect.ov_session import require_openvino
from plantvision.detect.quant_card import BackendFigures, QuantCard, quantization_metadata
from plantvision.detect.quantize import tools
from plantvision.detect.quantize.search import Attempt, Targets
from plantvision.detect.spec import BACKENDS, FAMILIES, Backend
from plantvision.errors import ConfigError
from plantvision.zones.config import load_zone_file
from plantvision.zones.geometry import CompiledZones


def register(sub: Any) -> None:
    p = sub.add_parser("quantize", help="make an INT8 model and measure that it decides the same")
    p.add_argument("model", type=Path, help="the FP32 ONNX model")
    p.add_argument(
        "--calibration",
        required=True,
        metavar="SOURCE",
        help="video, image folder, or DEPLOYMENT.yaml[:CAMERA] (that camera's source)",
    )
    p.add_argument("--out", required=True, type=Path, help="the INT8 model to write")
    p.add_argument("--frames", type=int, default=20, help="calibration frames (default 20)")
    p.add_argument(
        "--holdout",
        metavar="SOURCE",
        help="held-out frames from here (default: the calibration source, between "
        "the calibration frames)",
    )
    p.add_argument("--holdout-frames", type=int, default=100, help="held-out frames (100)")
    p.add_argument(
        "--zones", type=Path, help="zone file for zone-decision agreement (default: the camera's)"
    )
    p.add_argument("--threads", default="1,2", help="thread counts to time (default 1,2)")
    p.add_argument("--runs", type=int, default=100, help="timed runs per model and thread count")
    p.add_argument("--search-runs", type=int, default=20, help="timed runs per search attempt")
    p.add_argument(
        "--max-float-blocks",
        type=int,
        default=8,
        help="most conv blocks the search keeps in float (default 8)",
    )
    p.add_argument(
        "--min-zone-agreement",
        type=float,
        default=99.5,
        help="zone-decision agreement target in %% (default 99.5)",
    )
    p.add_argument(
        "--min-class-agreement",
        type=float,
        default=95.0,
        help="per-class precision and recall target in %% (default 95)",
    )
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        help="runtime the INT8 model is made for: where its Q/DQ pairs go and what the search "
        "times (default: the camera's model.backend, else onnxruntime)",
    )
    p.add_argument(
        "--compare-backends",
        action="store_true",
        help="measure the INT8 model on every backend side by side (default: onnxruntime and "
        "the one it is made for)",
    )
    p.add_argument("--family", choices=("auto", *FAMILIES), help="output layout")
    p.add_argument("--conf", type=float, help="confidence threshold (default: the camera's)")
    p.add_argument("--names", type=Path, help="class names file, one per line")
    p.set_defaults(handler=run)  # fmt: skip


def _spec(args: argparse.Namespace) -> tuple[ModelSpec, CompiledZones]:
    """The model as the deployment camera runs it (if one is named), and the zones to judge."""
    cam = deployment_camera(args.calibration)
    base: ModelSpec | None = None if cam is None else cam.files.model
    ns = argparse.Namespace(
        model=args.model, family=args.family, conf=args.conf, nms_iou=None, names=args.names,
        threads=1, provider=None, backend=None,
    )  # fmt: skip
    spec = spec_from_args(ns, warmup_runs=0)
    if base is not None:
        explicit = spec.model_dump(exclude_unset=True)
        spec = base.model_copy(update={**explicit, "path": args.model, "warmup_runs": 0})
    if args.zones is not None:
        return spec, load_zone_file(args.zones)
    if cam is None:
        raise ConfigError(
            "command line", "--zones", "zone-decision agreement needs the zones the model guards",
            "give --zones FILE, or a deployment camera as --calibration DEPLOYMENT.yaml[:CAMERA]",
        )  # fmt: skip
    return spec, cam.files.zones


def _backends(args: argparse.Namespace, made_for: Backend) -> list[Backend]:
    """The reference backend always; the one the model is made for; every one when compared."""
    wanted = BACKENDS if args.compare_backends else (REFERENCE_BACKEND, made_for)
    backends = list(dict.fromkeys(wanted))
    if "openvino" in backends:
        require_openvino()  # one clear error naming the extra, before any work
    return backends


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run, rebuilt from its parsed options."""
    argv = ["plantvision", "quantize", str(args.model), "--calibration", args.calibration,
            "--out", str(args.out), "--frames", str(args.frames)]  # fmt: skip
    options = {
        "--holdout": args.holdout, "--holdout-frames": args.holdout_frames, "--zones": args.zones,
        "--threads": args.threads, "--runs": args.runs, "--search-runs": args.search_runs,
        "--max-float-blocks": args.max_float_blocks, "--backend": args.backend,
        "--family": args.family,
        "--conf": args.conf, "--names": args.names,
        "--min-zone-agreement": args.min_zone_agreement,
        "--min-class-agreement": args.min_class_agreement,
    }  # fmt: skip
    for flag, value in options.items():
        if value is not None:
            argv += [flag, str(value)]
    return shlex.join(argv)


def _threads(text: str) -> list[int]:
    try:
        threads = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        threads = []
    if not threads or min(threads) < 1:
        raise ConfigError("command line", "--threads", f"{text!r} is not a list such as 1,2")
    return threads


def run(args: argparse.Namespace) -> int:
    if args.frames < 1 or args.holdout_frames < 1 or args.runs < 1 or args.search_runs < 1:
        raise ConfigError("command line", "--frames/--holdout-frames/--runs", "must be >= 1")
    threads = _threads(args.threads)
    tools.require_onnx()
    spec, zones = _spec(args)
    made_for: Backend = args.backend or spec.backend
    backends = _backends(args, made_for)
    targets = Targets(args.min_class_agreement / 100, args.min_zone_agreement)
    ws = Workshop(args, spec, zones, made_for)
    try:
        chosen, tried = run_search(ws, targets)
        path = ws.dir / f"{chosen.order}-{chosen.blocks_in_float}.onnx"
        card = QuantCard(
            scheme=tools.SCHEMES[made_for], made_for=made_for,
            calibration_sha256=tools.calibration_sha256(ws.tensors),
            calibration_frames=len(ws.calib), holdout_frames=len(ws.held),
            conf_threshold=ws.fp32.conf_threshold, iou_match=IOU_MATCH,
            figures=measure(ws, path, threads, backends),
            zones_sha256=zones.sha256, excluded_nodes=chosen.excluded, command=_command(args),
        )  # fmt: skip
        args.out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, args.out)
        tools.write_metadata(args.out, {**ws.fp32.metadata, **quantization_metadata(card)})
    finally:
        shutil.rmtree(ws.dir, ignore_errors=True)
    return _report(args, card, chosen, tried, targets, zones)


def _report(
    args: argparse.Namespace, card: QuantCard, chosen: Attempt, tried: list[Attempt],
    targets: Targets, zones: CompiledZones,
) -> int:  # fmt: skip
    print(
        f"search on the {card.calibration_frames} calibration frames, INT8 on {card.made_for} "
        "(head always float; speed against FP32 on onnxruntime):"
    )
    for a in tried:
        mark = "*" if a is chosen else " "
        print(
            f" {mark} {a.order:<14} {a.blocks_in_float:>3} blocks float: worst class "
            f"{100 * a.worst_class:5.1f} %, zones {a.zone_agreement_pct:5.1f} %, "
            f"speed {a.speed_ratio:.2f}x (n={args.search_runs}, 1 thread)"
        )
    print(f"{args.out}:")
    print("\n".join(card_lines(card)))
    judged = {c for z in zones.zones for c in z.classes}
    print(f"targets judged on the classes the zones watch: {', '.join(sorted(judged))}")
    verdicts = {f.backend: _within(f, judged, targets) for f in card.figures}
    for backend, ok in verdicts.items():
        print(f"  {backend}: {'within targets' if ok else 'UNDER TARGETS'}")
    ok = verdicts[card.made_for]
    print(f"WITHIN TARGETS on {card.made_for}" if ok else f"UNDER TARGETS on {card.made_for}: "
          "check and run refuse it below their int8_min_zone_agreement_pct")  # fmt: skip
    return 0 if ok else 1


def _within(f: BackendFigures, judged: set[str], targets: Targets) -> bool:
    """Whether one backend's held-out figures meet the agreement targets."""
    worst = min(
        (min(c.precision, c.recall) for c in f.detection_agreement if c.name in judged),
        default=1.0,
    )
    return worst >= targets.min_class_agreement and (
        f.zone_agreement_pct >= targets.min_zone_agreement_pct
    )
