"""The PLC section of a deployment file: where the PLC is, how long to wait, and its signal map.

No pymodbus here: the simulator and the checks read this model too. Every signal has a fixed kind
(coil, holding/input register, discrete input) and an address; 32-bit values carry a word order.
Cross-field checks (overlap, contiguity, Modbus block limits, the host allow-list) report the exact
field, e.g. `plc.signals.warning.address`, so a controls engineer can fix the file in one go.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from plantvision.configio import StrictModel, load_model
from plantvision.plc.fifo import ENTRY_REGS, HEADER_REGS

SignalType = Literal["coil", "holding_register", "discrete_input", "input_register"]

# Modbus application protocol v1.1b3 limits per request.
MAX_COILS_WRITE = 1968  # FC15 write multiple coils
MAX_BITS_READ = 2000  # FC1/FC2 read coils / discrete inputs
MAX_REGISTERS_READ = 125  # FC3/FC4
MAX_REGISTERS_WRITE = 123  # FC16 write multiple registers

# Which kinds each signal may take: the link writes coils in one block and registers one by one,
# so a permit in a holding register would need a second request on the stop path.
ALLOWED_TYPES: dict[str, tuple[SignalType, ...]] = {
    "permit": ("coil",),
    "warning": ("coil",),
    "ejectors": ("coil",),
    "heartbeat": ("holding_register",),
    "fault_code": ("holding_register",),
    "reset": ("discrete_input", "coil"),
    "reject_confirm": ("discrete_input", "coil"),
    "machine_latched": ("discrete_input", "coil"),
    "machine_stopped": ("discrete_input", "coil"),
    "maintenance_reset": ("discrete_input", "coil"),
    "encoder": ("input_register", "holding_register"),
    "reject_fifo": ("holding_register",),
    "reject_fifo_echo": ("input_register", "holding_register"),
    "reject_confirm_counters": ("input_register", "holding_register"),
}
OUTPUT_COILS = ("permit", "warning", "ejectors")
INPUT_BITS = ("reset", "reject_confirm", "machine_latched", "machine_stopped", "maintenance_reset")


def field_error(loc: tuple[str | int, ...], message: str, value: Any) -> ValidationError:
    """A ValidationError at `loc` below the model that raises it (pydantic prefixes the parents)."""
    err = PydanticCustomError("plc_config", message)
    return ValidationError.from_exception_data(
        "PlcConfig", [InitErrorDetails(type=err, loc=loc, input=value)]
    )


class SignalModel(StrictModel):
    """One PLC signal: its Modbus table, address and, for registers, width and word order."""

    type: SignalType = Field(description="Modbus table: coil, holding_register, ...")
    address: int = Field(
        ge=0, le=65535, description="0-based Modbus address (PLC docs may be 1-based)"
    )
    width: Literal[16, 32] = Field(
        default=16, description="bits of a register value; 32 uses two registers"
    )
    word_order: Literal["big", "little"] = Field(
        default="big", description="32-bit values: 'big' puts the high word at the lower address"
    )
    count: int = Field(default=1, ge=1, le=65536, description="registers in a block (reject_fifo)")

    @property
    def span(self) -> int:
        """Addresses this signal occupies in its table."""
        return self.count * (self.width // 16) if self.type.endswith("register") else self.count

    @model_validator(mode="after")
    def _fits_address_space(self) -> SignalModel:
        last = self.address + self.span - 1
        if last > 65535:
            raise field_error(
                ("address",),
                f"signal ends at address {last}, past 65535; lower the address or the count",
                self.address,
            )
        if self.width == 32 and not self.type.endswith("register"):
            raise field_error(("width",), "only registers can be 32-bit; use width 16", 32)
        return self


class SignalMap(StrictModel):
    """Signal name -> PLC address. Unknown names are refused, so a typo never maps silently."""

    permit: SignalModel = Field(description="run permit coil: ON lets the machine run")
    heartbeat: SignalModel = Field(
        description="holding register: +1 (mod 65536) per beat, one beat per decision round; the "
        "PLC checks the sequence"
    )
    warning: SignalModel | None = Field(default=None, description="warning light coil")
    fault_code: SignalModel | None = Field(
        default=None, description="holding register: why tripped"
    )
    ejectors: tuple[SignalModel, ...] = Field(
        default=(), description="ejector coils, in belt order"
    )
    reset: SignalModel | None = Field(
        default=None, description="reset button input read from the PLC"
    )
    encoder: SignalModel | None = Field(
        default=None, description="belt encoder count (usually 32-bit)"
    )
    reject_confirm: SignalModel | None = Field(
        default=None,
        description="reject bin sensor level input, shared by every ejector; polled, it misses "
        "pulses shorter than the poll (map reject_confirm_counters instead)",
    )
    reject_confirm_counters: tuple[SignalModel, ...] = Field(
        default=(),
        description="per ejector (same order as ejectors), a 16-bit register the PLC increments "
        "(wrapping) on each rising edge of that ejector's bin sensor; the reliable confirmation: "
        "no pulse is lost between polls, and each confirms only its own ejector's rejects",
    )
    machine_latched: SignalModel | None = Field(
        default=None,
        description="PLC status input: ON while the PLC holds the machine latched off (after any "
        "trip, its own included, until a reset); lets the box see a trip it did not cause and "
        "check that its own permit OFF latched the machine (stop monitoring, EDM)",
    )
    machine_stopped: SignalModel | None = Field(
        default=None,
        description="PLC status input: ON while the machine stands still (a standstill monitor); "
        "the box checks that each stop reaches standstill within safety.stopping_time_ms plus a "
        "margin, and logs the measured stop time",
    )
    maintenance_reset: SignalModel | None = Field(
        default=None,
        description="maintenance reset input (a key switch at the machine, never HTTP or the "
        "CLI): the only way to clear a stop-monitoring fault (stop_unconfirmed)",
    )
    reject_fifo: SignalModel | None = Field(
        default=None, description="holding-register block for verdicts"
    )
    reject_fifo_echo: SignalModel | None = Field(
        default=None,
        description="6-register block the PLC writes back: epoch taken, its boot number, last "
        "sequence consumed, refused and overflow counts, last refused sequence (README, the "
        "reject FIFO protocol); without it a PLC restart is not noticed",
    )

    def named(self) -> Iterator[tuple[tuple[str | int, ...], SignalModel]]:
        """(location, signal) for every configured signal; ejectors as ('ejectors', i)."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, tuple):
                yield from ((((name, i)), s) for i, s in enumerate(value))
            elif value is not None:
                yield (name,), value

    @model_validator(mode="after")
    def _check_map(self) -> SignalMap:
        self._check_types()
        self._check_overlaps()
        self._check_blocks()
        return self

    def _check_types(self) -> None:
        for loc, sig in self.named():
            allowed = ALLOWED_TYPES[str(loc[0])]
            if sig.type not in allowed:
                raise field_error(
                    (*loc, "type"),
                    f"{loc[0]} must be {' or '.join(allowed)}, not {sig.type}",
                    sig.type,
                )

    def _check_overlaps(self) -> None:
        taken: dict[tuple[str, int], str] = {}
        for loc, sig in self.named():
            name = ".".join(f"[{p}]" if isinstance(p, int) else p for p in loc).replace(".[", "[")
            for addr in range(sig.address, sig.address + sig.span):
                other = taken.get((sig.type, addr))
                if other is not None:
                    raise field_error(
                        (*loc, "address"),
                        f"{sig.type} {addr} is already used by {other}; give each signal its own "
                        "address",
                        sig.address,
                    )
                taken[(sig.type, addr)] = name

    def _check_blocks(self) -> None:
        outs = [(loc, s) for loc, s in self.named() if loc[0] in OUTPUT_COILS]
        addrs = sorted(s.address for _, s in outs)
        if addrs[-1] - addrs[0] + 1 != len(addrs):
            loc = next(loc for loc, s in outs if s.address == addrs[-1])
            raise field_error(
                (*loc, "address"),
                f"output coils {addrs} leave a gap; permit, warning and ejectors must be "
                "contiguous so one write_coils switches them all off (the tripped image)",
                addrs[-1],
            )
        if len(addrs) > MAX_COILS_WRITE:
            raise field_error(
                ("ejectors",), f"more than {MAX_COILS_WRITE} output coils", len(addrs)
            )
        bits = [(loc, s) for loc, s in self.named() if loc[0] in INPUT_BITS]
        if (
            bits
            and max(s.address for _, s in bits) - min(s.address for _, s in bits) >= MAX_BITS_READ
        ):
            loc = max(bits, key=lambda b: b[1].address)[0]
            raise field_error(
                (*loc, "address"),
                f"input bits span more than {MAX_BITS_READ} addresses; place them closer together",
                None,
            )
        self._check_counters()
        for name, limit in (
            ("reject_fifo", MAX_REGISTERS_WRITE),
            ("encoder", MAX_REGISTERS_READ),
            ("reject_fifo_echo", MAX_REGISTERS_READ),
        ):
            sig = getattr(self, name)
            if sig is not None and sig.span > limit:
                raise field_error(
                    (name, "count"),
                    f"{sig.span} registers exceed the Modbus limit of {limit} per request",
                    sig.count,
                )
        self._check_fifo()

    def _check_fifo(self) -> None:
        """The FIFO block is its header and whole entries: a count that is not names a PLC
        program written for another layout (67, 16 entries of 4, predates the lead register),
        and the PLC would read every entry out of step."""
        fifo = self.reject_fifo
        if fifo is None:
            return
        entries, spare = divmod(fifo.count - HEADER_REGS, ENTRY_REGS)
        if entries >= 1 and spare == 0:
            return
        n = max(entries, 1)
        fits = [HEADER_REGS + ENTRY_REGS * k for k in (n, n + 1)]
        raise field_error(
            ("reject_fifo", "count"),
            f"{fifo.count} registers is not a reject FIFO block: {HEADER_REGS} header registers "
            f"and {ENTRY_REGS} per entry (sequence number, ejector word, arrival count x 2, "
            f"lead); use {fits[0]} or {fits[1]} ({n} or {n + 1} entries) with a PLC program for "
            "that layout (README, the reject FIFO protocol)",
            fifo.count,
        )

    def _check_counters(self) -> None:
        """One counter per ejector coil, 16 bits, and one read per table (the link reads each
        table's counters in one request)."""
        counters = self.reject_confirm_counters
        if counters and len(counters) != len(self.ejectors):
            raise field_error(
                ("reject_confirm_counters",),
                f"{len(counters)} bin counters for {len(self.ejectors)} ejectors; map one per "
                "ejector, in the order of ejectors",
                len(counters),
            )
        for i, sig in enumerate(counters):
            if sig.width != 16 or sig.count != 1:
                raise field_error(
                    ("reject_confirm_counters", i, "width"),
                    "a bin counter is one 16-bit register; use width 16, count 1",
                    sig.width,
                )
        for kind in ("input_register", "holding_register"):
            addrs = [s.address for s in counters if s.type == kind]
            if addrs and max(addrs) - min(addrs) >= MAX_REGISTERS_READ:
                raise field_error(
                    ("reject_confirm_counters",),
                    f"{kind} bin counters span more than {MAX_REGISTERS_READ} registers; place "
                    "them closer together",
                    addrs,
                )


DEFAULT_SIGNAL_MAP = SignalMap(
    permit=SignalModel(type="coil", address=0),
    warning=SignalModel(type="coil", address=1),
    ejectors=(SignalModel(type="coil", address=2), SignalModel(type="coil", address=3)),
    heartbeat=SignalModel(type="holding_register", address=0),
    fault_code=SignalModel(type="holding_register", address=1),
    # 3 header registers + 16 slots of 5: as many verdicts in flight as a belt carries
    reject_fifo=SignalModel(type="holding_register", address=16, count=83),
    reject_fifo_echo=SignalModel(type="input_register", address=2, count=6),
    reset=SignalModel(type="discrete_input", address=0),
    reject_confirm=SignalModel(type="discrete_input", address=1),
    machine_latched=SignalModel(type="discrete_input", address=2),
    maintenance_reset=SignalModel(type="discrete_input", address=3),
    machine_stopped=SignalModel(type="discrete_input", address=4),
    encoder=SignalModel(type="input_register", address=0, width=32, word_order="big"),
)


def write_worst_ms(request_timeout_ms: float, retries: int) -> float:
    """The longest a write can take and still land, in ms: each of its 1 + `retries` tries waits
    its whole timeout, and the last one lands just before its own runs out. This is the Modbus
    term of the ISO 13855 response time T (a write that never lands is a lost link: the PLC's
    heartbeat watchdog stops the machine instead)."""
    return float(request_timeout_ms) * (1 + retries)


class PlcConfig(StrictModel):
    """How to reach the PLC and how long to wait for it."""

    host: str = Field(min_length=1, description="PLC IP address or name; must be in allowed_hosts")
    port: int = Field(default=502, ge=1, le=65535, description="Modbus TCP port")
    unit_id: int = Field(
        default=1, ge=1, le=255, description="Modbus unit id (0 is broadcast: no reply)"
    )
    allowed_hosts: tuple[str, ...] = Field(
        min_length=1, description="the only hosts this box may drive; guards against a typo"
    )
    connect_timeout_ms: int = Field(default=200, ge=20, le=1000, description="TCP connect timeout")
    request_timeout_ms: int = Field(
        default=150, ge=20, le=1000, description="wait per Modbus request"
    )
    retries: int = Field(default=1, ge=0, le=1, description="resends after a timeout (0 or 1)")
    heartbeat_period_ms: int = Field(
        default=100, ge=10, le=5000, description="heartbeat write period"
    )
    reconnect_backoff_ms: tuple[int, int] = Field(
        default=(100, 2000), description="(first, longest) wait between reconnect attempts; doubles"
    )
    loop_stale_ms: int = Field(
        default=1000,
        ge=50,
        le=60000,
        description="heartbeat freezes when no output image was written for this long",
    )
    signals: SignalMap = Field(
        default=DEFAULT_SIGNAL_MAP, description="signal name -> Modbus address"
    )

    @model_validator(mode="after")
    def _check(self) -> PlcConfig:
        if self.host not in self.allowed_hosts:
            raise field_error(
                ("host",),
                f"host {self.host!r} is not in allowed_hosts {list(self.allowed_hosts)}; add it "
                "there only if this box may drive that PLC",
                self.host,
            )
        low, high = self.reconnect_backoff_ms
        if not 10 <= low <= high <= 60000:
            raise field_error(
                ("reconnect_backoff_ms",),
                "need 10 <= first <= longest <= 60000 ms, e.g. [100, 2000]",
                [low, high],
            )
        return self


class PlcFile(StrictModel):
    """A file holding only a `plc:` section (the deployment file embeds the same section)."""

    plc: PlcConfig = Field(description="PLC link settings")


def load_plc_config(path: str | Path) -> PlcConfig:
    """The `plc:` section of a YAML file, or a ConfigError naming file, field and fix."""
    return load_model(path, PlcFile).plc
