"""loop-bench's reference column: the YOLOX pipeline a user would write by hand.

YOLOX's own demo pre-processing (top-left letterbox padded with 114, BGR, 0-255), a numpy decode
of every anchor, OpenCV's batched NMS, supervision's `PolygonZone` on the boxes' bottom centres,
and a synchronous pymodbus `write_coil`. It shares no code with the product's detector, zones or
PLC link on purpose: it is what the product is measured against, and the bench prints how often
the two agree on the stop zones so an unfair reference shows. Needs the `bench` extra
(supervision); it is never imported by the product.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort
import yaml
from pymodbus.client import ModbusTcpClient

STRIDES = (8, 16, 32)


def available() -> str | None:
    """None when the reference can run, else why not."""
    if importlib.util.find_spec("supervision") is None:
        return "install the bench extra (pip install -e '.[bench]') for supervision"
    return None


class UserPipeline:
    """One frame in, the stop zones' verdict out, the coil written and acknowledged."""

    def __init__(
        self,
        model: Path,
        zone_file: Path,
        names: list[str],
        conf: float,
        iou: float,
        threads: int,
        plc: tuple[str, int, int, int],
    ) -> None:
        import supervision as sv

        self.sv = sv
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        self.sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        inp = self.sess.get_inputs()[0]
        self.name, (self.h, self.w) = inp.name, tuple(int(d) for d in inp.shape[2:4])
        self.conf, self.iou = conf, iou
        grids, strides = [], []
        for s in STRIDES:
            ys, xs = np.meshgrid(np.arange(self.h // s), np.arange(self.w // s), indexing="ij")
            grids.append(np.stack([xs, ys], axis=-1).reshape(-1, 2))
            strides.append(np.full((grids[-1].shape[0], 1), s))
        self.grid = np.concatenate(grids).astype(np.float32)
        self.stride = np.concatenate(strides).astype(np.float32)
        spec = yaml.safe_load(zone_file.read_text())
        self.person = names.index("person")
        self.zones = [
            sv.PolygonZone(np.array(z["polygon"], dtype=np.int32), (sv.Position.BOTTOM_CENTER,))
            for z in spec["zones"]
            if z["kind"] == "stop"
        ]
        host, port, unit, self.coil = plc
        self.unit = unit
        self.client = ModbusTcpClient(host, port=port, timeout=1.0)
        self.client.connect()  # type: ignore[no-untyped-call]

    def __call__(self, image: np.ndarray[Any, Any]) -> bool:
        r = min(self.h / image.shape[0], self.w / image.shape[1])
        nh, nw = int(image.shape[0] * r), int(image.shape[1] * r)
        canvas = np.full((self.h, self.w, 3), 114, dtype=np.uint8)
        canvas[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)
        out = self.sess.run(None, {self.name: blob})[0][0]
        xy = (out[:, :2] + self.grid) * self.stride
        wh = np.exp(out[:, 2:4]) * self.stride
        scores = out[:, 4:5] * out[:, 5:]
        cls = scores.argmax(axis=1)
        best = scores[np.arange(len(cls)), cls]
        keep = best >= self.conf
        xy, wh, best, cls = xy[keep], wh[keep], best[keep], cls[keep]
        boxes = np.concatenate([xy - wh / 2, wh], axis=1)
        found = cv2.dnn.NMSBoxesBatched(boxes.tolist(), best.tolist(), cls.tolist(), self.conf,
                                        self.iou)  # fmt: skip
        idx = np.asarray(found, dtype=np.int64).reshape(-1)
        xyxy = np.concatenate([boxes[idx, :2], boxes[idx, :2] + boxes[idx, 2:]], axis=1) / r
        det = self.sv.Detections(xyxy=xyxy, confidence=best[idx], class_id=cls[idx])
        people = det[det.class_id == self.person]
        assert isinstance(people, self.sv.Detections)
        occupied = any(bool(zone.trigger(people).any()) for zone in self.zones)
        self.client.write_coil(self.coil, not occupied, device_id=self.unit)
        return occupied

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]
