"""`plantvision detect --model M IMAGE_OR_VIDEO...`: detections as JSON lines on stdout."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from plantvision.commands.model_args import add_model_args, spec_from_args
from plantvision.detect import load_detector
from plantvision.frames.media import iter_media
from plantvision.types import Detections


def register(sub: Any) -> None:
    p = sub.add_parser("detect", help="run the detector on images or videos, print JSON lines")
    add_model_args(p)
    p.add_argument("media", nargs="+", type=Path, metavar="IMAGE_OR_VIDEO")
    p.add_argument("--every", type=int, default=1, help="video: every Nth frame (default 1)")
    p.add_argument("--max-frames", type=int, help="video: stop after this many frames")
    p.set_defaults(handler=run)


def detections_json(source: str, frame: int, hw: tuple[int, int], d: Detections) -> str:
    """One JSON line: source, frame index, image size and every detection, best first."""
    rows = [
        {
            "class": d.name_of(i),
            "class_id": int(d.class_id[i]),
            "score": round(float(d.confidence[i]), 4),
            "xyxy": [round(float(v), 1) for v in d.xyxy[i]],
        }
        for i in range(len(d))
    ]
    return json.dumps(
        {"source": source, "frame": frame, "height": hw[0], "width": hw[1], "detections": rows}
    )


def run(args: argparse.Namespace) -> int:
    if args.every < 1:
        raise SystemExit("plantvision detect: error: --every must be >= 1")
    detector = load_detector(spec_from_args(args))
    for path in args.media:
        for index, image in iter_media(path, args.every, args.max_frames):
            d = detector.detect(image)
            hw = (int(image.shape[0]), int(image.shape[1]))
            print(detections_json(str(path), index, hw, d), flush=False)
    sys.stdout.flush()
    return 0
