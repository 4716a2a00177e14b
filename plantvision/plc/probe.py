"""A read-only look at the PLC's encoder count: one Modbus connection that never writes.

`plantvision capture-latency` reads the belt while someone else holds the run permit (the running
service, or the PLC's own jog mode). `PlcLink` cannot be that reader: it writes the tripped image
(permit off) when it connects, which would stop the cell it is measuring, and it beats the
heartbeat. The probe only reads the encoder register, and stamps each count at the middle of
its request's round trip (the PLC sampled it somewhere in it, as `PlcLink.read_inputs` stamps
it), with half that trip as the reading's blur. pymodbus stays in plc.link.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from plantvision.errors import ConfigError, PlantvisionError
from plantvision.plc.config import PlcConfig
from plantvision.plc.link import LinkError, ModbusConn, encoder_count, read_registers


class PlcUnreachableError(PlantvisionError):
    """The PLC did not answer the probe (connect, or a read)."""


@dataclass(frozen=True, slots=True)
class CountReading:
    """The raw encoder count, when the PLC sampled it (the round trip's midpoint, monotonic ns)
    and half the round trip (how far off that stamp can be)."""

    count: int
    t_ns: int
    half_rtt_ns: int


class EncoderProbe:
    """Reads `plc.signals.encoder` over its own connection; writes nothing."""

    def __init__(self, cfg: PlcConfig, file: str, clock: Callable[[], int] = time.monotonic_ns):
        if cfg.signals.encoder is None:
            raise ConfigError(
                file, "plc.signals.encoder", "no encoder signal is mapped",
                "map the PLC register that carries the belt's encoder count",
            )  # fmt: skip
        self._cfg, self._enc, self._clock = cfg, cfg.signals.encoder, clock
        self._conn = ModbusConn(cfg, "probe", lambda: None)

    @property
    def width(self) -> int:
        """The encoder register's width in bits (16 or 32)."""
        return self._enc.width

    def open(self) -> None:
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # the error below says it
        if not self._conn.connect():
            raise PlcUnreachableError(
                f"no answer from the PLC at {self._cfg.host}:{self._cfg.port} (plc.host, "
                "plc.port): is it on, and reachable from this box?"
            )

    def read(self) -> CountReading:
        """One reading; raises `PlcUnreachableError` when the request fails."""
        enc = self._enc
        try:
            with self._conn.lock:
                t0 = self._clock()
                words = read_registers(self._conn, enc.type, enc.address, enc.span)
                t1 = self._clock()
        except LinkError as exc:
            raise PlcUnreachableError(
                f"reading plc.signals.encoder from {self._cfg.host}:{self._cfg.port} failed "
                f"({exc}): check the PLC link and the encoder's address"
            ) from None
        return CountReading(encoder_count(enc, words), (t0 + t1) // 2, (t1 - t0) // 2)

    def close(self) -> None:
        self._conn.close()
