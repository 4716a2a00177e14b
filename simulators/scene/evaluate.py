"""Score a YOLOv8-layout ONNX detector on held-out rendered scenes: precision / recall @ IoU 0.5.

The decode here is a small pure-numpy one (stretch resize, BGR, /255, output [1, 4+C, N] with
cx, cy, w, h in input pixels and sigmoid class scores) so the simulator does not depend on the
product's detector; plantvision.detect must decode the same model to the same boxes.

    python -m simulators.scene.evaluate --model plantvision/models/cell_detector.onnx
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from simulators.scene.randomize import random_scenario
from simulators.scene.render import SceneRenderer
from simulators.scene.truth import CLASS_NAMES

F32 = npt.NDArray[np.float32]


def iou_matrix(a: F32, b: F32) -> F32:
    """Pairwise IoU of xyxy boxes, len(a) x len(b)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    iou: F32 = (inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)).astype(
        np.float32
    )
    return iou


def nms(boxes: F32, scores: F32, iou: float) -> npt.NDArray[np.intp]:
    """Indices kept by greedy NMS, highest score first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    ious = iou_matrix(boxes, boxes)
    suppressed = np.zeros(len(boxes), bool)
    for i in order:  # a few dozen candidates per frame after the score threshold
        if not suppressed[i]:
            keep.append(int(i))
            suppressed |= ious[i] > iou
    return np.array(keep, np.intp)


def match_counts(truth: F32, dets: F32, ignore: F32 | None = None) -> tuple[int, int]:
    """(true positives, false positives) of score-ordered `dets` against `truth` at IoU 0.5.

    A detection that matches no truth box but overlaps an `ignore` box (IoU >= 0.5) counts
    as neither.
    """
    used = np.zeros(len(truth), bool)
    tp = fp = 0
    ious = iou_matrix(dets, truth) if len(truth) else np.zeros((len(dets), 0), np.float32)
    ign = iou_matrix(dets, ignore) if ignore is not None and len(ignore) else None
    for d in range(len(dets)):
        cand = np.where(used, -1.0, ious[d]) if len(truth) else np.zeros(0)
        if len(cand) and cand.max() >= 0.5:
            used[int(cand.argmax())] = True
            tp += 1
        elif ign is None or ign[d].max() < 0.5:
            fp += 1
    return tp, fp


@dataclass(frozen=True, slots=True)
class Yolov8Onnx:
    """Minimal runner for the project's model: reads its size and threshold from metadata."""

    session: ort.InferenceSession
    width: int
    height: int
    conf: float

    @classmethod
    def load(cls, path: Path, threads: int = 1) -> Yolov8Onnx:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        s = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        meta = s.get_modelmeta().custom_metadata_map
        w, h = ast.literal_eval(meta["imgsz_wh"])
        return cls(s, int(w), int(h), float(meta["conf_threshold"]))

    def infer(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        x = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        blob = x.transpose(2, 0, 1)[None].astype(np.float32) / np.float32(255.0)
        out: npt.NDArray[np.float32] = self.session.run(None, {"images": blob})[0]
        return out

    def detect(self, image: npt.NDArray[np.uint8]) -> tuple[F32, npt.NDArray[np.intp], F32]:
        """(xyxy in image pixels, class id, score) after class-aware NMS at IoU 0.45."""
        out = self.infer(image)[0]
        scores = out[4:].max(axis=0)
        cls = out[4:].argmax(axis=0)
        keep = scores >= self.conf
        cx, cy, w, h = out[:4, keep]
        sx, sy = image.shape[1] / self.width, image.shape[0] / self.height
        boxes = np.stack(
            [(cx - w / 2) * sx, (cy - h / 2) * sy, (cx + w / 2) * sx, (cy + h / 2) * sy], 1
        )
        offset = cls[keep, None].astype(np.float32) * 1e4  # class-aware NMS in one call
        k = nms((boxes + offset).astype(np.float32), scores[keep], 0.45)
        return boxes[k].astype(np.float32), cls[keep][k], scores[keep][k]


class BoxDetector(Protocol):
    def detect(self, image: npt.NDArray[np.uint8]) -> tuple[F32, npt.NDArray[np.intp], F32]: ...


def evaluate(
    model: BoxDetector, seeds: range, frames: int, count_hard: bool = False
) -> dict[str, tuple[int, int, int]]:
    """Per class (tp, fp, fn) over `frames` frames of each random scenario in `seeds`.

    Hard truth (mostly hidden or tiny, `GroundTruth.hard_mask`) is neither a miss nor a false
    positive, unless `count_hard`: then every truth box must be found.
    """
    counts = {n: [0, 0, 0] for n in CLASS_NAMES}
    for seed in seeds:
        sc = random_scenario(seed)
        renderer = SceneRenderer(sc)
        for t in np.linspace(0.5, sc.duration_s - 0.5, frames):
            img, gt = renderer.render(float(t))
            boxes, cls, _ = model.detect(img)
            hard = gt.hard_mask() & (not count_hard)
            for c, name in enumerate(CLASS_NAMES):
                want = (gt.class_id == c) & ~hard
                ignore = gt.xyxy[(gt.class_id == c) & hard]
                tp, fp = match_counts(gt.xyxy[want], boxes[cls == c], ignore)
                counts[name][0] += tp
                counts[name][1] += fp
                counts[name][2] += int(want.sum()) - tp
    return {k: (v[0], v[1], v[2]) for k, v in counts.items()}


def table(counts: dict[str, tuple[int, int, int]]) -> str:
    lines = ["| class | precision | recall | tp | fp | fn |", "|---|---:|---:|---:|---:|---:|"]
    for name, (tp, fp, fn) in counts.items():
        p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        lines.append(f"| {name} | {p:.3f} | {r:.3f} | {tp} | {fp} | {fn} |")
    return "\n".join(lines)


def latency_ms(model: Yolov8Onnx, runs: int = 50) -> tuple[float, float]:
    """(median, p99) of session.run alone on a rendered frame, in ms."""
    img, _ = SceneRenderer(random_scenario(0)).render(1.0)
    x = cv2.resize(img, (model.width, model.height)).transpose(2, 0, 1)[None]
    blob = x.astype(np.float32) / np.float32(255.0)
    times = []
    for i in range(runs + 10):
        t0 = time.perf_counter_ns()
        model.session.run(None, {"images": blob})
        if i >= 10:
            times.append((time.perf_counter_ns() - t0) / 1e6)
    return float(np.median(times)), float(np.percentile(times, 99))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=Path("plantvision/models/cell_detector.onnx"))
    ap.add_argument("--seed", type=int, default=500000, help="first held-out scenario seed")
    ap.add_argument("--scenes", type=int, default=60, help="held-out scenarios")
    ap.add_argument("--frames", type=int, default=10, help="frames per scenario")
    ap.add_argument("--conf", type=float, help="confidence threshold (default: the card's)")
    ap.add_argument(
        "--count-hard", action="store_true", help="count mostly hidden and tiny boxes as misses"
    )
    a = ap.parse_args(argv)
    model = Yolov8Onnx.load(a.model)
    if a.conf is not None:
        model = dataclasses.replace(model, conf=a.conf)
    print(f"conf {model.conf:g}, {'every truth box' if a.count_hard else 'hard boxes ignored'}")
    print(table(evaluate(model, range(a.seed, a.seed + a.scenes), a.frames, a.count_hard)))
    med, p99 = latency_ms(model)
    print(f"session.run, 1 thread: median {med:.2f} ms, p99 {p99:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
