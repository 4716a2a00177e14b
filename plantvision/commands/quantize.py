"""`plantvision quantize MODEL --calibration SOURCE --out OUT.onnx`: an INT8 model and its proof.

Calibrates on frames from SOURCE through the detector's own pre-processing, searches which conv
blocks to keep in float (the decode head always is) until the INT8 model decides like the FP32
one on the calibration frames, then measures on held-out frames, side by side in one run: the
speed ratio (bare `session.run`, interleaved, per thread count), per-class precision and recall
against FP32 at the deployment's threshold, and zone-decision agreement. The figures, the
calibration set's hash and the command go into the output model's card (its ONNX metadata).
Exit 0: written and within the targets; 1: written but under them (check and run will refuse
it under the deployment's zone-agreement threshold); 2: invalid input.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from plantvision.commands.model_args import spec_from_args
from plantvision.commands.quant_frames import deployment_camera, read_frames, split
from plantvision.commands.quant_report import card_lines
from plantvision.detect import Detector, ModelSpec, load_detector
from plantvision.detect.agreement import AgreementTally
from plantvision.detect.model_card import (
    ClassAgreementFigures,
    QuantCard,
    quantization_metadata,
)
from plantvision.detect.preprocess import Preprocessor
from plantvision.detect.quantize import graph, tools
from plantvision.detect.quantize.measure import interleaved_speed
from plantvision.detect.quantize.search import Attempt, Targets, ladder, search
from plantvision.detect.spec import FAMILIES
from plantvision.errors import ConfigError
from plantvision.progress import ProgressBar
from plantvision.types import ImageArray
from plantvision.zones.config import load_zone_file
from plantvision.zones.geometry import CompiledZones

IOU_MATCH = 0.5


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
        threads=1, provider=None,
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


def _detector(spec: ModelSpec, path: Path, threads: int = 1) -> Detector:
    return load_detector(spec.model_copy(update={"path": path, "intra_op_threads": threads}))


def agreement(
    fp32: Detector, int8: Detector, images: Sequence[ImageArray], zones: CompiledZones
) -> AgreementTally:
    """Both models on every image: detections matched per class, zone verdicts compared."""
    tally = AgreementTally(IOU_MATCH)
    for image in images:
        h, w = image.shape[:2]
        a, b = fp32.detect(image), int8.detect(image)
        za = zones.evaluate(a, w, h).occupied_by_zone()
        tally.add(a, b, za, zones.evaluate(b, w, h).occupied_by_zone())
    return tally


class _Workshop:
    """The quantization work of one command: the prepared model, calibration, the attempts."""

    def __init__(self, args: argparse.Namespace, spec: ModelSpec, zones: CompiledZones) -> None:
        self.args, self.spec, self.zones = args, spec, zones
        self.dir = Path(tempfile.mkdtemp(prefix="plantvision-quantize-"))
        self.fp32 = _detector(spec, spec.path)
        pre = Preprocessor(self.fp32.input_size, self.fp32.preprocessing, np.float32)
        frames = read_frames(
            args.calibration, args.frames + (0 if args.holdout else args.holdout_frames)
        )
        self.calib, held = split(frames, args.frames) if not args.holdout else (frames, [])
        self.held = held if not args.holdout else read_frames(args.holdout, args.holdout_frames)
        self.tensors = [pre(f)[0].copy() for f in self.calib]
        self.prepared = self.dir / "prepared.onnx"
        tools.prepare(spec.path, self.prepared)
        g = tools.load_graph(self.prepared)
        self.input_name: str = g.input[0].name
        self.head = graph.head_nodes(g)
        self.blocks = graph.conv_blocks(g, self.head)
        self.cache = self.dir / "calibration.json"
        # Detection targets are judged on the classes the zones act on (rare classes no zone
        # watches would otherwise decide the search on a handful of boxes).
        self.judged = frozenset(c for z in zones.zones for c in z.classes)

    def quantize(self, excluded: Sequence[str], name: str) -> Path:
        out = self.dir / f"{name}.onnx"
        tools.quantize(self.prepared, out, self.input_name, self.tensors, excluded, self.cache)
        return out

    def attempt(self, order: str, k: int, excluded: tuple[str, ...], bar: ProgressBar) -> Attempt:
        path = self.quantize(excluded, f"{order}-{k}")
        int8 = _detector(self.spec, path)
        tally = agreement(self.fp32, int8, self.calib, self.zones)
        speed = interleaved_speed(self.fp32, int8, self.calib, self.args.search_runs)
        bar.update()
        return Attempt(order, k, excluded, tally.worst_class(self.judged), tally.zone_agreement_pct,
                       speed.ratio_median)  # fmt: skip


def _search(ws: _Workshop, targets: Targets) -> tuple[Attempt, list[Attempt]]:
    args = ws.args
    steps = 1 + 2 * len(ladder(len(ws.blocks), args.max_float_blocks)) - 1
    with ProgressBar(steps, "calibrate + search") as bar:
        base = ws.quantize(ws.head, "base")
        orders: list[tuple[str, Sequence[graph.Block]]] = [("graph-order", ws.blocks)]
        if args.max_float_blocks > 0:  # the loss debugger ranks blocks only if some may go float
            ranked = tools.rank_by_loss(
                ws.prepared, base, ws.input_name, ws.tensors[:4], ws.blocks, ws.dir
            )
            orders.append(("loss-debugger", ranked))
        bar.update()
        return search(ws.head, orders, args.max_float_blocks, targets,
                      lambda o, k, ex: ws.attempt(o, k, ex, bar))  # fmt: skip


def _measure(ws: _Workshop, path: Path, threads: list[int]) -> QuantCard:
    args = ws.args
    with ProgressBar(len(threads) * args.runs + 1, "measure on held-out frames") as bar:
        tally = agreement(ws.fp32, _detector(ws.spec, path), ws.held, ws.zones)
        bar.update()
        speed = []
        for t in threads:
            fp32, int8 = _detector(ws.spec, ws.spec.path, t), _detector(ws.spec, path, t)
            speed.append(interleaved_speed(fp32, int8, ws.held, args.runs, on_run=bar.update))
    classes = tuple(
        ClassAgreementFigures(name=n, precision=c.precision, recall=c.recall,
                              fp32_detections=c.reference, int8_detections=c.candidate)
        for n, c in sorted(tally.classes.items())
    )  # fmt: skip
    return QuantCard(
        scheme=tools.SCHEME, backend=ws.fp32.provider,
        calibration_sha256=tools.calibration_sha256(ws.tensors),
        calibration_frames=len(ws.calib), holdout_frames=len(ws.held),
        conf_threshold=ws.spec.conf_threshold, iou_match=IOU_MATCH, speed=tuple(speed),
        detection_agreement=classes, zone_agreement_pct=tally.zone_agreement_pct,
        zones_sha256=ws.zones.sha256, excluded_nodes=(),
        command=_command(args),
    )  # fmt: skip


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run, rebuilt from its parsed options."""
    argv = ["plantvision", "quantize", str(args.model), "--calibration", args.calibration,
            "--out", str(args.out), "--frames", str(args.frames)]  # fmt: skip
    options = {
        "--holdout": args.holdout, "--holdout-frames": args.holdout_frames, "--zones": args.zones,
        "--threads": args.threads, "--runs": args.runs, "--search-runs": args.search_runs,
        "--max-float-blocks": args.max_float_blocks, "--family": args.family,
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
    targets = Targets(args.min_class_agreement / 100, args.min_zone_agreement)
    ws = _Workshop(args, spec, zones)
    try:
        chosen, tried = _search(ws, targets)
        path = ws.dir / f"{chosen.order}-{chosen.blocks_in_float}.onnx"
        card = _measure(ws, path, threads).model_copy(update={"excluded_nodes": chosen.excluded})
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
    print(f"search on the {card.calibration_frames} calibration frames (head always float):")
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
    worst = min(
        (min(c.precision, c.recall) for c in card.detection_agreement if c.name in judged),
        default=1.0,
    )
    print(f"targets judged on the classes the zones watch: {', '.join(sorted(judged))}")
    ok = worst >= targets.min_class_agreement and (
        card.zone_agreement_pct >= targets.min_zone_agreement_pct
    )
    print("WITHIN TARGETS" if ok else "UNDER TARGETS: check and run refuse it below their "
          "int8_min_zone_agreement_pct")  # fmt: skip
    return 0 if ok else 1
