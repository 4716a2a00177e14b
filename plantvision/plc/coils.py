"""Where the output coils sit, and which coil writes carry an image (pure: no pymodbus).

Two writers share the output coils on separate connections: the image (permit, warning) on the
safety connection every cycle, the ejector coils from the ejector timer on their own (the
ejector child's connection, or the link's ejector connection). Each write
covers only its own coils, placed by the signal map's addresses (never by position), so neither
writer can rewrite the other's coils with a stale value. A tripped image that must leave every
coil safe (the reconnect's first write, stop) covers the whole output block in one write_coils:
the map keeps permit, warning and ejectors contiguous for that (plc.config).
"""

from __future__ import annotations

from dataclasses import dataclass

from plantvision.plc.config import SignalMap
from plantvision.plc.values import PlcOutputs

CoilWrite = tuple[int, list[bool]]  # (first address, values): one write_coils request


@dataclass(frozen=True)
class CoilLayout:
    """The output coils' addresses, from a validated signal map."""

    permit: int
    warning: int | None
    ejectors: tuple[int, ...]

    @classmethod
    def of(cls, signals: SignalMap) -> CoilLayout:
        warning = None if signals.warning is None else signals.warning.address
        return cls(signals.permit.address, warning, tuple(s.address for s in signals.ejectors))

    def image(self, out: PlcOutputs) -> list[CoilWrite]:
        """The writes for permit and warning: one when they are adjacent, else the permit's
        first (it is the one that stops the machine)."""
        if self.warning is None:
            return [(self.permit, [out.permit])]
        if abs(self.warning - self.permit) == 1:
            lo = min(self.permit, self.warning)
            values = {self.permit: out.permit, self.warning: out.warning}
            return [(lo, [values[lo], values[lo + 1]])]
        return [(self.permit, [out.permit]), (self.warning, [out.warning])]

    def tripped_block(self, out: PlcOutputs) -> CoilWrite:
        """One write over the whole output block: permit and warning as in `out` (a tripped
        image), every ejector coil off."""
        values = {a: False for a in self.ejectors} | {self.permit: out.permit}
        if self.warning is not None:
            values[self.warning] = out.warning
        lo = min(values)
        return lo, [values[a] for a in range(lo, max(values) + 1)]

    def ejector(self, index: int) -> int:
        """The coil address of ejector `index` (into plc.signals.ejectors)."""
        if not 0 <= index < len(self.ejectors):
            raise ValueError(f"ejector index {index}: the map has {len(self.ejectors)} ejectors")
        return self.ejectors[index]
