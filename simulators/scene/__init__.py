"""Scene simulator: factory-cell camera frames with exact ground truth, deterministic by seed."""

from simulators.scene.render import SceneRenderer
from simulators.scene.scenario import (
    Appearance,
    Conveyor,
    SceneScenario,
    WorkerPath,
    load_scenario,
)
from simulators.scene.truth import CLASS_NAMES, GroundTruth

__all__ = [
    "CLASS_NAMES",
    "Appearance",
    "Conveyor",
    "GroundTruth",
    "SceneRenderer",
    "SceneScenario",
    "WorkerPath",
    "load_scenario",
]
