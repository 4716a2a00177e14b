"""SceneRenderer: any frame of a scenario at any time, with its ground truth.

`render(t_s)` is a pure function of the scenario (seed included) and `t_s`, so a real-time loop
can sample frames at whatever wall times it reaches. `render(t_s, belt_mm=P)` puts the belt at
travel P instead of the scenario's fixed speed times `t_s`, so another simulator (the PLC's belt)
can drive it. The frame is built as: static background,
moving belt joints, objects far to near (each drawn into an object-label image too), foreground
occluders, global light gain, sensor noise, blur. Truth boxes are read from the label image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from simulators.scene.background import draw_slats, static_background
from simulators.scene.figures import Look, WorkerTrack, draw_worker, make_look
from simulators.scene.items import Belt, draw_item
from simulators.scene.paint import Painter, label_boxes
from simulators.scene.scenario import SceneScenario
from simulators.scene.truth import DEFECT, ITEM, PERSON, GroundTruth

NOISE_PAD = 64  # one noise field, larger than the frame; each frame reads a shifted window
OCCLUDER = (85, 95, 105)
Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class _Obj:
    depth: float
    roi: tuple[int, int, int, int]
    kind: int
    ident: int
    belt_mm: float
    draw_args: tuple[object, ...]


class SceneRenderer:
    """Renders `scenario` frames; every random choice comes from `scenario.seed`."""

    def __init__(self, scenario: SceneScenario) -> None:
        sc = scenario
        self.scenario = sc
        self.size = (sc.height_px, sc.width_px)
        self._static = static_background(sc)
        self._tracks = [WorkerTrack(p, sc.width_px, sc.height_px) for p in sc.workers]
        self._looks: list[Look] = [
            make_look(np.random.default_rng([sc.seed, 2, i]), p.clothing)
            for i, p in enumerate(sc.workers)
        ]
        self._belt = Belt(sc.conveyor, sc.seed, sc.width_px, sc.height_px) if sc.conveyor else None
        rng = np.random.default_rng([sc.seed, 3])
        self._light_phase = float(rng.uniform(0, 2 * math.pi))
        sigma = sc.appearance.noise_sigma
        h, w = self.size
        noise = rng.normal(0, sigma, (h + NOISE_PAD, w + NOISE_PAD, 3)) if sigma > 0 else None
        # Saturating add of the positive part and subtract of the negative part: fast uint8 noise.
        self._noise_pos = None if noise is None else np.clip(noise, 0, 255).astype(np.uint8)
        self._noise_neg = None if noise is None else np.clip(-noise, 0, 255).astype(np.uint8)

    def _objects(self, t_s: float, belt_mm: float | None) -> list[_Obj]:
        sc = self.scenario
        h, _w = self.size
        persp = sc.appearance.perspective
        objs: list[_Obj] = []
        for i, (track, look) in enumerate(zip(self._tracks, self._looks, strict=True)):
            pose = track.pose(t_s)
            if pose is None:
                continue
            fx, fy = pose.feet_xy
            height = sc.workers[i].height * h * (persp + (1 - persp) * min(1.0, max(0.0, fy / h)))
            roi = (int(fx - 0.6 * height), int(fy - 1.2 * height), int(fx + 0.6 * height) + 2,
                   int(fy + 0.15 * height) + 2)  # fmt: skip
            objs.append(_Obj(fy, roi, PERSON, i, math.nan, (pose, look, height)))
        if self._belt is not None:
            size = self._belt.size_px
            travel = self._belt.travel_mm(t_s) if belt_mm is None else belt_mm
            for k, cx, cy, lk in self._belt.in_view(travel):
                roi = (int(cx - size), int(cy - size), int(cx + size) + 2, int(cy + size) + 2)
                kind = DEFECT if lk.defect else ITEM
                objs.append(_Obj(cy + size / 2, roi, kind, k, cx * self._belt.mm_per_px,
                                 (cx, cy, size, lk)))  # fmt: skip
        objs.sort(key=lambda o: o.depth)
        return objs[:254]  # label values 1..254

    def _background_at(self, t_s: float, belt_mm: float | None = None) -> Image:
        img = self._static.copy()
        if self._belt is not None:
            draw_slats(img, self._belt, self._belt.travel_mm(t_s) if belt_mm is None else belt_mm)
        return img

    def _finish(self, img: Image, label: Image | None, t_s: float) -> Image:
        sc, h, w = self.scenario, *self.size
        for box in sc.appearance.occluders:
            x0, y0, x1, y1 = (round(v * s) for v, s in zip(box, (w, h, w, h), strict=True))
            img[y0:y1, x0:x1] = OCCLUDER
            if label is not None:
                label[y0:y1, x0:x1] = 0
        a = sc.appearance
        mid, amp = (a.light_max + a.light_min) / 2, (a.light_max - a.light_min) / 2
        gain = mid + amp * math.sin(2 * math.pi * t_s / a.light_period_s + self._light_phase)
        out = cv2.convertScaleAbs(img, alpha=gain)
        if self._noise_pos is not None and self._noise_neg is not None:
            j = round(t_s * sc.fps)
            dy, dx = (j * 37) % NOISE_PAD, (j * 53) % NOISE_PAD
            window = np.s_[dy : dy + h, dx : dx + w]
            out = cv2.subtract(cv2.add(out, self._noise_pos[window]), self._noise_neg[window])
        if a.blur_px > 0:
            k = 2 * a.blur_px + 1
            out = cv2.GaussianBlur(out, (k, k), 0)
        frame: Image = out.astype(np.uint8, copy=False)
        return frame

    def render_background(self, t_s: float) -> Image:
        """The frame at `t_s` with every worker and item left out (for tests and masks)."""
        return self._finish(self._background_at(t_s), None, t_s)

    @property
    def belt(self) -> Belt | None:
        """The conveyor's item placement (None without a conveyor): item truth at any travel."""
        return self._belt

    def render(self, t_s: float, belt_mm: float | None = None) -> tuple[Image, GroundTruth]:
        """The BGR frame (height x width x 3 uint8) at scene time `t_s` and its ground truth;
        the belt at travel `belt_mm` when given, else at the scenario's speed times `t_s`."""
        bg = self._background_at(t_s, belt_mm)
        img = bg.copy()
        label = np.zeros(self.size, np.uint8)
        painter = Painter(img, label, bg)
        objs = self._objects(t_s, belt_mm)
        rois = np.array([o.roi for o in objs], np.int32).reshape(-1, 4)
        ids = np.arange(1, len(objs) + 1, dtype=np.int32)
        drawn = np.zeros(len(objs), np.int64)
        for n, o in enumerate(objs):
            painter.obj = n + 1
            if o.kind == PERSON:
                draw_worker(painter, *o.draw_args)  # type: ignore[arg-type]
            else:
                draw_item(painter, *o.draw_args)  # type: ignore[arg-type]
            drawn[n] = label_boxes(label, rois[n : n + 1], ids[n : n + 1])[1][0]
        frame = self._finish(img, label, t_s)
        boxes, visible = label_boxes(label, rois, ids)
        keep = visible > 0
        # Share of each object's (conservative) roi inside the frame: frame edges cut objects.
        h, w = self.size
        cw = np.clip(rois[:, 2], 0, w) - np.clip(rois[:, 0], 0, w)
        ch = np.clip(rois[:, 3], 0, h) - np.clip(rois[:, 1], 0, h)
        inside = cw * ch / np.maximum((rois[:, 2] - rois[:, 0]) * (rois[:, 3] - rois[:, 1]), 1)
        kinds = np.array([o.kind for o in objs], np.int32).reshape(-1)
        truth = GroundTruth(
            t_s=t_s,
            t_capture_ns=round(t_s * 1e9),
            xyxy=boxes[keep],
            class_id=kinds[keep],
            object_id=np.array([o.ident for o in objs], np.int64).reshape(-1)[keep],
            item_belt_mm=np.array([o.belt_mm for o in objs], np.float32).reshape(-1)[keep],
            defect=(kinds == DEFECT)[keep],
            visible_fraction=(visible / np.maximum(drawn, 1) * inside).astype(np.float32)[keep],
        )
        return frame, truth


__all__ = ["ITEM", "PERSON", "SceneRenderer"]
