"""PLC simulator: a real Modbus TCP server in front of a simulated machine."""

from simulators.plc.machine import Machine, MachineParams, Phase
from simulators.plc.server import PlcSimulator, SimConfig

__all__ = ["Machine", "MachineParams", "Phase", "PlcSimulator", "SimConfig"]
