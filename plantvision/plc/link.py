"""Modbus TCP link to the PLC: output image, heartbeat, inputs, loss detection and reconnect.

The only module of the product that imports pymodbus (pinned 3.16.*: its keywords changed across
3.x); loop-bench's hand-written reference pipeline has its own client, on purpose.

Blocking strategy: three TCP connections, because a pymodbus client serves one request at a
time. The *safety* connection carries only the output image (one write_coils for permit and
warning, then fault_code when it changed), so a permit-off write never queues behind a heartbeat
or an input read. The *ejector* connection carries only ejector coil writes (`write_ejector`,
one write_coil each): with this link box-timed pulses are timed in a child process on a
connection of its own (`pulse_timer`, plantvision.plc.ejector_child, whose rules are re-stated
there), and this one switches the child's coils off after it died; a timer thread (benches,
links without a child) switches its pulses here. Either way a pulse never waits a camera's
image round trip (or its timeout) on the safety connection; the two write
disjoint coils (plantvision.plc.coils), so neither rewrites the other's with a stale value, and an
ejector write carries no permit, so a coil switched after a heal can never raise a permit decided
before the loss. The *service* connection carries the heartbeat, input reads (with the permit
coil read back) and, in PLC-timed reject mode, verdicts for the reject FIFO (`write_verdicts`): a
verdict is written hundreds of ms before its item reaches the ejector, so it can wait one
heartbeat, while a permit-off write must never wait behind a verdict. Every request is bounded by
`request_timeout_ms` x (1 + retries); any failure on any connection closes all three, reports
`plc_lost`, and the heartbeat thread reconnects with backoff, writes the tripped image (permit
off, every ejector coil off, fault code plc_lost) first, and only then reports `plc_restored`:
the loop's next image follows.

The heartbeat proves the loop is deciding. Its thread runs on a fixed period, but a beat goes
out only when the loop's count of decision rounds (`decisions`, set by the loop's Controller:
one round = every camera decided and wrote) advanced since the last beat, and only while the
loop's `liveness` holds; each beat is the previous value + 1 (mod 2**16), so the PLC can tell a
fresh beat from a stale, replayed or duplicated write. A hung loop therefore freezes the
heartbeat within one period of its last decision. The beat is written by this thread on the
service connection, never by a camera thread: a permit-off write never waits for a beat.

Readback: each input poll also reads the permit coil (service connection, at the poll rate) and
compares it with the last image acknowledged on the safety connection; a read that no image
write overlapped and that differs is `permit_mismatch` (another writer). Reading it on the
safety connection each cycle would put a round trip between two cycles' writes.

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
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from plantvision.conveyor.timer import Fire, OnFired
from plantvision.errors import ConfigError
from plantvision.plc.coils import CoilLayout, CoilWrite
from plantvision.plc.config import INPUT_BITS, PlcConfig, SignalModel
from plantvision.plc.ejector_process import EjectorProcess
from plantvision.plc.fifo import ECHO_REGS, FifoEcho, FifoSession, FifoWriter
from plantvision.plc.values import (
    PlcInputs,
    PlcOutputs,
    PlcPort,
    VerdictEntry,
    words_to_u32,
)

__all__ = ["PLC_LOST_FAULT_CODE", "PlcInputs", "PlcLink", "PlcOutputs", "PlcPort"]


# The loop's fault code for plc_lost (plantvision.outputs.FAULT_CODES, a test pins them
# together); plc.py sits below the loop, so it cannot import the table.
PLC_LOST_FAULT_CODE = 8
CHILD_START_S = 10.0  # the ejector child imports and connects; a loaded 2-core VM: ~0.5-1 s


class LinkError(Exception):
    """A request failed: no connection, timeout, or a Modbus exception response."""


class ModbusConn:
    """One Modbus TCP connection with its own lock and bounded timeouts (the link's three, the
    ejector child's own: plantvision.plc.ejector_child, and the encoder probe's:
    plantvision.plc.probe)."""

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


def read_registers(conn: ModbusConn, table: str, address: int, count: int) -> list[int]:
    """`count` holding or input registers (`table`) from `address`; the caller holds the lock."""
    client = conn.client
    op = (
        client.read_holding_registers
        if table == "holding_register"
        else client.read_input_registers
    )
    return list(conn.call(op, address, count=count).registers)


def encoder_count(enc: SignalModel, words: list[int]) -> int:
    """The count in the encoder signal's words (16 or 32 bits, in its word order)."""
    return words_to_u32(words, enc.word_order) if enc.width == 32 else int(words[0])


class PlcLink:
    """The real PLC link. The loop calls write/read_inputs; a thread beats and heals."""

    def __init__(self, config: PlcConfig, log: Any, clock: Callable[[], int] = time.monotonic_ns):
        if config.host not in config.allowed_hosts:  # validated at load; refuse bypasses too
            raise ConfigError("(plc config)", "plc.host", f"{config.host!r} not in allowed_hosts")
        self._cfg, self._log, self._clock = config, log, clock
        self._sig = config.signals
        self._coils = CoilLayout.of(self._sig)
        # Lock order: safety, ejector, service (a reconnect holds them all).
        self._safety = ModbusConn(config, "safety", self._mark_lost)
        self._ejector = ModbusConn(config, "ejector", self._mark_lost)
        self._service = ModbusConn(config, "service", self._mark_lost)
        fifo = self._sig.reject_fifo
        # A new epoch per boot: a PLC that consumed up to entry 20 of the last boot would
        # otherwise drop this boot's entries 1..20 as already taken.
        epoch = secrets.randbelow(0xFFFF) + 1
        self._fifo = None if fifo is None else FifoWriter(fifo.span, fifo.word_order, epoch)
        self._session = FifoSession() if self._sig.reject_fifo_echo is not None else None
        self._fifo_synced = False  # the echo was read since the last (re)connect
        self._voided = 0  # entries voided since the last echo (their numbers look skipped)
        self._fifo_counts = [0, 0, 0]  # PLC restarts, refused, overflow seen in echoes
        self._sent_version = -1  # version of the image last sent on the safety connection
        self._state = threading.Lock()
        self._image, self._version = PlcOutputs(), 0
        self._image_losses: int | None = None  # the loss count `_image` was decided under
        self._healthy, self._lost_since_ns, self._loss_unreported = False, clock(), False
        self._losses = 0
        self._last_write_call_ns = clock()
        self._written_fault: int | None = None
        self._heartbeat = 0
        self._beaten_round: int | None = None  # the decision round the last beat reported
        # Readback bookkeeping: image writes begun, whether one is in flight, and the permit of
        # the last one acknowledged (None: unknown, e.g. after a failure).
        self._image_writes, self._image_in_flight = 0, False
        self._acked_permit: bool | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backoff_ms, self._next_try_ns = config.reconnect_backoff_ms[0], 0
        self.last_rtt_ms: float | None = None
        # Asked before each beat: the heartbeat advances only while the loop says every thread
        # is alive and cycling (set by the loop's Controller).
        self.liveness: Callable[[], bool] | None = None
        # Asked before each beat: the loop's count of decision rounds; a beat goes out only when
        # it advanced since the last beat (set by the Controller; None: a bare link, as in the
        # benches, beats while write() is called).
        self.decisions: Callable[[], int] | None = None

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

    def write(self, outputs: PlcOutputs, losses_seen: int | None = None) -> float | None:
        """Drive the output image (permit, warning, fault code); the round trip in ms, or None
        when the link is down. Bounded by request_timeout_ms x (1 + retries) per request; never
        waits for a heartbeat or an ejector coil.

        `losses_seen` is the loss count the image was decided under: a permit ON decided before
        a loss that has since healed is sent tripped (permit off, plc_lost), checked under the
        safety connection's lock, so a cycle that decided before a drop never re-raises the
        permit after the reconnect's tripped image.

        Thread-safe: callers in several threads (camera loops, the supervisor) each hand in a
        whole image; whoever holds the safety connection sends the newest image handed in, so
        the PLC always ends on the last image given, and a write waits for at most one other."""
        with self._state:
            self._image, self._version = outputs, self._version + 1
            self._image_losses = losses_seen
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
                    decided_before_loss = self._image_losses not in (None, self._losses)
                if newest.permit and decided_before_loss:
                    newest = newest.tripped(PLC_LOST_FAULT_CODE)
                if version != self._sent_version:  # else another thread already sent it
                    self._send_image(newest)
                    self._sent_version = version
        except LinkError as exc:
            self._drop("write", str(exc))
            return None
        self.last_rtt_ms = (time.perf_counter_ns() - t0) / 1e6
        return self.last_rtt_ms

    def write_ejector(self, index: int, on: bool) -> bool:
        """Box-timed pulses: switch ejector coil `index` (into plc.signals.ejectors) on the
        ejector connection; True once the PLC acknowledged it. Waits for no image, heartbeat,
        read or verdict, only for another ejector write. False (and, on a failed request, the
        link dropped) when the coil may not be at the PLC: the timer counts that push lost."""
        address = self._coils.ejector(index)  # a bad index raises before touching the wire
        if not self._healthy:
            return False
        try:
            with self._ejector.lock:
                if not self.healthy:  # lost (or not yet healed: tripped image first) meanwhile
                    return False
                self._ejector.call(self._ejector.client.write_coil, address, on)
        except LinkError as exc:
            self._drop("ejector", str(exc))
            return False
        return True

    def pulse_timer(
        self, outputs: Mapping[str, int], fire: Fire, on_fired: OnFired, spin_ns: int
    ) -> EjectorProcess:
        """Box-timed pulses for ejectors `outputs` (id -> index into plc.signals.ejectors),
        timed in a child process with its own connection to this PLC (no GIL shared with the
        camera loops); `fire` (this link's `write_ejector`) only switches its coils off after
        the child died."""
        coils = {e: self._coils.ejector(i) for e, i in outputs.items()}  # bad index: raises
        child = EjectorProcess(self._cfg, coils, fire, on_fired, spin_ns)
        child.wait_ready(CHILD_START_S)  # at start-up, before the loop arms any plan
        return child

    def write_verdicts(self, entries: Sequence[VerdictEntry]) -> bool:
        """PLC-timed rejects (ejector index, 32-bit arrival count, lead; a range's end count)
        into the reject FIFO (layout in plantvision.plc.fifo), one whole-block request per batch
        on the service connection. False (and the link dropped) when they may not have reached
        the PLC."""
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
                if not self._fifo_synced:
                    self._poll_echo()  # a restarted PLC must not get the old shadow
                before = self._fifo.last_seq
                try:
                    for image in self._fifo.batches(entries):
                        self._service.call(self._service.client.write_registers, address, image)
                except LinkError:
                    # Undelivered is final: a verdict is delivered in time or never. (In a batch
                    # of several requests the earlier ones did arrive: counted missed all the
                    # same, the safe side of a count.)
                    self._fifo.void_since(before)
                    self._voided += (self._fifo.last_seq - before) % 0xFFFF
                    raise
        except LinkError as exc:
            self._drop("verdict", str(exc))
            return False
        return True

    def read_inputs(self) -> PlcInputs | None:
        """Sample reset, encoder, reject_confirm and the bin counters; None when down."""
        if not self._healthy:
            return None
        try:
            with self._service.lock:
                t_sample_ns = self._clock()  # the PLC sampled these bits after this instant
                bits = self._read_bits()
                readback = self._read_back_permit()
                t_sent_ns = self._clock()
                encoder, echo = self._read_encoder()
                t_back_ns = self._clock()
                # The PLC sampled the count somewhere in the round trip: take its middle. The
                # trip is timed on this request alone: the counter read after it is no blur.
                t_encoder_ns = (t_sent_ns + t_back_ns) // 2
                self._poll_echo(echo)
                restarts, refused, overflow = self._fifo_counts
                counts = self._read_counters()
        except LinkError as exc:
            self._drop("read", str(exc))
            return None
        return PlcInputs(
            reset=bits.get("reset", False),
            encoder=encoder,
            reject_confirm=bits.get("reject_confirm"),
            machine_latched=bits.get("machine_latched"),
            machine_stopped=bits.get("machine_stopped"),
            maintenance_reset=bits.get("maintenance_reset"),
            permit_written=readback[0],
            permit_read_back=readback[1],
            t_read_ns=self._clock(),
            t_encoder_ns=t_encoder_ns,
            t_encoder_back_ns=t_back_ns,
            fifo_restarts=restarts,
            fifo_refused=refused,
            fifo_overflow=overflow,
            t_sample_ns=t_sample_ns,
            confirm_counts=counts,
        )

    def stop(self) -> None:
        """Write permit and ejector coils off (best effort, bounded), then stop the heartbeat and
        close the connections: shutdown is a trip, and the trip comes first."""
        with self._state:
            self._image = self._image.with_permit_off()
            healthy = self._healthy
        if healthy:
            try:
                with self._safety.lock, self._ejector.lock:
                    self._send_image(self._image, whole_block=True)
            except LinkError:
                pass  # the heartbeat stops next: the PLC watchdog trips the machine anyway
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._healthy = False
        for conn in self._conns:
            conn.close()

    @property
    def _conns(self) -> tuple[ModbusConn, ModbusConn, ModbusConn]:
        return self._safety, self._ejector, self._service

    # -- internals -------------------------------------------------------------------------

    def _send_image(self, out: PlcOutputs, whole_block: bool = False) -> None:
        """One write_coils for permit and warning (two when the map parts them), then fault_code
        only when it changed. `whole_block`: a tripped image that also switches every ejector
        off, in one write_coils (caller holds the ejector lock too)."""
        self._image_writes, self._image_in_flight = self._image_writes + 1, True
        self._acked_permit = None  # unknown until acknowledged (a failure leaves it unknown)
        writes: list[CoilWrite] = (
            [self._coils.tripped_block(out)] if whole_block else self._coils.image(out)
        )
        for address, bits in writes:
            self._safety.call(self._safety.client.write_coils, address, bits)
        self._acked_permit, self._image_in_flight = out.permit, False
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

    def _read_back_permit(self) -> tuple[bool | None, bool | None]:
        """(permit last acknowledged, permit coil read now), or (None, None) when no judgement
        is possible: an image write was in flight or began during the read, so either value
        may be the one the PLC holds. Caller holds the service lock."""
        before, in_flight, written = self._image_writes, self._image_in_flight, self._acked_permit
        client = self._service.client
        bits = self._service.call(client.read_coils, self._sig.permit.address, count=1).bits
        if in_flight or written is None or self._image_writes != before:
            return None, None
        return written, bool(bits[0])

    def _read_encoder(self) -> tuple[int | None, list[int] | None]:
        """The encoder count, and the FIFO echo when it sits in the same table within 16
        registers of it: one request for both (a second one per input poll delayed the next
        encoder reading)."""
        enc: SignalModel | None = self._sig.encoder
        if enc is None:
            return None, None
        echo = self._sig.reject_fifo_echo
        lo, hi = enc.address, enc.address + enc.span
        merged = echo is not None and echo.type == enc.type
        if echo is not None and merged:
            lo, hi = min(lo, echo.address), max(hi, echo.address + ECHO_REGS)
            merged = hi - lo <= 16
            if not merged:
                lo, hi = enc.address, enc.address + enc.span
        regs = read_registers(self._service, enc.type, lo, hi - lo)
        count = encoder_count(enc, regs[enc.address - lo : enc.address - lo + enc.span])
        if echo is None or not merged:
            return count, None
        return count, regs[echo.address - lo : echo.address - lo + ECHO_REGS]

    def _read_counters(self) -> tuple[int, ...] | None:
        """The per-ejector bin counters, one request per register table (caller holds the
        service lock); None when none are mapped."""
        sigs = self._sig.reject_confirm_counters
        if not sigs:
            return None
        values = [0] * len(sigs)
        client = self._service.client
        for kind, op in (
            ("input_register", client.read_input_registers),
            ("holding_register", client.read_holding_registers),
        ):
            group = [(i, s.address) for i, s in enumerate(sigs) if s.type == kind]
            if not group:
                continue
            lo = min(a for _, a in group)
            count = max(a for _, a in group) - lo + 1
            regs = list(self._service.call(op, lo, count=count).registers)
            for i, address in group:
                values[i] = int(regs[address - lo]) & 0xFFFF
        return tuple(values)

    def _poll_echo(self, registers: list[int] | None = None) -> None:
        """Read the PLC's FIFO echo (caller holds the service lock) and act on it: a PLC that
        restarted gets an empty shadow from the next sequence number on (the box's scheduler
        re-sends what is still ahead); refusals and overflows add to the counts the inputs
        carry. Overflow the box caused itself (entries it voided) is not the PLC's."""
        sig = self._sig.reject_fifo_echo
        if sig is None or self._session is None:
            return
        if registers is None:  # not read with the encoder: a request of its own
            client = self._service.client
            op = client.read_input_registers
            if sig.type == "holding_register":
                op = client.read_holding_registers
            registers = list(self._service.call(op, sig.address, count=ECHO_REGS).registers)
        change = self._session.on_echo(FifoEcho.of(registers))
        self._fifo_synced = True
        if change.restarted and self._fifo is not None:
            self._fifo.restart_session()
            self._fifo_counts[0] += 1
        self._fifo_counts[1] += change.refused
        self._fifo_counts[2] += max(0, change.overflow - self._voided)
        self._voided = 0

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
        """Mark the link lost once, close every connection; the heartbeat thread heals it."""
        self._mark_lost()
        for conn in self._conns:
            with conn.lock:  # never close a socket under a request in another thread
                conn.close()
        self._written_fault = None
        with self._state:
            report, self._loss_unreported = self._loss_unreported, False
        if report:
            self._log.warning("plc_lost", op=op, cause=cause, host=self._cfg.host)

    def _reconnect(self) -> bool:
        """Connect all three, write the tripped image before anything else, then declare
        healthy.

        The tripped image (permit and every ejector coil off, fault code plc_lost, the warning as
        last handed in) and never the stored one: that was composed before the loss was noticed
        and may hold permit ON, which a PLC seeing a fresh heartbeat would act on. The loop's
        next write() sends its current image; its guard has tripped on plc_lost by then.

        One attempt, whatever the PLC's round trip: at most one connect per connection and one
        image (two requests), so a reconnect takes at most 3 x connect_timeout_ms +
        2 x request_timeout_ms x (1 + retries); the link heals within reconnect_backoff_ms[0]
        (+ one heartbeat period) + that after the loss is noticed. (It used to re-send until no
        newer image arrived during one pass: with cycles faster than the round trip, never.)"""
        with self._safety.lock, self._ejector.lock:
            if not self._safety.connect():
                return False
            try:
                with self._state:
                    tripped = self._image.tripped(PLC_LOST_FAULT_CODE)
                self._written_fault = None  # the PLC may have restarted: rewrite everything
                self._send_image(tripped, whole_block=True)
                if not self._ejector.connect():
                    raise LinkError("ejector connect failed")
                with self._service.lock:
                    if not self._service.connect():
                        raise LinkError("service connect failed")
                    # Before any verdict goes out: a PLC that restarted must not get the old
                    # FIFO shadow (its entries would fire again).
                    self._fifo_synced = False
                    self._poll_echo()
                with self._state:
                    self._sent_version = -1  # the next write() sends the loop's image
                    self._healthy = True
                    return True
            except LinkError:
                for conn in self._conns:
                    conn.close()
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
        """Send the next heartbeat (+1), only while the link is healthy, the loop alive, and the
        loop has decided anew since the last beat."""
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
                # One beat per decision round: no new decision since the last beat, no beat.
                rounds = None if self.decisions is None else self.decisions()
                if rounds is not None and rounds == self._beaten_round:
                    return
                value = (self._heartbeat + 1) & 0xFFFF
                self._service.call(
                    self._service.client.write_register, self._sig.heartbeat.address, value
                )
                # Counted once sent: after a failure the next beat repeats this value, which
                # a PLC that did apply the failed write sees as a sequence error (it trips, as
                # the box does on plc_lost).
                self._heartbeat, self._beaten_round = value, rounds
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
