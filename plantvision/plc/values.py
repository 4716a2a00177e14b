"""Values that cross the PLC seam, and the pure logic around them (no pymodbus, no sockets).

Consumers (guard, conveyor, loop) import from here so they never pull in the Modbus client.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

WordOrder = Literal["big", "little"]


@dataclass(frozen=True)
class PlcOutputs:
    """The output image the loop drives: permit, warning light, fault code. The default is the
    safe, tripped image. Ejector coils are not part of it: the ejector timer switches them on a
    connection of their own (`PlcPort.write_ejector`), so no image write can rewrite a coil with a
    stale value or make a coil wait behind it; a tripped image on the wire (reconnect, stop)
    switches every ejector off too."""

    permit: bool = False
    warning: bool = False
    fault_code: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.fault_code <= 0xFFFF:
            raise ValueError(f"fault_code {self.fault_code} does not fit a 16-bit register")

    def tripped(self, fault_code: int) -> PlcOutputs:
        """Permit off with `fault_code`; the warning as it was."""
        return PlcOutputs(False, self.warning, fault_code)

    def with_permit_off(self) -> PlcOutputs:
        """Same image with the permit off (what stop() leaves behind)."""
        return PlcOutputs(False, self.warning, self.fault_code)


@dataclass(frozen=True)
class PlcInputs:
    """One sample of the PLC inputs. `reset` is the level of the reset input (False when the
    map has none); guard.reset_button judges presses from the timed samples."""

    reset: bool
    encoder: int | None = None
    reject_confirm: bool | None = None
    machine_latched: bool | None = None  # None: the map has no such signal
    machine_stopped: bool | None = None  # standstill status; None: not mapped
    maintenance_reset: bool | None = None  # the maintenance reset input; None: not mapped
    # Readback: the permit the box last had acknowledged, and the coil as read now; both None
    # when an image write overlapped the read (no judgement possible).
    permit_written: bool | None = None
    permit_read_back: bool | None = None
    t_read_ns: int = field(default=0, compare=False)
    t_encoder_ns: int = field(default=0, compare=False)  # when the PLC sampled `encoder`
    # When the encoder's own request returned (its blur is this less t_encoder_ns); 0: unknown,
    # t_read_ns stands in.
    t_encoder_back_ns: int = field(default=0, compare=False)
    # Reject FIFO session, as counted from the PLC's echo since the link started: PLC restarts
    # noticed (each empties the FIFO shadow), entries it refused, entries lost to overflow.
    fifo_restarts: int = field(default=0, compare=False)
    fifo_refused: int = field(default=0, compare=False)
    fifo_overflow: int = field(default=0, compare=False)
    t_sample_ns: int = field(default=0, compare=False)  # the bits were sampled after this
    # The bin counters (raw 16-bit) per ejector index, read after t_sample_ns and before
    # t_read_ns; None: none mapped.
    confirm_counts: tuple[int, ...] | None = None

    @property
    def permit_mismatch(self) -> bool:
        """The PLC holds a permit the box did not write: another writer."""
        return self.permit_written is not None and self.permit_read_back != self.permit_written


def u32_to_words(value: int, order: WordOrder) -> list[int]:
    """A 32-bit unsigned value as two 16-bit registers in the given word order."""
    value &= 0xFFFFFFFF
    words = [value >> 16, value & 0xFFFF]
    return words if order == "big" else words[::-1]


def words_to_u32(words: list[int], order: WordOrder) -> int:
    """Two 16-bit registers back to a 32-bit unsigned value."""
    high, low = words if order == "big" else words[::-1]
    return ((high & 0xFFFF) << 16) | (low & 0xFFFF)


class VerdictEntry(Protocol):
    """What a reject FIFO write takes of a verdict (`plantvision.plc.fifo` lays it out): the
    ejector, the count at which the item arrives at its line (a range: its start and
    `end_count`), and the lead the PLC applies, ms."""

    @property
    def ejector_index(self) -> int: ...

    @property
    def arrival_count(self) -> int: ...

    @property
    def lead_ms(self) -> float: ...

    @property
    def end_count(self) -> int | None: ...


class PlcPort(Protocol):
    """The seam the loop drives: the real Modbus link and the in-memory fake both fit it."""

    @property
    def healthy(self) -> bool: ...

    def start(self) -> None: ...

    def write(self, outputs: PlcOutputs) -> float | None: ...

    def write_ejector(self, index: int, on: bool) -> bool: ...

    def read_inputs(self) -> PlcInputs | None: ...

    def write_verdicts(self, entries: Sequence[VerdictEntry]) -> bool: ...

    def stop(self) -> None: ...
