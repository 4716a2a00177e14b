"""`plantvision zones edit ZONEFILE (--image FILE | --deployment D --camera C)`: the zone editor.

The picture is an image file, or one frame grabbed now from a deployment's camera (the same
source the box would open; a simulated camera renders its scene). Nothing else of the
deployment runs and no box is contacted: new zones take effect when the box restarts.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from plantvision.commands.seam import scene_grabber
from plantvision.errors import ConfigError, MediaError
from plantvision.face.editor import ZoneDocument, ZoneEditor
from plantvision.loop.build import make_grabber
from plantvision.loop.deployment import load_deployment
from plantvision.types import ImageArray

GRAB_TIMEOUT_S = 15.0


def edit(args: argparse.Namespace) -> int:
    if args.edit_file is None:
        print("plantvision zones edit: give the ZONEFILE to edit")
        return 2
    if (args.image is None) == (args.deployment is None) or (
        args.deployment is not None and not args.camera
    ):
        print("plantvision zones edit: give --image FILE, or --deployment D --camera C")
        return 2
    zone_file = Path(args.edit_file)
    image = _read_image(args.image) if args.image else _grab(args.deployment, args.camera)
    ok, png = cv2.imencode(".png", image)
    if not ok:
        raise MediaError("the picture could not be encoded")
    doc = ZoneDocument(zone_file, camera=args.camera or zone_file.stem)
    editor = ZoneEditor(doc, bytes(png), "image/png", port=args.port)
    url = editor.start()
    print(f"zone editor for {zone_file}: {url}  (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        editor.stop()
    return 0


def _read_image(path: Path) -> ImageArray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise MediaError(f"{path}: not an image that OpenCV can read")
    return np.asarray(image, np.uint8)


def _grab(dep_file: Path, camera: str) -> ImageArray:
    """One frame from the deployment's camera, bounded in time (a dead stream can hang)."""
    dep = load_deployment(dep_file)
    cams = {c.id: c for c in dep.cameras}
    if camera not in cams:
        raise ConfigError(
            str(dep_file), "cameras", f"no camera {camera!r}", f"use one of {sorted(cams)}"
        )
    grabber = make_grabber(dep_file, cams[camera], time.monotonic_ns, scene_grabber)
    got: list[ImageArray | None] = []

    def grab() -> None:
        grabber.open()
        try:
            got.append(grabber.grab())
        finally:
            grabber.close()

    t = threading.Thread(target=grab, name="snapshot", daemon=True)
    t.start()
    t.join(GRAB_TIMEOUT_S)
    if not got or got[0] is None:
        raise MediaError(
            f"camera {camera!r} of {dep_file} gave no picture within "
            f"{GRAB_TIMEOUT_S:g} s; pass --image FILE instead"
        )
    return got[0]
