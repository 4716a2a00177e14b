"""The reject FIFO: how PLC-timed verdicts are laid out in the PLC's holding-register block. Pure.

Layout of the `reject_fifo` block (16-bit holding registers, `count` of them from `address`):

    offset 0            head: sequence number of the newest entry written (0: none yet)
    offset 1 + 4*i      slot i: sequence number (1..65535, wraps to 1; 0 = empty slot)
    offset 2 + 4*i              ejector index (into `signals.ejectors`, 0-based)
    offset 3 + 4*i, 4 + 4*i     fire count: the 32-bit encoder count at which the PLC switches
                                the ejector on, in the block's `word_order`

Entry n (sequence number n) goes to slot (n - 1) mod slots, so the block is a ring the PLC
reads whole. The box writes the whole block in one FC16 request per batch: a PLC applies one
request between scans, so it never sees a half-written entry; the head is written with the
entries. A PLC takes, in sequence order, every slot whose sequence number is newer than the last
one it consumed; a jump of more than `slots` means it fell behind (an overflow it must alarm
on). The PLC times the pulse itself (its own pulse length per ejector).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from plantvision.plc.values import WordOrder, u32_to_words, words_to_u32

HEADER_REGS = 1
ENTRY_REGS = 4
SEQ_MODULUS = 0x10000


@dataclass(frozen=True, slots=True)
class FifoEntry:
    """One verdict as the PLC sees it."""

    seq: int
    ejector_index: int
    fire_count: int


def slot_count(block_registers: int) -> int:
    """How many entries a block of this many registers holds."""
    return (block_registers - HEADER_REGS) // ENTRY_REGS


def next_seq(seq: int) -> int:
    """The sequence number after `seq`: 1..65535, skipping 0 (which marks an empty slot)."""
    return seq % (SEQ_MODULUS - 1) + 1


def seq_newer(a: int, b: int) -> bool:
    """True when sequence number `a` comes after `b` (within half the sequence space)."""
    return 0 < (a - b) % (SEQ_MODULUS - 1) < (SEQ_MODULUS - 1) // 2


class FifoWriter:
    """The box's shadow of the block: turns verdicts into whole-block register images."""

    def __init__(self, block_registers: int, word_order: WordOrder) -> None:
        self.slots = slot_count(block_registers)
        if self.slots < 1:
            raise ValueError(
                f"reject_fifo has {block_registers} registers; it needs at least "
                f"{HEADER_REGS + ENTRY_REGS} (head + one entry of {ENTRY_REGS})"
            )
        self._order: WordOrder = word_order
        self._regs = [0] * (HEADER_REGS + ENTRY_REGS * self.slots)
        self._seq = 0

    @property
    def last_seq(self) -> int:
        return self._seq

    def batches(self, entries: Sequence[tuple[int, int]]) -> list[list[int]]:
        """(ejector index, fire count) pairs -> block images, one per request, at most `slots`
        new entries each so none overwrites an entry of the same request."""
        images: list[list[int]] = []
        for start in range(0, len(entries), self.slots):
            for ejector_index, fire_count in entries[start : start + self.slots]:
                if not 0 <= ejector_index <= 0xFFFF:
                    raise ValueError(f"ejector index {ejector_index} does not fit a register")
                self._seq = next_seq(self._seq)
                off = HEADER_REGS + ENTRY_REGS * ((self._seq - 1) % self.slots)
                self._regs[off : off + ENTRY_REGS] = [
                    self._seq,
                    ejector_index,
                    *u32_to_words(fire_count, self._order),
                ]
            self._regs[0] = self._seq
            images.append(list(self._regs))
        return images


def decode_block(registers: Sequence[int], word_order: WordOrder) -> tuple[int, list[FifoEntry]]:
    """(head, non-empty entries in slot order) of a block image: what a PLC reads."""
    entries = []
    for i in range(slot_count(len(registers))):
        off = HEADER_REGS + ENTRY_REGS * i
        seq, eject, *words = registers[off : off + ENTRY_REGS]
        if seq:
            entries.append(FifoEntry(seq, eject, words_to_u32(list(words), word_order)))
    return registers[0], entries
