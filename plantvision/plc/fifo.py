"""The reject FIFO session: PLC-timed verdicts in a holding-register block, and the PLC's echo.
Pure: no sockets; the link does the I/O, the PLC simulator runs `FifoReader`.

Box -> PLC, the `reject_fifo` block (16-bit holding registers, `count` of them from `address`,
written whole by one FC16 request per batch, so a PLC never sees half an entry):

    offset 0            epoch: the box's session, new at each box start (1..65535)
    offset 1            base: the first sequence number a reader new to this epoch may take
    offset 2            head: sequence number of the newest entry written (0: none yet)
    offset 3 + 5*i      slot i: sequence number (1..65535, wraps to 1; 0 = empty slot)
    offset 4 + 5*i              ejector word: ejector index (into `signals.ejectors`, 0-based,
                                bits 0-13), bit 15 set: a range's start, bit 14 set: its end
    offset 5 + 5*i, 6 + 5*i     arrival count: the 32-bit encoder count at which the item (a
                                range's start or end) is at the ejector line, in the block's
                                `word_order`
    offset 7 + 5*i              lead: the ejector's output latency + actuator response, in
                                0.1 ms (0..6553.5 ms)

Entry n goes to slot (n - 1) mod slots. The PLC applies the lead itself (speed-compensated
lead): it switches the ejector on (a range's end: off) once `encoder + speed x lead` reaches
the arrival count, its speed from its own encoder over the last `SPEED_WINDOW_MS` (the box's
speed is a Modbus read old and, for a verdict decided while the belt stood, 0: those pushes came
the whole lead late while the belt ramped up). A range (a blind segment: the coil held on from
one count to another) is two entries with consecutive sequence numbers, its start then its end,
always written by the same request; a start without its end, or an end without its start, is
refused. PLC -> box, the `reject_fifo_echo` block (6 registers
the PLC writes every scan and the box reads with its inputs):

    offset 0  epoch the PLC has taken entries of (0: none since it started)
    offset 1  boot: a number the PLC changes at every start of its program
    offset 2  last sequence number consumed
    offset 3  refused: entries dropped (past the late limit, unknown ejector, table full), wraps
    offset 4  overflow: entries overwritten before the PLC read them, wraps at 65536
    offset 5  sequence number of the last refused entry

`FifoReader` is the PLC's side as a PLC program implements it (the README's protocol section
says it in words); `FifoSession` is the box's reading of the echo.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from plantvision.conveyor.ejector import PLC_SPEED_WINDOW_MS
from plantvision.plc.values import VerdictEntry, WordOrder, u32_to_words, words_to_u32

HEADER_REGS = 3  # epoch, base, head
ENTRY_REGS = 5  # sequence number, ejector word, arrival count (2), lead
# A lead register counts tenths of a ms: 0.5 mm at 5 m/s (finer than a 1 ms scan), and up to
# 6553.5 ms, past the longest lead a deployment may give (output 1000 + actuator 2000 ms).
LEAD_UNIT_MS = 0.1
LEAD_MAX_MS = 0xFFFF * LEAD_UNIT_MS
# The PLC's speed for the lead: counts over its newest scan at least this old. Long enough that
# a count of quantisation is 1 % at 1 m/s and 10 counts/mm; short enough that the lag (half the
# window) costs a x lead x window / 2 of travel while the belt accelerates: 0.1 mm for a 1.5 s
# ramp to 1 m/s and a 35 ms lead.
SPEED_WINDOW_MS = PLC_SPEED_WINDOW_MS
RANGE_START = 0x8000  # ejector word flags
RANGE_END = 0x4000
EJECTOR_MASK = 0x3FFF
ECHO_REGS = 6
SEQ_MODULUS = 0x10000
COUNT_HALF = 1 << 31


@dataclass(frozen=True, slots=True)
class FifoVerdict:
    """A plain `VerdictEntry` (the box's runtime has its own, with the item and deadline)."""

    ejector_index: int
    arrival_count: int
    lead_ms: float = 0.0
    end_count: int | None = None


@dataclass(frozen=True, slots=True)
class FifoEntry:
    """One verdict as the PLC sees it: `kind` "pulse", or a range's "start" or "end"; in a
    pending table a range is its start with `end_count` set (its end repeats the start's lead)."""

    seq: int
    ejector_index: int
    arrival_count: int
    kind: str = "pulse"
    end_count: int | None = None
    lead_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class FifoEcho:
    """The PLC's echo block, decoded."""

    epoch: int
    boot: int
    consumed: int
    refused: int
    overflow: int
    last_refused: int

    @classmethod
    def of(cls, registers: Sequence[int]) -> FifoEcho:
        if len(registers) < ECHO_REGS:
            raise ValueError(f"the FIFO echo has {ECHO_REGS} registers, got {len(registers)}")
        return cls(*(int(r) & 0xFFFF for r in registers[:ECHO_REGS]))


def slot_count(block_registers: int) -> int:
    """How many entries a block of this many registers holds."""
    return (block_registers - HEADER_REGS) // ENTRY_REGS


def next_seq(seq: int) -> int:
    """The sequence number after `seq`: 1..65535, skipping 0 (which marks an empty slot)."""
    return seq % (SEQ_MODULUS - 1) + 1


def seq_newer(a: int, b: int) -> bool:
    """True when sequence number `a` comes after `b` (within half the sequence space)."""
    return 0 < (a - b) % (SEQ_MODULUS - 1) < (SEQ_MODULUS - 1) // 2


def seq_gap(a: int, b: int) -> int:
    """How many sequence numbers lie strictly between `b` and the newer `a`."""
    return max(0, (a - b) % (SEQ_MODULUS - 1) - 1)


class FifoWriter:
    """The box's shadow of the block: turns verdicts into whole-block register images."""

    def __init__(self, block_registers: int, word_order: WordOrder, epoch: int = 1) -> None:
        self.slots = slot_count(block_registers)
        if self.slots < 1:
            raise ValueError(
                f"reject_fifo has {block_registers} registers; it needs at least "
                f"{HEADER_REGS + ENTRY_REGS} (epoch, base, head + one entry of {ENTRY_REGS})"
            )
        if not 1 <= epoch <= 0xFFFF:
            raise ValueError(f"epoch {epoch} must be 1..65535 (0 means no session)")
        self._order: WordOrder = word_order
        self._regs = [0] * (HEADER_REGS + ENTRY_REGS * self.slots)
        self._regs[0], self._regs[1] = epoch, 1
        self._seq = 0

    @property
    def last_seq(self) -> int:
        return self._seq

    @property
    def epoch(self) -> int:
        return self._regs[0]

    def batches(self, entries: Sequence[VerdictEntry]) -> list[list[int]]:
        """Verdicts (a range: start and end) -> block images, one per request, at most `slots`
        new entries each so none overwrites an entry of the same request; a range's two entries
        always share a request."""
        images: list[list[int]] = []
        used = 0
        for verdict in entries:
            slots = _slots_of(verdict)
            if len(slots) > self.slots:
                raise ValueError(f"a range needs 2 FIFO slots; the block has {self.slots}")
            if used + len(slots) > self.slots:
                self._regs[2] = self._seq
                images.append(list(self._regs))
                used = 0
            lead = _lead_register(verdict.lead_ms)
            for word, count in slots:
                self._seq = next_seq(self._seq)
                off = HEADER_REGS + ENTRY_REGS * ((self._seq - 1) % self.slots)
                self._regs[off : off + ENTRY_REGS] = [
                    self._seq,
                    word,
                    *u32_to_words(count, self._order),
                    lead,
                ]
            used += len(slots)
        if used:
            self._regs[2] = self._seq
            images.append(list(self._regs))
        return images

    def void_since(self, seq: int) -> None:
        """The entries numbered after `seq` may not have reached the PLC (their request failed):
        empty their slots, so no later request carries them. The box has counted them missed;
        delivered late they would push an item it already gave up on. Their numbers stay used:
        a PLC that did apply the failed request (a timeout is not a refusal) never sees one of
        them again for another verdict."""
        _void(self._regs, self.slots, seq)

    def restart_session(self) -> None:
        """The PLC restarted (its echo's boot changed): it lost its pending entries and what it
        consumed. Empty every slot (re-written, old entries would fire again at counts of the
        old numbering) and let a reader take from the next sequence number on; the box re-sends
        the verdicts still ahead as new entries."""
        _void(self._regs, self.slots, self._seq, every=True)
        self._regs[1] = next_seq(self._seq)


def _slots_of(verdict: VerdictEntry) -> list[tuple[int, int]]:
    """The (ejector word, count) entries of one verdict: a range is its start and its end."""
    index = verdict.ejector_index
    if not 0 <= index <= EJECTOR_MASK:
        raise ValueError(f"ejector index {index} does not fit a register's 14 bits")
    if verdict.end_count is None:
        return [(index, verdict.arrival_count)]
    return [(RANGE_START | index, verdict.arrival_count), (RANGE_END | index, verdict.end_count)]


def _lead_register(lead_ms: float) -> int:
    """A lead in the entry's unit, refused (never clipped: a short lead pushes late) when it
    does not fit."""
    if not 0 <= lead_ms <= LEAD_MAX_MS:
        raise ValueError(f"lead {lead_ms} ms does not fit a lead register: 0 to {LEAD_MAX_MS} ms")
    return round(lead_ms / LEAD_UNIT_MS)


def _void(regs: list[int], slots: int, after_seq: int, every: bool = False) -> None:
    for i in range(slots):
        off = HEADER_REGS + ENTRY_REGS * i
        if regs[off] and (every or seq_newer(regs[off], after_seq)):
            regs[off : off + ENTRY_REGS] = [0] * ENTRY_REGS


def decode_block(registers: Sequence[int], word_order: WordOrder) -> tuple[int, list[FifoEntry]]:
    """(head, non-empty entries in slot order) of a block image: what a PLC reads."""
    entries = []
    for i in range(slot_count(len(registers))):
        off = HEADER_REGS + ENTRY_REGS * i
        seq, word, high, low, lead = registers[off : off + ENTRY_REGS]
        if seq:
            kind = "start" if word & RANGE_START else "end" if word & RANGE_END else "pulse"
            count = words_to_u32([high, low], word_order)
            lead_ms = round(lead * LEAD_UNIT_MS, 1)
            entries.append(FifoEntry(seq, word & EJECTOR_MASK, count, kind, lead_ms=lead_ms))
    return registers[2], entries


@dataclass(frozen=True, slots=True)
class SessionChange:
    """What one echo told the box: the PLC restarted (re-send what is still ahead), and how
    many entries it refused or lost to overflow since the last echo."""

    restarted: bool = False
    refused: int = 0
    overflow: int = 0
    last_refused: int = 0


class FifoSession:
    """The box's reading of the PLC's echo: restarts and counted refusals and overflows."""

    def __init__(self) -> None:
        self._boot: int | None = None
        self._refused = 0
        self._overflow = 0

    def on_echo(self, echo: FifoEcho) -> SessionChange:
        """Compare one echo with the last; the first one only sets the baselines."""
        if self._boot is None or echo.boot != self._boot:
            restarted = self._boot is not None
            self._boot, self._refused, self._overflow = echo.boot, echo.refused, echo.overflow
            return SessionChange(restarted=restarted)
        refused = (echo.refused - self._refused) % SEQ_MODULUS
        overflow = (echo.overflow - self._overflow) % SEQ_MODULUS
        self._refused, self._overflow = echo.refused, echo.overflow
        return SessionChange(False, refused, overflow, echo.last_refused if refused else 0)


@dataclass
class FifoReader:
    """The PLC's side of the session: what a PLC program does with the block, and its echo.

    `power_up(block)` at program start; `on_block(block)` whenever the block may have changed
    (every scan is fine); `sample(now_ns, encoder)` once every scan, then `due(ejector,
    encoder)` per ejector; `preset()` when the encoder count is set (its counts change meaning).
    `pending` is one table per ejector; the entries of different ejectors are not in fire order,
    so each entry is compared, never only the head of the FIFO. An entry is due once the belt,
    `lead_ms` from now at the PLC's own speed (`ahead`), will have reached its arrival count. A
    range (a start entry and its end, the next sequence number) is one pending entry with
    `end_count`; once due, the PLC holds the coil on until `ahead` reaches that count (the
    simulator's ConveyorModel does).
    """

    word_order: WordOrder
    boot: int
    ejectors: int
    late_counts: int
    table_size: int = 32
    epoch: int = 0
    consumed: int = 0
    refused: int = 0
    overflow: int = 0
    last_refused: int = 0
    pending: dict[int, list[FifoEntry]] = field(default_factory=dict)
    speed_counts_per_ms: float = 0.0
    _scans: deque[tuple[int, int]] = field(default_factory=deque, repr=False)  # (ns, encoder)

    def sample(self, now_ns: int, encoder: int) -> None:
        """Once a scan: the encoder at this scan's time (the PLC's own ms timer). The speed is
        the counts since the newest kept scan at least SPEED_WINDOW_MS older, per ms; 0 until
        one is that old (just started), when the belt ran backwards, and when it moved a single
        count (an encoder dithering at standstill must not lead: that would fire early)."""
        window_ns = int(SPEED_WINDOW_MS * 1e6)
        scans = self._scans
        scans.append((now_ns, encoder))
        while len(scans) > 1 and now_ns - scans[1][0] >= window_ns:
            scans.popleft()
        t0_ns, count0 = scans[0]
        moved = _signed(encoder - count0)
        dt_ns = now_ns - t0_ns
        self.speed_counts_per_ms = moved * 1e6 / dt_ns if dt_ns >= window_ns and moved > 1 else 0.0

    def ahead(self, encoder: int, lead_ms: float) -> int:
        """Where the encoder will be `lead_ms` from now at the measured speed (whole counts,
        rounded down: a fraction never makes a push early), wrapped at 32 bits."""
        return (encoder + int(self.speed_counts_per_ms * lead_ms)) % (COUNT_HALF * 2)

    def power_up(self, block: Sequence[int]) -> None:
        """Whatever the block holds now was written before this start: take none of it."""
        self.epoch, self.consumed = block[0], block[2]
        self.pending = {}

    def on_block(self, block: Sequence[int]) -> list[FifoEntry]:
        """Take, in sequence order, every entry newer than the last consumed; a new epoch (a
        box that restarted) starts from its `base`. Returns the entries taken."""
        if block[0] == 0:
            return []  # no box session yet
        if block[0] != self.epoch:
            # 0 and 65535 are the same place in the sequence space: base 1 -> consumed 0.
            self.epoch, self.consumed = block[0], block[1] - 1
        _, entries = decode_block(block, self.word_order)
        fresh = sorted(
            (e for e in entries if seq_newer(e.seq, self.consumed)),
            key=lambda e: (e.seq - self.consumed) % (SEQ_MODULUS - 1),
        )
        taken = []
        start: FifoEntry | None = None  # a range's start, waiting for its end (the next seq)
        for e in fresh:
            # Numbers skipped between two taken entries were overwritten before this read.
            self.overflow = (self.overflow + seq_gap(e.seq, self.consumed)) % SEQ_MODULUS
            self.consumed = e.seq
            if start is not None and not _ends(start, e):
                self._refuse(start)  # its end never came
                start = None
            if e.kind == "start":
                start = e
                continue
            if e.kind == "end":
                if start is None:
                    self._refuse(e)
                    continue
                e, start = replace(start, end_count=e.arrival_count), None
            table = self.pending.setdefault(e.ejector_index, [])
            if e.ejector_index >= self.ejectors or len(table) >= self.table_size:
                self._refuse(e)
            else:
                table.append(e)
                taken.append(e)
        if start is not None:
            self._refuse(start)
        return taken

    def due(self, ejector: int, encoder: int) -> list[FifoEntry]:
        """Entries of `ejector` whose arrival count the belt will have reached by the time the
        push lands (`ahead` by the entry's lead), each once; those whose item will then be past
        the late limit are refused (the paddle would miss it, or push the next item). A range's
        late limit runs from its end count: begun late, it still holds the coil over the rest."""
        fire, keep = [], []
        for e in self.pending.get(ejector, []):
            at = self.ahead(encoder, e.lead_ms)
            past = _signed(at - e.arrival_count)
            last = past if e.end_count is None else _signed(at - e.end_count)
            if past < 0:
                keep.append(e)
            elif last > self.late_counts:
                self._refuse(e)
            else:
                fire.append(e)
        self.pending[ejector] = keep
        return fire

    def preset(self) -> None:
        """The encoder count was set: every pending count refers to the old numbering, and the
        counts before it are no travel (a jump across the window would read as a speed that
        fires every new entry at once)."""
        for table in self.pending.values():
            for e in table:
                self._refuse(e)
        self.pending = {}
        self._scans.clear()
        self.speed_counts_per_ms = 0.0

    def echo(self) -> list[int]:
        return [
            self.epoch,
            self.boot,
            self.consumed,
            self.refused,
            self.overflow,
            self.last_refused,
        ]

    def _refuse(self, e: FifoEntry) -> None:
        self.refused = (self.refused + 1) % SEQ_MODULUS
        self.last_refused = e.seq


def _signed(delta_counts: int) -> int:
    """A 32-bit count difference as a signed number."""
    return (delta_counts + COUNT_HALF) % (COUNT_HALF * 2) - COUNT_HALF


def _ends(start: FifoEntry, e: FifoEntry) -> bool:
    """`e` is the end of the range `start` begins: the next number, same ejector."""
    same = e.ejector_index == start.ejector_index
    return e.kind == "end" and e.seq == next_seq(start.seq) and same
