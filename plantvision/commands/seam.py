"""The one door between the product and its simulators.

A deployment that asks for the demo plant (`demo.plc_simulator: true`, a `source.kind: simulated`
camera) gets the scene camera and the PLC simulator through these functions, and `simulate` gets
the verifier. Nothing else in plantvision names `simulators`, and these import it only when
called, so `import plantvision` never loads a simulator (tests/test_rooms.py checks both).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from plantvision.frames.grabbers import Grabber
from plantvision.loop.build import SimulatedGrabber
from plantvision.loop.deployment import CameraModel, DeploymentModel


def scene_grabber(cam: CameraModel, base: Path, clock_ns: Callable[[], int]) -> Grabber:
    """A simulated camera that renders its scene scenario at the time of each grab."""
    from simulators.demo import scene_grabber as grabber

    return grabber(cam, base, clock_ns)


def start_demo_plant(
    dep: DeploymentModel, base: Path, log_path: Path | None = None
) -> tuple[Any, int, SimulatedGrabber]:
    """The PLC simulator in-process (simulator, port) and the simulated-camera factory."""
    from simulators.demo import start_demo_plant as start

    return start(dep, base, log_path)


def start_plc_simulator(dep: DeploymentModel) -> tuple[Any, int]:
    """The PLC simulator in this process: (simulator, port)."""
    from simulators.demo import start_plc_simulator as start

    return start(dep)


def spawn_plc_simulator(dep: DeploymentModel) -> tuple[subprocess.Popen[str], int]:
    """The PLC simulator in its own process: (process, port)."""
    from simulators.demo import spawn_plc_simulator as spawn

    return spawn(dep)


def describe_pulses(sim: Any) -> list[str]:
    """Report lines on the simulator's ejector pulses (none without a simulator)."""
    if sim is None:
        return []
    from simulators.demo import describe_pulses as describe

    return describe(sim)


def verifier() -> tuple[ModuleType, ModuleType]:
    """The deadline verifier's (suite, report) modules for `plantvision simulate`."""
    from simulators.verify import report, suite

    return suite, report


def planted_mutants() -> ModuleType:
    """The planted broken boxes for `plantvision simulate --mutants` (each runs in a verifier
    child process; nothing here or in the product installs one)."""
    from simulators.verify import mutants

    return mutants
