"""Compile a validated deployment into runtime objects, checking every referenced file first.

Nothing is started here: a deployment that fails any check raises before a thread runs or an
output is written. Simulated parts (scene camera) come in through `simulated_grabber`, which the
command line provides, so the product itself never imports its simulators.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plantvision.config import CameraModel, DeploymentModel
from plantvision.detect import Detector, ModelSpec, load_detector
from plantvision.errors import ConfigError
from plantvision.frame_health import FrozenDetector
from plantvision.frames import FrameSource
from plantvision.grabbers import Grabber, ImageFolderGrabber, OpenCvGrabber
from plantvision.guard import Guard
from plantvision.loop import CameraRuntime
from plantvision.zones import CompiledZones
from plantvision.zones_config import load_zone_file

SimulatedGrabber = Callable[[CameraModel, Path, Callable[[], int]], Grabber]


def resolve(base: Path, path: str | Path) -> Path:
    """A path from a deployment file, relative to that file's folder."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


@dataclass(frozen=True)
class CameraFiles:
    """The checked files one camera refers to."""

    zones: CompiledZones
    model: ModelSpec


def check_camera_files(dep_file: Path, index: int, cam: CameraModel) -> CameraFiles:
    """Every file a camera names exists and validates; errors name the deployment field."""
    base = dep_file.parent
    where = f"cameras[{index}]"
    zones_path = resolve(base, cam.zones)
    if not zones_path.is_file():
        raise ConfigError(
            str(dep_file),
            f"{where}.zones",
            f"zone file {zones_path} not found",
            "give a path relative to the deployment file",
        )
    zones = load_zone_file(zones_path)  # raises its own ConfigError naming the zone file
    model_path = resolve(base, cam.model.path)
    if not model_path.is_file():
        raise ConfigError(
            str(dep_file),
            f"{where}.model.path",
            f"model {model_path} not found",
            "give a path relative to the deployment file",
        )
    update: dict[str, Any] = {"path": model_path}
    if cam.model.names_file is not None:
        update["names_file"] = resolve(base, cam.model.names_file)
    src = cam.source
    if src.kind in ("video", "folder"):
        p = resolve(base, src.uri)
        if not (p.is_file() if src.kind == "video" else p.is_dir()):
            raise ConfigError(
                str(dep_file),
                f"{where}.source.uri",
                f"{src.kind} {p} not found",
                "give a path relative to the deployment file",
            )
    if src.kind == "simulated" and not resolve(base, src.scenario).is_file():
        raise ConfigError(
            str(dep_file),
            f"{where}.source.scenario",
            f"scenario {resolve(base, src.scenario)} not found",
        )
    return CameraFiles(zones, cam.model.model_copy(update=update))


def make_grabber(
    dep_file: Path,
    cam: CameraModel,
    clock_ns: Callable[[], int],
    simulated: SimulatedGrabber | None,
) -> Grabber:
    src, base = cam.source, dep_file.parent
    if src.kind == "simulated":
        if simulated is None:
            raise ConfigError(
                str(dep_file),
                "cameras.source.kind",
                "a simulated camera is only available to the demo commands",
            )
        return simulated(cam, base, clock_ns)
    if src.kind == "folder":
        return ImageFolderGrabber(str(resolve(base, src.uri)), src.fps, cam.id)
    uri = str(resolve(base, src.uri)) if src.kind == "video" else src.uri
    return OpenCvGrabber(uri, cam.id)


def build_cameras(
    dep: DeploymentModel,
    dep_file: Path,
    *,
    log: Any,
    clock_ns: Callable[[], int] = time.monotonic_ns,
    simulated: SimulatedGrabber | None = None,
    detectors: dict[str, Detector] | None = None,
) -> list[CameraRuntime]:
    """Check every camera's files, load its detector (with warm-up), and wire its runtime."""
    files = [check_camera_files(dep_file, i, c) for i, c in enumerate(dep.cameras)]
    cams = []
    for cam, f in zip(dep.cameras, files, strict=True):
        detector = (detectors or {}).get(cam.id) or load_detector(f.model)
        source = FrameSource(
            make_grabber(dep_file, cam, clock_ns, simulated),
            pace=cam.source.pace,
            loop=cam.source.loop,
            clock_ns=clock_ns,
            log=log.bind(camera=cam.id),
        )
        guard = Guard(
            dep.guard, f.zones.sha256, log.bind(camera=cam.id), warn_hold_ms=f.zones.warn_hold_ms()
        )
        cams.append(
            CameraRuntime(
                id=cam.id,
                source=source,
                detector=detector,
                zones=f.zones,
                guard=guard,
                budget_ns=int(cam.budget_ms * 1e6),
                overrun_trips=cam.overrun_policy == "trip",
                stall_ns=int(cam.stall_ms * 1e6),
                frozen=FrozenDetector(cam.frozen_frames),
                dark_max_mean=cam.dark.max_mean,
                dark_max_std=cam.dark.max_std,
            )
        )
    return cams
