"""Another writer on the PLC's Modbus server: what the box's heartbeat sequence and permit
readback must catch. A real second TCP client (pymodbus), as a stray HMI, a second box or a
replayed capture would be.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from pymodbus.client import ModbusTcpClient

from plantvision.plc.config import SignalMap


class RogueWriter:
    """Writes on its own connection every `period_s` until stopped: a replay of the heartbeat
    value the PLC last received (not +1: the PLC's sequence check must trip), and optionally
    a permit coil value."""

    def __init__(
        self,
        port: int,
        signals: SignalMap,
        last_heartbeat: Callable[[], int],
        permit: bool | None = None,
        period_s: float = 0.02,
        host: str = "127.0.0.1",
    ) -> None:
        self._client = ModbusTcpClient(host, port=port, timeout=1.0, retries=0)
        self._signals, self._last, self._permit = signals, last_heartbeat, permit
        self._period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="plc-rogue", daemon=True)
        self.writes = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._client.close()  # type: ignore[no-untyped-call]

    def _run(self) -> None:
        self._client.connect()  # type: ignore[no-untyped-call]
        while not self._stop.wait(self._period_s):
            try:
                hb = self._signals.heartbeat.address
                self._client.write_register(hb, self._last() & 0xFFFF)
                if self._permit is not None:
                    self._client.write_coil(self._signals.permit.address, self._permit)
                self.writes += 1
            except Exception:  # a rogue that fails just stops counting; the run goes on
                continue
