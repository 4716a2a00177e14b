"""Modbus TCP link to the PLC: output image, heartbeat, inputs, loss detection and reconnect.

The only module that imports pymodbus (pinned 3.16.*: its keywords changed across 3.x).

Blocking strategy: two TCP connections. The *safety* connection carries only the output image
(one write_coils for permit, warning and ejectors, then fault_code when it changed), so a
permit-off write never queues behind a heartbeat or an input read: a pymodbus client serves one
request at a time. The *service* connection carries the heartbeat (its own thread, fixed period),
input reads and, in PLC-timed reject mode, verdicts for the reject FIFO (`write_verdicts`): a
verdict is written hundreds of ms before its item reaches the ejector, so it can wait one
heartbeat, while a permit-off write must never wait behind a verdict. Every request is bounded by
`request_timeout_ms` x (1 + retries); any failure closes both connections, reports `plc_lost`,
and the heartbeat thread reconnects with backoff, writes the tripped image (permit off, fault
code plc_lost) first, and only then reports `plc_restored`: the loop's next image follows.

A request that timed out may still be applied by the PLC later: the box cannot know. So a
timed-out write counts as *possibly applied*, never as done and never as undone:
- a permit OFF is only known to be at the PLC once a write of it was acknowledged, which is why a
  reconnect writes the tripped image before the link is healthy again;
- a permit ON or a heartbeat may land late, after the box has tripped. The box cannot recall them;
  it stops adding to them: the first failed request marks the link lost while still holding that
  connection's lock, and a beat checks the link under the same lock, so no beat leaves once a
  failure is known. What remains in flight is at most one request per connection. The PLC program
  makes those harmless: after a trip it starts only on a permit OFF->ON that arrives after the
  reset press (README, "Restart rule for the PLC program"); the box's own consent after any fault
  is exactly that, since plc_lost trips the guard and only a reset press raises the permit again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from plantvision.errors import ConfigError
from plantvision.plc.config import INPUT_BITS, PlcConfig, SignalModel
from plantvision.plc.fifo import FifoWriter
from plantvision.plc.values import (
    PlcInputs,
    PlcOutputs,
    PlcPort,
    words_to_u32,
)

__all__ = ["PLC_LOST_FAULT_CODE", "PlcInputs", "PlcLink", "PlcOutputs", "PlcPort"]


# The loop's fault code for plc_lost (plantvision.outputs.FAULT_CODES, a test pins them
# together); plc.py sits below the loop, so it cannot import the table.
PLC_LOST_FAULT_CODE = 8


class LinkError(Exception):
    """A request failed: no connection, timeout, or a Modbus exception response."""


class _Conn:
    """One Modbus TCP connection with its own lock and bounded timeouts."""

    def __init__(self, cfg: PlcConfig, name: str, on_fail: Callable[[], None]) -> None:
        self._cfg, self._on_fail = cfg, on_fail
        self.lock = threading.Lock()
        # reconnect_delay=0: this module owns reconnects. `timeout` is both connect and receive
        # timeout in the sync client; connect() swaps it for the connect timeout.
        self.client = ModbusTcpClient(
            cfg.host,
            port=cfg.port,
            name=name,
            timeout=cfg.request_timeout_ms / 1000,
            retries=cfg.retries,
            reconnect_delay=0,
        )

    def connect(self) -> bool:
        params = self.client.comm_params
        params.timeout_connect = self._cfg.connect_timeout_ms / 1000
        try:
            return bool(self.client.connect())  # type: ignore[no-untyped-call]
        finally:
            params.timeout_connect = self._cfg.request_timeout_ms / 1000

    def call(self, op: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one request (caller holds `lock`); on any failure call `on_fail` before releasing
        the lock, then raise LinkError (the caller then drops the link)."""
        try:
            if not self.client.connected:
                raise LinkError("not connected")
            try:
                resp = op(*args, device_id=self._cfg.unit_id, **kwargs)
            except (ModbusException, OSError, ValueError) as exc:
                raise LinkError(f"{type(exc).__name__}: {exc}") from None
            if resp.isError():
                raise LinkError(f"exception code {getattr(resp, 'exception_code', '?')}")
        except LinkError:
            self._on_fail()
            raise
        return resp

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]


class PlcLink:
    """The real PLC link. The loop calls write/read_inputs; a thread beats and heals."""

    def __init__(self, config: PlcConfig, log: Any, clock: Callable[[], int] = time.monotonic_ns):
        if config.host not in config.allowed_hosts:  # validated at load; refuse bypasses too
            raise ConfigError("(plc config)", "plc.host", f"{config.host!r} not in allowed_hosts")
        self._cfg, self._log, self._clock = config, log, clock
        self._sig = config.signals
        self._n_ejectors = len(self._sig.ejectors)
        self._coil_base = min(
            s.address for s in (self._sig.permit, self._sig.warning, *self._sig.ejectors) if s
        )
        self._safety = _Conn(config, "safety", self._mark_lost)
        self._service = _Conn(config, "service", self._mark_lost)
        fifo = self._sig.reject_fifo
        self._fifo = None if fifo is None else FifoWriter(fifo.span, fifo.word_order)
        self._sent_version = -1  # version of the image last sent on the safety connection
        self._state = threading.Lock()
        self._image, self._version = PlcOutputs(), 0
        self._healthy, self._lost_since_ns, self._loss_unreported = False, clock(), False
        self._losses = 0
        self._last_write_call_ns = clock()
        self._written_fault: int | None = None
        self._heartbeat = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backoff_ms, self._next_try_ns = config.reconnect_backoff_ms[0], 0
        self.last_rtt_ms: float | None = None
        # Asked before each beat: the heartbeat advances only while the loop says every thread
        # is alive and cycling (set by the loop's Controller).
        self.liveness: Callable[[], bool] | None = None

    @property
    def healthy(self) -> bool:
        """True while the PLC acknowledges our requests; False is a trip cause for the guard."""
        return self._healthy

    @property
    def alive(self) -> bool:
        """The heartbeat thread is running (for the loop's supervisor)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def losses(self) -> int:
        """How often the link has been lost. A loss healed between two loop cycles still counts:
        the PLC may have tripped meanwhile, so the box must trip and wait for a reset too."""
        return self._losses

    def start(self) -> None:
        """Connect (bounded), write the tripped image, start the heartbeat thread. Never raises
        for an unreachable PLC: the link stays unhealthy and keeps retrying with backoff."""
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # plc_lost/restored say it
        self._last_write_call_ns = self._clock()
        if not self._reconnect():
            self._log.warning("plc_lost", cause="connect_failed", host=self._cfg.host)
        self._thread = threading.Thread(target=self._run, name="plc-heartbeat", daemon=True)
        self._thread.start()

    def write(self, outputs: PlcOutputs) -> float | None:
        """Drive the whole output image; the round trip in ms, or None when the link is down.
        Bounded by request_timeout_ms x (1 + retries) per request; never waits for a heartbeat.

        Thread-safe: callers in several threads (camera loops, the ejector timer) each hand in a
        whole image; whoever holds the safety connection sends the newest image handed in, so
        the PLC always ends on the last image given, and a write waits for at most one other."""
        outputs.coil_bits(self._n_ejectors)  # refuse a malformed image before touching the wire
        with self._state:
            self._image, self._version = outputs, self._version + 1
            self._last_write_call_ns = self._clock()
            if not self._healthy:
                return None
        t0 = time.perf_counter_ns()
        try:
            with self._safety.lock:
                if not self.healthy:  # lost while we waited: nothing new on a failing link
                    return None
                with self._state:
                    newest, version = self._image, self._version
                if version != self._sent_version:  # else another thread already sent it
                    self._send_image(newest)
                    self._sent_version = version
        except LinkError as exc:
            self._drop("write", str(exc))
            return None
        self.last_rtt_ms = (time.perf_counter_ns() - t0) / 1e6
        return self.last_rtt_ms

    def write_verdicts(self, entries: Sequence[tuple[int, int]]) -> bool:
        """PLC-timed rejects: (ejector index, 32-bit fire count) pairs into the reject FIFO
        (layout in plantvision.plc.fifo), one whole-block request per batch on the service
        connection. False (and the link dropped) when they may not have reached the PLC."""
        if self._fifo is None or self._sig.reject_fifo is None:
            raise ConfigError(
                "(plc config)",
                "plc.signals.reject_fifo",
                "no reject FIFO mapped",
                "map a holding-register block for PLC-timed rejects",
            )
        if not entries:
            return True
        if not self._healthy:
            return False
        address = self._sig.reject_fifo.address
        try:
            with self._service.lock:  # the lock also serialises the FIFO shadow
                if not self.healthy:
                    return False
                before = self._fifo.last_seq
                try:
                    for image in self._fifo.batches(entries):
                        self._service.call(self._service.client.write_registers, address, image)
                except LinkError:
                    # Undelivered is final: a verdict is delivered in time or never. (In a batch
                    # of several requests the earlier ones did arrive: counted missed all the
                    # same, the safe side of a count.)
                    self._fifo.void_since(before)
                    raise
        except LinkError as exc:
            self._drop("verdict", str(exc))
            return False
        return True

    def read_inputs(self) -> PlcInputs | None:
        """Sample reset, encoder and reject_confirm; None when down."""
        if not self._healthy:
            return None
        try:
            with self._service.lock:
                bits = self._read_bits()
                t_sent_ns = self._clock()
                encoder = self._read_encoder()
                # The PLC sampled the count somewhere in the round trip: take its middle.
                t_encoder_ns = (t_sent_ns + self._clock()) // 2
        except LinkError as exc:
            self._drop("read", str(exc))
            return None
        return PlcInputs(
            reset=bits.get("reset", False),
            encoder=encoder,
            reject_confirm=bits.get("reject_confirm"),
            machine_latched=bits.get("machine_latched"),
            t_read_ns=self._clock(),
            t_encoder_ns=t_encoder_ns,
        )

    def stop(self) -> None:
        """Write permit off (best effort, bounded), then stop the heartbeat and close both
        connections: shutdown is a trip, and the trip comes first."""
        with self._state:
            self._image = self._image.with_permit_off()
            healthy = self._healthy
        if healthy:
            try:
                with self._safety.lock:
                    self._send_image(self._image)
            except LinkError:
                pass  # the heartbeat stops next: the PLC watchdog trips the machine anyway
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._healthy = False
        self._safety.close()
        self._service.close()

    # -- internals -------------------------------------------------------------------------

    def _send_image(self, out: PlcOutputs) -> None:
        """One write_coils for permit/warning/ejectors, then fault_code only when it changed."""
        self._safety.call(
            self._safety.client.write_coils, self._coil_base, out.coil_bits(self._n_ejectors)
        )
        fc = self._sig.fault_code
        if fc is not None and out.fault_code != self._written_fault:
            self._safety.call(self._safety.client.write_register, fc.address, out.fault_code)
            self._written_fault = out.fault_code

    def _read_bits(self) -> dict[str, bool]:
        sigs = {n: s for n in INPUT_BITS if (s := getattr(self._sig, n))}
        out: dict[str, bool] = {}
        for kind in ("discrete_input", "coil"):
            group = {n: s for n, s in sigs.items() if s.type == kind}
            if not group:
                continue
            base = min(s.address for s in group.values())
            count = max(s.address for s in group.values()) - base + 1
            client = self._service.client
            op = client.read_discrete_inputs if kind == "discrete_input" else client.read_coils
            bits = self._service.call(op, base, count=count).bits
            out |= {n: bool(bits[s.address - base]) for n, s in group.items()}
        return out

    def _read_encoder(self) -> int | None:
        enc: SignalModel | None = self._sig.encoder
        if enc is None:
            return None
        client = self._service.client
        op = client.read_input_registers
        if enc.type == "holding_register":
            op = client.read_holding_registers
        regs = self._service.call(op, enc.address, count=enc.width // 16).registers
        return words_to_u32(list(regs), enc.word_order) if enc.width == 32 else int(regs[0])

    def _mark_lost(self) -> None:
        """Healthy -> lost, at the instant a request fails (its connection lock still held)."""
        with self._state:
            if not self._healthy:
                return
            self._healthy, self._loss_unreported = False, True
            self._losses += 1
            self._lost_since_ns = self._clock()
            self._backoff_ms = self._cfg.reconnect_backoff_ms[0]
            self._next_try_ns = self._lost_since_ns + self._backoff_ms * 1_000_000

    def _drop(self, op: str, cause: str) -> None:
        """Mark the link lost once, close both connections; the heartbeat thread heals it."""
        self._mark_lost()
        for conn in (self._safety, self._service):
            with conn.lock:  # never close a socket under a request in another thread
                conn.close()
        self._written_fault = None
        with self._state:
            report, self._loss_unreported = self._loss_unreported, False
        if report:
            self._log.warning("plc_lost", op=op, cause=cause, host=self._cfg.host)

    def _reconnect(self) -> bool:
        """Connect both, write the tripped image before anything else, then declare healthy.

        The tripped image (permit and ejectors off, fault code plc_lost, the warning as last
        handed in) and never the stored one: that was composed before the loss was noticed and
        may hold permit ON, which a PLC seeing a fresh heartbeat would act on. The loop's next
        write() sends its current image; its guard has tripped on plc_lost by then.

        One attempt, whatever the PLC's round trip: at most one connect per connection and one
        image (two requests), so a reconnect takes at most 2 x connect_timeout_ms +
        2 x request_timeout_ms x (1 + retries); the link heals within reconnect_backoff_ms[0]
        (+ one heartbeat period) + that after the loss is noticed. (It used to re-send until no
        newer image arrived during one pass: with cycles faster than the round trip, never.)"""
        with self._safety.lock:
            if not self._safety.connect():
                return False
            try:
                with self._state:
                    tripped = self._image.tripped(PLC_LOST_FAULT_CODE)
                self._written_fault = None  # the PLC may have restarted: rewrite everything
                self._send_image(tripped)
                with self._service.lock:
                    if not self._service.connect():
                        raise LinkError("service connect failed")
                with self._state:
                    self._sent_version = -1  # the next write() sends the loop's image
                    self._healthy = True
                    return True
            except LinkError:
                self._safety.close()
                self._service.close()
                return False

    def _run(self) -> None:
        """Heartbeat on a fixed period (deadline-based, no drift); reconnect while lost."""
        period_ns = self._cfg.heartbeat_period_ms * 1_000_000
        next_ns = self._clock()
        while not self._stop.is_set():
            now = self._clock()
            try:  # survive anything (a log that raises, a bug): a dead heartbeat is silent
                if self._healthy:
                    self._beat(now)
                elif now >= self._next_try_ns:
                    self._heal(now)
            except Exception as exc:
                self._log_error("heartbeat_error", repr(exc))
            next_ns += period_ns
            now = self._clock()
            if next_ns <= now:  # a slow request overran the period: skip, don't burst
                next_ns = now + period_ns
            self._stop.wait((next_ns - now) / 1e9)

    def _beat(self, now_ns: int) -> None:
        """Advance and send the heartbeat, only while the link is healthy and the loop alive."""
        try:
            with self._service.lock:
                # Checked under the lock: a read that just failed on this connection has already
                # marked the link lost, so a late-delivered request is never followed by a beat.
                if not self._healthy:
                    return
                # A hung loop must look dead to the PLC: freeze the heartbeat when no image
                # arrives. Write *calls* are the right measure: a call on a lost link returns at
                # once, and no beat goes out while lost anyway.
                if now_ns - self._last_write_call_ns > self._cfg.loop_stale_ms * 1_000_000:
                    return
                if self.liveness is not None and not self.liveness():
                    return
                self._heartbeat = (self._heartbeat + 1) & 0xFFFF
                self._service.call(
                    self._service.client.write_register,
                    self._sig.heartbeat.address,
                    self._heartbeat,
                )
        except LinkError as exc:
            self._drop("heartbeat", str(exc))

    def _log_error(self, event: str, error: str) -> None:
        with contextlib.suppress(Exception):  # the log itself failing must not kill the beat
            self._log.error(event, error=error)

    def _heal(self, now_ns: int) -> None:
        if self._reconnect():
            down_ms = (self._clock() - self._lost_since_ns) / 1e6
            self._log.info("plc_restored", host=self._cfg.host, down_ms=round(down_ms, 1))
            return
        self._backoff_ms = min(self._backoff_ms * 2, self._cfg.reconnect_backoff_ms[1])
        self._next_try_ns = now_ns + self._backoff_ms * 1_000_000
