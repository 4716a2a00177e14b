"""PLC simulator: a real Modbus TCP server in front of a simulated machine."""

from simulators.plc.conveyor import ConveyorSimConfig, EjectorSite, ItemTruth
from simulators.plc.machine import Machine, MachineParams, Phase
from simulators.plc.server import PlcSimulator, SimConfig

__all__ = [
    "ConveyorSimConfig",
    "EjectorSite",
    "ItemTruth",
    "Machine",
    "MachineParams",
    "Phase",
    "PlcSimulator",
    "SimConfig",
]
