"""Frames for `plantvision quantize`: from a video, an image folder or a deployment's camera.

A source is a path: a video file, a folder of images, or `DEPLOYMENT.yaml[:CAMERA]` (that
camera's own source, the scene simulator for a simulated one). Frames are spread over the whole
file; from a live or simulated camera they are taken `LIVE_STRIDE` frames apart (a simulated
camera runs on a stepped clock, so its frames are the same on every run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from plantvision.commands.seam import scene_grabber
from plantvision.errors import ConfigError, MediaError
from plantvision.frames.grabbers import Grabber, ImageFolderGrabber, OpenCvGrabber
from plantvision.loop.build import CameraFiles, check_camera_files, make_grabber
from plantvision.loop.deployment import CameraModel, load_deployment
from plantvision.types import ImageArray

LIVE_STRIDE = 5
_DEPLOYMENT_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class CameraSource:
    """A deployment camera named as a source: its checked files come with it."""

    dep_file: Path
    index: int
    camera: CameraModel
    files: CameraFiles


def deployment_camera(source: str) -> CameraSource | None:
    """The camera a `DEPLOYMENT.yaml[:CAMERA]` source names (the first when none is named)."""
    path_text, _, cam_id = source.partition(":")
    path = Path(path_text)
    if path.suffix.lower() not in _DEPLOYMENT_SUFFIXES:
        return None
    dep = load_deployment(path)
    ids = [c.id for c in dep.cameras]
    index = ids.index(cam_id) if cam_id in ids else 0
    if cam_id and cam_id not in ids:
        raise ConfigError(str(path), "cameras", f"no camera {cam_id!r}", f"name one of {ids}")
    cam = dep.cameras[index]
    return CameraSource(path, index, cam, check_camera_files(path, index, cam, safety=dep.safety))


def _grabber(source: str) -> tuple[Grabber, bool]:
    """(grabber, finite): a file or folder ends; a live or simulated camera does not."""
    cam = deployment_camera(source)
    if cam is not None:
        step_ns = int(1e9 / cam.camera.source.fps)
        ticks = iter(range(0, 1 << 62, step_ns))
        clock: Callable[[], int] = lambda: next(ticks)  # noqa: E731  # a stepped clock
        grabber = make_grabber(cam.dep_file, cam.camera, clock, scene_grabber)
        return grabber, cam.camera.source.kind in ("video", "folder")
    path = Path(source)
    if path.is_dir():
        return ImageFolderGrabber(str(path), 1.0, "quantize"), True
    if not path.is_file():
        raise MediaError(f"{source}: not a video, an image folder or a deployment file")
    return OpenCvGrabber(str(path), "quantize"), True


def _count(source: str) -> int:
    grabber, _ = _grabber(source)
    grabber.open()
    try:
        n = 0
        while grabber.grab() is not None:
            n += 1
        return n
    finally:
        grabber.close()


def read_frames(source: str, count: int) -> list[ImageArray]:
    """`count` frames spread evenly over the source (or LIVE_STRIDE apart from a camera)."""
    grabber, finite = _grabber(source)
    stride = max(1, _count(source) // count) if finite else LIVE_STRIDE
    frames: list[ImageArray] = []
    grabber.open()
    try:
        index = 0
        while len(frames) < count:
            image = grabber.grab()
            if image is None:
                break
            if index % stride == 0:
                frames.append(image)
            index += 1
    finally:
        grabber.close()
    if not frames:
        raise MediaError(f"{source}: no frames could be read")
    return frames


def split(frames: list[ImageArray], calibration: int) -> tuple[list[ImageArray], list[ImageArray]]:
    """(calibration, held-out): `calibration` frames spread over `frames`, the rest held out."""
    if calibration >= len(frames):
        raise MediaError(
            f"{len(frames)} frames read: too few to hold any out after {calibration} for "
            "calibration (fewer --frames, or a longer source, or --holdout)"
        )
    step = len(frames) / calibration
    picked = {int(i * step) for i in range(calibration)}
    calib = [f for i, f in enumerate(frames) if i in picked]
    held = [f for i, f in enumerate(frames) if i not in picked]
    return calib, held
