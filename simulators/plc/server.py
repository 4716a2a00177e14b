"""A real Modbus TCP server (pymodbus SimDevice) wrapped around the machine model.

The datastore is pymodbus 3.16's `SimDevice` with four separate tables (coils, discrete inputs,
holding and input registers) sized to the signal map. Its async `action` callback sees every
request before the datastore applies it, which is all the model needs: writes feed the machine
(permit, heartbeat), reads of the reset input and encoder are filled in from the machine at that
instant, and the same hook injects faults (delays, exception codes). Connection-level faults
(drop, down, back) act on the server object itself. The people at the machine act through
methods: `press_reset` (re-arms, never starts), `press_start` (the separate start command),
`press_maintenance_reset`, `press_estop`; stop faults for the box's stop monitoring (EDM) make
the machine coast too long (`set_coast_extra_ms`) or the PLC program deaf to the permit
(`set_ignore_permit`). The server runs on its own event loop thread
so tests drive it in-process; `python -m simulators.plc` runs it standalone.

With `conveyor` set, the machine is a belt (speed in mm/s, changeable at run time) and the
simulator is the PLC side of defect rejection (simulators.plc.belt_driver): ejector coil edges and
reject FIFO entries become pulses logged with the belt's true position, and the bin sensor drives
`reject_confirm` and, per ejector, the bin counters `reject_confirm_counters`.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from plantvision.plc.config import DEFAULT_SIGNAL_MAP, SignalMap, SignalModel
from plantvision.plc.values import u32_to_words
from simulators.plc.belt_driver import BeltDriver
from simulators.plc.conveyor import ConveyorSimConfig, ItemTruth
from simulators.plc.machine import Machine, MachineParams

WRITE_FCS = {5: "coil", 15: "coil", 6: "holding_register", 16: "holding_register"}
READ_FCS = {1: "coil", 2: "discrete_input", 3: "holding_register", 4: "input_register"}
TABLES = ("coil", "discrete_input", "holding_register", "input_register")


@dataclass(frozen=True)
class SimConfig:
    """How the simulated PLC and machine behave."""

    signals: SignalMap = DEFAULT_SIGNAL_MAP
    host: str = "127.0.0.1"
    port: int = 0  # 0: let the OS pick; start() returns the bound port
    unit_id: int = 1
    watchdog_ms: int = 300
    stopping_ms: int = 200
    counts_per_s: float = 10_000.0
    reset_pulse_ms: int = 500  # a press inside the box's default reset window (350..2000 ms)
    log_path: Path | None = None
    clock: Callable[[], int] = field(default=time.monotonic_ns, compare=False)
    conveyor: ConveyorSimConfig | None = None  # the machine is a belt with ejectors
    item_truth: ItemTruth | None = field(default=None, compare=False)
    pulse_log_path: Path | None = None  # every ejector pulse as a JSON line
    # The encoder register is this much behind the counter (the PLC copies it once a scan).
    encoder_age_ms: float = 0.0


def _table_sizes(signals: SignalMap) -> dict[str, int]:
    """Each table spans address 0 up to the last mapped address (at least 16)."""
    sizes = dict.fromkeys(TABLES, 16)
    for _, sig in signals.named():
        sizes[sig.type] = max(sizes[sig.type], sig.address + sig.span)
    return {k: (v + 15) // 16 * 16 for k, v in sizes.items()}


def _collect_orphaned_sockets() -> None:
    """Collect, now and quietly, server-side sockets that pymodbus orphaned.

    A client that connects while a pymodbus listener shuts down (go_down, or stop) can leave an
    accepted connection that no listener lists and nothing closes; it dies with the loop and the
    garbage collector later finds its socket open and warns, at a random moment, in whatever test
    runs then. The simulator owns that loop, so it collects the orphans here, while it stops,
    and drops only their ResourceWarnings; anything else still reaches the usual hook.
    """
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, ResourceWarning):
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
    finally:
        sys.unraisablehook = previous


def build_device(signals: SignalMap, unit_id: int, action: Any) -> SimDevice:
    sizes = _table_sizes(signals)
    bits = [[SimData(0, values=[False] * sizes[t], datatype=DataType.BITS)] for t in TABLES[:2]]
    regs = [[SimData(0, count=sizes[t], values=0, datatype=DataType.REGISTERS)] for t in TABLES[2:]]
    return SimDevice(unit_id, simdata=(bits[0], bits[1], regs[0], regs[1]), action=action)


class PlcSimulator:
    """A Modbus TCP PLC that runs a simulated machine. Thread-safe for test code."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.cfg = cfg = config or SimConfig()
        self._clock = cfg.clock
        self._lock = threading.Lock()
        params = MachineParams(
            watchdog_ns=cfg.watchdog_ms * 1_000_000,
            stopping_ns=cfg.stopping_ms * 1_000_000,
            counts_per_s=cfg.counts_per_s
            if cfg.conveyor is None
            else cfg.conveyor.belt_speed_mm_s * cfg.conveyor.counts_per_mm,
            reset_pulse_ns=cfg.reset_pulse_ms * 1_000_000,
            ramp_ns=0 if cfg.conveyor is None else int(cfg.conveyor.ramp_ms * 1_000_000),
        )
        self.machine = Machine(params, self._clock())
        self.belt: BeltDriver | None = None
        if cfg.conveyor is not None:
            self.belt = BeltDriver(
                cfg.conveyor, cfg.signals, self.machine, self._lock, self._clock,
                cfg.item_truth, cfg.pulse_log_path,
            )  # fmt: skip
        self.values: dict[str, int | bool] = {}
        self.write_log: list[dict[str, Any]] = []
        self._logfile: TextIO | None = None
        self._delay_s = 0.0
        self._write_delay_s: dict[str, float] = {}  # signal -> delay of writes touching it
        self._held: set[str] = set()  # signals whose writes wait until released
        self.writes_held = 0  # writes waiting at a hold right now
        self._exception: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: ModbusTcpServer | None = None
        self.port = cfg.port
        self._by_addr: dict[tuple[str, int], str] = {
            (sig.type, a): ".".join(str(p) for p in loc)
            for loc, sig in cfg.signals.named()
            for a in range(sig.address, sig.address + sig.span)
        }

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> int:
        """Start serving; returns the bound TCP port."""
        if self.cfg.log_path is not None:
            self._logfile = self.cfg.log_path.open("a", encoding="utf-8")
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run_loop, args=(ready,), name="plc-sim", daemon=True
        )
        self._thread.start()
        ready.wait()
        self._call(self._listen())
        if self.belt is not None:
            self.belt.start()
        return self.port

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        if self.belt is not None:
            self.belt.stop()
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._loop = None
        _collect_orphaned_sockets()
        if self._logfile is not None:
            self._logfile.close()

    def _run_loop(self, ready: threading.Event) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(ready.set)
        self._loop.run_forever()

    def _call(self, coro: Any) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        device = build_device(self.cfg.signals, self.cfg.unit_id, self._action)
        self._server = ModbusTcpServer(device, address=(self.cfg.host, self.port))
        await self._server.serve_forever(background=True)
        listener: Any = self._server.transport  # an asyncio.Server once listening
        self.port = int(listener.sockets[0].getsockname()[1])

    async def _shutdown(self) -> None:
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None

    async def _drop(self) -> None:
        if self._server is not None:
            for conn in list(self._server.active_connections.values()):
                conn.close()

    # -- what a person or a test does at the machine ---------------------------------------

    def press_estop(self) -> None:
        """Press the machine's own emergency stop: a trip the box did not cause."""
        with self._lock:
            self.machine.emergency_stop(self._clock())

    def press_reset(self, duration_ms: float | None = None) -> bool:
        """Press the reset button: the box sees the reset input high for `duration_ms`
        (default reset_pulse_ms, inside the box's default window of 350..2000 ms; the box
        accepts a press on its release). It re-arms (clears the latch at standstill) and never
        starts the machine."""
        pulse_ns = None if duration_ms is None else int(duration_ms * 1_000_000)
        with self._lock:
            return self.machine.press_reset(self._clock(), pulse_ns)

    def press_start(self) -> bool:
        """Press the start button: starts the machine only when ready (see `ready`); True when
        the machine runs after the press."""
        with self._lock:
            return self.machine.press_start(self._clock())

    def press_maintenance_reset(self) -> None:
        """Turn the maintenance reset key: the box sees its input high for reset_pulse_ms."""
        with self._lock:
            self.machine.press_maintenance_reset(self._clock())

    @property
    def ready(self) -> bool:
        """The ready lamp: reset done, the box's permit risen since, heartbeat fresh."""
        with self._lock:
            return self.machine.ready(self._clock())

    @property
    def machine_running(self) -> bool:
        with self._lock:
            return self.machine.running(self._clock())

    @property
    def permit_seen(self) -> bool:
        return bool(self.values.get("permit", False))

    def restart_program(self) -> None:
        """What a PLC restart does to the conveyor side: the encoder counter starts again at 0
        and the reject FIFO's state (block, last consumed, pending entries) is lost. The belt
        itself does not jump. Call while the PLC is down (`go_down` ... `come_back`, whose fresh
        datastore empties the registers)."""
        with self._lock:
            self.machine.reset_encoder(self._clock())
            if self.belt is not None:
                self.belt.model.restart()

    # -- fault injection -------------------------------------------------------------------

    def set_delay_ms(self, delay_ms: float) -> None:
        """Delay every response by this much (0 to stop)."""
        self._delay_s = delay_ms / 1000

    def set_write_delay_ms(self, signal: str, delay_ms: float) -> None:
        """Delay only writes that touch `signal` (e.g. "reject_fifo") by this much (0 to stop);
        other requests, on any connection, are answered as usual."""
        self._write_delay_s[signal] = delay_ms / 1000

    def hold_writes(self, signal: str) -> None:
        """Writes that touch `signal` wait, unanswered and unapplied, until release_writes."""
        self._held.add(signal)

    def release_writes(self, signal: str) -> None:
        self._held.discard(signal)

    def set_coast_extra_ms(self, extra_ms: float) -> None:
        """Stops from now on take this much longer than stopping_ms (0 to stop the fault)."""
        with self._lock:
            self.machine.coast_extra_ns = int(extra_ms * 1_000_000)

    def set_ignore_permit(self, on: bool) -> None:
        """The PLC program ignores the permit: an OFF neither latches nor stops the machine."""
        with self._lock:
            self.machine.ignore_permit = on

    def set_exception(self, code: int | None) -> None:
        """Answer every request with this Modbus exception code (None to stop)."""
        self._exception = None if code is None else int(ExcCodes(code))

    def drop_connections(self) -> None:
        """Close every client connection; the listener stays up."""
        self._call(self._drop())

    def go_down(self) -> None:
        """Stop listening and close all connections (the PLC vanished)."""
        self._call(self._shutdown())

    def come_back(self) -> None:
        """Listen again on the same port with a fresh datastore (a rebooted PLC)."""
        self._call(self._listen())

    # -- the datastore hook ----------------------------------------------------------------

    async def _action(
        self,
        fc: int,
        start: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if fc in WRITE_FCS and values is None:
            return None  # pymodbus reads back after a write: not a second request
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        if fc in WRITE_FCS:
            # For bit tables pymodbus counts whole 16-bit registers: a write_coils of four
            # coils arrives as count 1, so the coils it touches are its values.
            await self._write_faults(WRITE_FCS[fc], address, len(values or ()) or count)
        if self._exception is not None:
            return ExcCodes(self._exception)
        with self._lock:
            now = self._clock()
            if values is not None and fc in WRITE_FCS:
                self._on_write(fc, address, list(values), now)
            elif fc in READ_FCS:
                self._fill_read(fc, start, registers, now)
        return None

    async def _write_faults(self, table: str, address: int, count: int) -> None:
        """Per-signal delays and holds of a write to `count` addresses from `address`."""
        names = {self._by_addr.get((table, a), "") for a in range(address, address + count)}
        touched = {n.split(".")[0] for n in names if n}
        delay_s = max((self._write_delay_s.get(n, 0.0) for n in touched), default=0.0)
        if delay_s:
            await asyncio.sleep(delay_s)
        if touched & self._held:
            self.writes_held += 1
            while touched & self._held:
                await asyncio.sleep(0.002)
            self.writes_held -= 1

    def _on_write(self, fc: int, address: int, values: list[int] | list[bool], now: int) -> None:
        table = WRITE_FCS[fc]
        named: dict[str, int | bool] = {}
        for i, v in enumerate(values):
            name = self._by_addr.get((table, address + i))
            if name is not None:
                named[name] = v
        before = dict(self.values)
        self.values.update(named)
        if self.belt is not None:
            self.belt.on_write(table, address, [int(v) for v in values], named, before, now)
        if "permit" in named:
            self.machine.on_permit(bool(named["permit"]), now)
        if "heartbeat" in named:
            self.machine.on_heartbeat(int(named["heartbeat"]), now)
        entry = {
            "t_mono_ns": now,
            "t_wall": time.time(),
            "fc": fc,
            "address": address,
            "values": [int(v) for v in values],
            "signals": {k: int(v) for k, v in named.items()},
        }
        self.write_log.append(entry)
        if self._logfile is not None:
            self._logfile.write(json.dumps(entry) + "\n")
            self._logfile.flush()

    def _fill_read(self, fc: int, start: int, registers: list[int], now: int) -> None:
        """Put the machine's current inputs (reset, maintenance reset, latched, standstill, bin
        sensor, bin counters) and encoder into the table being read."""
        table, sigs, m = READ_FCS[fc], self.cfg.signals, self.machine
        bits = (
            (sigs.reset, m.reset_input),
            (sigs.maintenance_reset, m.maintenance_input),
            (sigs.machine_latched, m.latched_at),
            (sigs.machine_stopped, m.standstill),
        )
        for sig, level in bits:
            if sig is not None and sig.type == table:
                self._set_bit(registers, start, sig.address, level(now))
        confirm = sigs.reject_confirm
        if self.belt is not None and confirm is not None and confirm.type == table:
            self._set_bit(registers, start, confirm.address, self.belt.confirm_input(now))
        for i, counter in enumerate(sigs.reject_confirm_counters):
            if self.belt is not None and counter.type == table:
                value = self.belt.model.bin_counter(i, now)
                self._fill_echo(registers, start, counter.address, [value])
        echo = sigs.reject_fifo_echo
        if self.belt is not None and echo is not None and echo.type == table:
            self._fill_echo(registers, start, echo.address, self.belt.model.echo())
        enc: SignalModel | None = sigs.encoder
        if enc is not None and enc.type == table:
            value = self.machine.encoder(now, int(self.cfg.encoder_age_ms * 1e6))
            words = u32_to_words(value, enc.word_order) if enc.width == 32 else [value & 0xFFFF]
            off = enc.address - start
            registers[off : off + len(words)] = words

    @staticmethod
    def _fill_echo(registers: list[int], start: int, address: int, values: list[int]) -> None:
        """The PLC program's FIFO echo, clipped to the registers this read covers."""
        for i, v in enumerate(values):
            off = address + i - start
            if 0 <= off < len(registers):
                registers[off] = v

    @staticmethod
    def _set_bit(registers: list[int], start: int, bit_address: int, on: bool) -> None:
        """Bit tables are packed 16 bits per register, bit 0 first (pymodbus SimUtils)."""
        idx, bit = bit_address // 16 - start, bit_address % 16
        registers[idx] = registers[idx] | (1 << bit) if on else registers[idx] & ~(1 << bit)
