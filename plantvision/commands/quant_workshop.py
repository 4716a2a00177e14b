"""The work of one `plantvision quantize` run: calibrate, search, measure on held-out frames.

The reference is always the FP32 original on onnxruntime (what a deployment runs by default):
every INT8 attempt, on whichever backend, is judged against its detections and zone verdicts,
and its speed against its bare `session.run`, interleaved.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from plantvision.commands.quant_frames import read_frames, split
from plantvision.detect import Detector, ModelSpec, load_detector
from plantvision.detect.agreement import AgreementTally
from plantvision.detect.preprocess import Preprocessor
from plantvision.detect.quant_card import BackendFigures, ClassAgreementFigures, SpeedFigures
from plantvision.detect.quantize import graph, tools
from plantvision.detect.quantize.measure import interleaved_times, speed_figures
from plantvision.detect.quantize.search import Attempt, Targets, ladder, search
from plantvision.detect.spec import Backend
from plantvision.progress import ProgressBar
from plantvision.types import ImageArray
from plantvision.zones.geometry import CompiledZones

IOU_MATCH = 0.5
REFERENCE_BACKEND: Backend = "onnxruntime"


def detector(spec: ModelSpec, path: Path, backend: Backend, threads: int = 1) -> Detector:
    """`spec`'s model at `path` on `backend` with `threads` inference threads."""
    update = {"path": path, "intra_op_threads": threads, "backend": backend}
    return load_detector(spec.model_copy(update=update))


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


class Workshop:
    """The prepared model, its calibration frames and the attempts, for `made_for`'s runtime."""

    def __init__(
        self, args: argparse.Namespace, spec: ModelSpec, zones: CompiledZones, made_for: Backend
    ) -> None:
        self.args, self.spec, self.zones, self.made_for = args, spec, zones, made_for
        self.dir = Path(tempfile.mkdtemp(prefix="plantvision-quantize-"))
        self.fp32 = detector(spec, spec.path, REFERENCE_BACKEND)
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
        self.cache = self.dir / f"calibration-{made_for}.json"
        # Detection targets are judged on the classes the zones act on (rare classes no zone
        # watches would otherwise decide the search on a handful of boxes).
        self.judged = frozenset(c for z in zones.zones for c in z.classes)

    def quantize(self, excluded: Sequence[str], name: str) -> Path:
        out = self.dir / f"{name}.onnx"
        tools.quantize(
            self.prepared, out, self.input_name, self.tensors, excluded, self.cache, self.made_for
        )
        return out

    def attempt(self, order: str, k: int, excluded: tuple[str, ...], bar: ProgressBar) -> Attempt:
        path = self.quantize(excluded, f"{order}-{k}")
        int8 = detector(self.spec, path, self.made_for)
        tally = agreement(self.fp32, int8, self.calib, self.zones)
        ref, cand = interleaved_times([self.fp32, int8], self.calib, self.args.search_runs)
        bar.update()
        return Attempt(order, k, excluded, tally.worst_class(self.judged), tally.zone_agreement_pct,
                       ref.median_ms / cand.median_ms)  # fmt: skip


def run_search(ws: Workshop, targets: Targets) -> tuple[Attempt, list[Attempt]]:
    """The measured search over conv blocks kept in float (search.py), with a progress bar."""
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


def _classes(tally: AgreementTally) -> tuple[ClassAgreementFigures, ...]:
    return tuple(
        ClassAgreementFigures(name=n, precision=c.precision, recall=c.recall,
                              fp32_detections=c.reference, int8_detections=c.candidate)
        for n, c in sorted(tally.classes.items())
    )  # fmt: skip


def measure(
    ws: Workshop, path: Path, threads: Sequence[int], backends: Sequence[Backend]
) -> tuple[BackendFigures, ...]:
    """The INT8 model at `path` on each backend, on the held-out frames: agreement with the
    reference (and the backend's own FP32 zone agreement), then speed, every backend's FP32 and
    INT8 sessions interleaved in one run per thread count."""
    args, spec = ws.args, ws.spec
    agreed: dict[Backend, tuple[AgreementTally, float, str]] = {}
    speeds: dict[Backend, list[SpeedFigures]] = {b: [] for b in backends}
    total = len(backends) + len(threads) * args.runs
    with ProgressBar(total, f"measure on held-out frames ({', '.join(backends)})") as bar:
        for b in backends:
            int8 = detector(spec, path, b)
            tally = agreement(ws.fp32, int8, ws.held, ws.zones)
            own = 100.0  # the reference backend's FP32 is the reference
            if b != REFERENCE_BACKEND:
                own = agreement(
                    ws.fp32, detector(spec, spec.path, b), ws.held, ws.zones
                ).zone_agreement_pct
            agreed[b] = (tally, own, int8.provider)
            bar.update()
        for t in threads:
            models = [detector(spec, p, b, t) for b in backends for p in (spec.path, path)]
            times = interleaved_times(models, ws.held, args.runs, on_run=bar.update)
            for i, b in enumerate(backends):
                speeds[b].append(speed_figures(times[2 * i], times[2 * i + 1], t, args.runs))
    return tuple(
        BackendFigures(backend=b, provider=agreed[b][2], speed=tuple(speeds[b]),
                       detection_agreement=_classes(agreed[b][0]),
                       zone_agreement_pct=agreed[b][0].zone_agreement_pct,
                       fp32_zone_agreement_pct=agreed[b][1])
        for b in backends
    )  # fmt: skip
