"""PLC: the box's side of the Modbus TCP link. Only `link.py` imports pymodbus (pinned 3.16.*:
its keywords changed across 3.x); everything else here is plain values.

    config.py  the PLC section of a deployment: host, timeouts, signal map
    values.py  output image, inputs, reset edge, 32-bit words
    coils.py   which coil writes carry the image, an ejector switch, a tripped block
    fifo.py    the reject FIFO block layout (PLC-timed rejects)
    link.py    PlcLink: three connections, heartbeat, loss detection, reconnect

`PlcLink` is imported on first use, so the pure parts load without pymodbus.
"""

from typing import TYPE_CHECKING, Any

from plantvision.plc.config import PlcConfig
from plantvision.plc.values import PlcInputs, PlcOutputs

if TYPE_CHECKING:
    from plantvision.plc.link import PlcLink

__all__ = ["PlcConfig", "PlcInputs", "PlcLink", "PlcOutputs"]


def __getattr__(name: str) -> Any:
    if name == "PlcLink":
        from plantvision.plc.link import PlcLink

        return PlcLink
    raise AttributeError(name)
