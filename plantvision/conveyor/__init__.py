"""Defect rejection on a conveyor: belt position, item tracking, ejector scheduling.

The pure part (re-exported here) imports no camera, inference or Modbus library (a test checks
it): the loop passes in the clock, the encoder count and the detections, and carries out the
returned `Actions`. Its entry is `RejectScheduler` (scheduler.py), whose docstring maps the
modules it is made of (rejects, placing, box_timed, plc_timed, landing, push_checks,
bin_windows, blind). Carrying the actions out is the shell's half, imported by name, not from
here:

    runtime.py  RejectRuntime: one camera's scheduler, ejector timer and PLC verdicts
    timer.py    EjectorTimer: sleeps, then spins the last part, to switch a coil on time
"""

from plantvision.conveyor.actions import (
    Actions,
    Alarm,
    FirePlan,
    MissedReject,
    PlcVerdict,
    PushConflict,
    RejectCounters,
)
from plantvision.conveyor.belt import COUNT_MODULUS, Belt, wrap_delta
from plantvision.conveyor.config import (
    BeltModel,
    ConveyorConfig,
    EjectorModel,
    EncoderModel,
    MappingModel,
)
from plantvision.conveyor.mapping import ImageToBelt
from plantvision.conveyor.scheduler import ConveyorTracker, RejectScheduler
from plantvision.conveyor.tracker import ItemTracker

__all__ = [
    "COUNT_MODULUS",
    "Actions",
    "Alarm",
    "Belt",
    "BeltModel",
    "ConveyorConfig",
    "ConveyorTracker",
    "EjectorModel",
    "EncoderModel",
    "FirePlan",
    "ImageToBelt",
    "ItemTracker",
    "MappingModel",
    "MissedReject",
    "PlcVerdict",
    "PushConflict",
    "RejectCounters",
    "RejectScheduler",
    "wrap_delta",
]
