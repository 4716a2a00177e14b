"""Realism check: how well a real COCO detector (YOLOX-Nano) finds the rendered workers.

A model trained on real photos that finds our figures says they look like people, not only
like the shapes our own detector was trained on. Pre- and post-processing follow
shared/data/SOURCES.md exactly (BGR, 0..255, top-left letterbox with 114, obj x class score).

    python -m simulators.scene.realism --model ../shared/data/models/yolox_nano.onnx
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from simulators.scene.evaluate import match_counts, nms
from simulators.scene.randomize import random_scenario
from simulators.scene.render import SceneRenderer
from simulators.scene.truth import PERSON

SIZE = 416
STRIDES = (8, 16, 32)


def _grid() -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    cells, strides = [], []
    for s in STRIDES:
        n = SIZE // s
        ys, xs = np.mgrid[0:n, 0:n]
        cells.append(np.stack([xs.ravel(), ys.ravel()], 1))
        strides.append(np.full(n * n, s))
    return np.concatenate(cells).astype(np.float32), np.concatenate(strides).astype(np.float32)


def yolox_persons(
    session: ort.InferenceSession, image: npt.NDArray[np.uint8], conf: float = 0.3
) -> npt.NDArray[np.float32]:
    """Person boxes (xyxy, original pixels) found by YOLOX-Nano in a BGR image."""
    h, w = image.shape[:2]
    r = min(SIZE / h, SIZE / w)
    canvas = np.full((SIZE, SIZE, 3), 114, np.uint8)
    canvas[: int(h * r), : int(w * r)] = cv2.resize(image, (int(w * r), int(h * r)))
    blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)
    out = session.run(None, {session.get_inputs()[0].name: blob})[0][0]
    cells, strides = _grid()
    score = out[:, 4] * out[:, 5]  # objectness x person probability
    keep = score >= conf
    xy = (out[keep, :2] + cells[keep]) * strides[keep, None]
    wh = np.exp(out[keep, 2:4]) * strides[keep, None]
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], 1) / r
    persons: npt.NDArray[np.float32] = boxes[nms(boxes, score[keep], 0.45)].astype(np.float32)
    return persons


def person_recall(model: Path, scenes: int, frames: int, seed: int) -> tuple[float, int, int]:
    """(recall at IoU 0.5, matched, total) over person truth boxes that are not hard."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    hit = total = 0
    for i in range(scenes):
        sc = random_scenario(seed + i)
        renderer = SceneRenderer(sc)
        for t in np.linspace(1.0, sc.duration_s - 1.0, frames):
            img, gt = renderer.render(float(t))
            mask = (gt.class_id == PERSON) & ~gt.hard_mask()
            if mask.any():
                tp, _ = match_counts(gt.xyxy[mask], yolox_persons(session, img))
                hit, total = hit + tp, total + int(mask.sum())
    return hit / max(total, 1), hit, total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="yolox_nano.onnx")
    ap.add_argument("--scenes", type=int, default=20, help="random scenarios to render")
    ap.add_argument("--frames", type=int, default=5, help="frames per scenario")
    ap.add_argument("--seed", type=int, default=900000, help="first scenario seed")
    a = ap.parse_args(argv)
    recall, hit, total = person_recall(a.model, a.scenes, a.frames, a.seed)
    print(f"yolox_nano person recall@0.5 on rendered workers: {recall:.3f} ({hit}/{total})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
