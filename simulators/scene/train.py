"""Train the cell detector on rendered scenes and export it as YOLOv8-layout ONNX.

torch is a training-time dependency only (`pip install .[train]`); the product runs the ONNX
file with onnxruntime. Frames are rendered on the fly from random scenarios, so the model never
sees the same frame twice and the held-out seeds (evaluate.py) are never trained on.

    python -m simulators.scene.train --out plantvision/models/cell_detector.onnx --epochs 30
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
import numpy.typing as npt
import onnx
import torch

from simulators.scene.randomize import random_scenario
from simulators.scene.render import SceneRenderer
from simulators.scene.tinydet import STRIDE, TinyDet, detection_loss
from simulators.scene.truth import CLASS_NAMES, GroundTruth

T = TypeVar("T", bound=np.generic)
WIDTH, HEIGHT = 320, 240
CONF_THRESHOLD = 0.55  # chosen on validation seeds 500000-500029 (see the model card)
CENTRE_RADIUS = 2.5  # positives lie within this many strides of a box centre
TRAIN_SEED_BASE = 1_000_000  # training scenarios; evaluation uses seeds below this


def targets(
    gt: GroundTruth, sx: float, sy: float, anchors: npt.NDArray[np.float32]
) -> tuple[
    npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.bool_], npt.NDArray[np.bool_]
]:
    """FCOS-style assignment: (one-hot [C, N], xyxy [4, N], positive [N], valid [N])."""
    n = anchors.shape[1]
    cls_t = np.zeros((len(CLASS_NAMES), n), np.float32)
    box_t = np.zeros((4, n), np.float32)
    best_area = np.full(n, np.inf, np.float32)
    valid = np.ones(n, bool)
    boxes = gt.xyxy * np.array([sx, sy, sx, sy], np.float32)
    hard = gt.hard_mask()
    ax, ay = anchors[0], anchors[1]
    for b, c, h in zip(boxes, gt.class_id, hard, strict=True):  # a handful of boxes per frame
        inside = (ax > b[0]) & (ax < b[2]) & (ay > b[1]) & (ay < b[3])
        if h:
            valid &= ~inside
            continue
        cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        r = CENTRE_RADIUS * STRIDE
        near = inside & (np.abs(ax - cx) < r) & (np.abs(ay - cy) < r)
        near[int(np.argmin((ax - cx) ** 2 + (ay - cy) ** 2))] = True
        area = (b[2] - b[0]) * (b[3] - b[1])
        win = near & (area < best_area)
        best_area[win] = area
        cls_t[:, win] = 0
        cls_t[int(c), win] = 1
        box_t[:, win] = b[:, None]
    pos = np.isfinite(best_area)
    return cls_t, box_t, pos, valid | pos


class Stream:
    """Endless training batches from a pool of random scenarios, refreshed as it goes."""

    def __init__(self, seed: int, pool: int = 24) -> None:
        self.rng = np.random.default_rng(seed)
        self.next_seed = TRAIN_SEED_BASE + seed * 100_000
        self.pool = [self._new() for _ in range(pool)]

    def _new(self) -> SceneRenderer:
        self.next_seed += 1
        return SceneRenderer(random_scenario(self.next_seed))

    def batch(self, size: int, anchors: npt.NDArray[np.float32]) -> tuple[torch.Tensor, ...]:
        for _ in range(2):  # replace two scenarios per batch: variety at little cost
            self.pool[int(self.rng.integers(len(self.pool)))] = self._new()
        imgs: list[npt.NDArray[np.generic]] = []
        parts: list[list[npt.NDArray[np.generic]]] = [[], [], [], []]
        for _ in range(size):
            r = self.pool[int(self.rng.integers(len(self.pool)))]
            img, gt = r.render(float(self.rng.uniform(0, r.scenario.duration_s)))
            sx, sy = WIDTH / img.shape[1], HEIGHT / img.shape[0]
            x = cv2.resize(img, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
            t = targets(gt, sx, sy, anchors)
            if self.rng.random() < 0.5:  # mirror: boxes flip, the anchor grid is symmetric
                x = x[:, ::-1]
                t = _flip(*t, WIDTH)
            imgs.append(x.transpose(2, 0, 1))
            for acc, arr in zip(parts, t, strict=True):
                acc.append(arr)
        images = torch.from_numpy(np.ascontiguousarray(np.stack(imgs))).float() / 255.0
        return (images, *(torch.from_numpy(np.stack(a)) for a in parts))


def _mirror(a: npt.NDArray[T], grid_w: int) -> npt.NDArray[T]:
    """Reverse the anchor axis (last, row-major over the grid) left to right."""
    out: npt.NDArray[T] = a.reshape(*a.shape[:-1], -1, grid_w)[..., ::-1].reshape(a.shape)
    return out


def _flip(
    c: npt.NDArray[np.float32],
    b: npt.NDArray[np.float32],
    p: npt.NDArray[np.bool_],
    v: npt.NDArray[np.bool_],
    width: int,
) -> tuple[
    npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.bool_], npt.NDArray[np.bool_]
]:
    """Targets of the mirrored image: anchors swap left-right and box x edges reflect."""
    gw = width // STRIDE
    b = _mirror(b, gw).copy()
    b[[0, 2]] = width - b[[2, 0]]
    return _mirror(c, gw), b, _mirror(p, gw), _mirror(v, gw)


def export(model: TinyDet, out: Path, meta: dict[str, str]) -> None:
    """ONNX with input `images` [1,3,H,W] and output `output0` [1,4+C,N], plus metadata."""
    model.eval()
    dummy = torch.zeros(1, 3, HEIGHT, WIDTH)
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated but needs no onnxscript; its graph is plain ops.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (dummy,), str(out), input_names=["images"],
                          output_names=["output0"], opset_version=17, dynamo=False)  # fmt: skip
    m = onnx.load(str(out))
    for k, v in meta.items():
        m.metadata_props.add(key=k, value=v)
    onnx.save(m, str(out))


def metadata(seed: int, command: str) -> dict[str, str]:
    names = {i: n for i, n in enumerate(CLASS_NAMES)}
    return {
        "family": "yolov8", "task": "detect", "names": repr(names),
        "class_names": ",".join(CLASS_NAMES), "imgsz": repr([HEIGHT, WIDTH]),
        "imgsz_wh": repr([WIDTH, HEIGHT]), "resize": "stretch", "channel_order": "bgr",
        "scale": "1/255", "conf_threshold": str(CONF_THRESHOLD), "nms_iou": "0.45",
        "output_layout": "[1, 4+C, N]: cx, cy, w, h in input pixels, then sigmoid class scores",
        "author": "plantvision", "data_seed": str(seed), "train_command": command,
    }  # fmt: skip


def train(
    out: Path, epochs: int, epoch_size: int, batch: int, seed: int, lr: float, pool: int = 24
) -> None:
    """Train from scratch on rendered frames and export to `out` (also every 500 steps)."""
    torch.manual_seed(seed)
    model = TinyDet(len(CLASS_NAMES), WIDTH, HEIGHT)
    anchors = model.anchors.numpy()
    stream = Stream(seed, pool)
    meta = metadata(seed, "python -m simulators.scene.train " + " ".join(sys.argv[1:]))
    steps = max(1, epochs * epoch_size // batch)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.05)
    t0 = time.monotonic()
    model.train()
    for step in range(steps):
        focal, box = detection_loss(model, *stream.batch(batch, anchors))
        loss = focal + 2.0 * box
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step}/{steps} focal {focal.item():.3f} giou {box.item():.3f} "
                  f"{time.monotonic() - t0:.0f}s", flush=True)  # fmt: skip
        if step % 500 == 499:  # a usable model survives an interrupted run
            export(model, out, meta)
            model.train()
    export(model, out, meta)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="ONNX file to write")
    ap.add_argument("--epochs", type=int, default=30, help="passes of --epoch-size frames")
    ap.add_argument("--epoch-size", type=int, default=1000, help="frames per epoch")
    ap.add_argument("--batch", type=int, default=16, help="frames per step")
    ap.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    ap.add_argument("--seed", type=int, default=0, help="data and weight seed")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    train(a.out, a.epochs, a.epoch_size, a.batch, a.seed, a.lr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
