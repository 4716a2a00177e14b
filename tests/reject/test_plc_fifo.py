"""The reject FIFO layout: what the box writes is what a PLC reads, in order, never half."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plantvision.plc.fifo import (
    ENTRY_REGS,
    HEADER_REGS,
    FifoEntry,
    FifoVerdict,
    FifoWriter,
    decode_block,
    next_seq,
    seq_newer,
    slot_count,
)

entries = st.lists(
    st.builds(
        FifoVerdict,
        st.integers(0, 3),
        st.integers(0, 2**32 - 1),
        st.integers(0, 65535).map(lambda t: t / 10),
    ),
    min_size=1,
    max_size=40,
)


@given(entries, st.sampled_from(["big", "little"]), st.integers(8, 43))
def test_every_entry_reaches_a_reader_in_order(
    written: list[FifoVerdict], order: str, block: int
) -> None:
    """A PLC that reads the block after each request sees every entry once, in order, exact."""
    writer = FifoWriter(block, order)  # type: ignore[arg-type]
    seen: list[FifoEntry] = []
    last = 0
    for image in writer.batches(written):
        assert len(image) == HEADER_REGS + ENTRY_REGS * slot_count(block)
        head, found = decode_block(image, order)  # type: ignore[arg-type]
        fresh = sorted((e for e in found if seq_newer(e.seq, last)), key=lambda e: e.seq)
        assert fresh, "a request with no new entry"
        assert head == fresh[-1].seq
        last = head
        seen.extend(fresh)
    assert [FifoVerdict(e.ejector_index, e.arrival_count, e.lead_ms) for e in seen] == written
    assert [e.seq for e in seen] == list(range(1, len(written) + 1))


def test_sequence_numbers_skip_zero_which_marks_an_empty_slot() -> None:
    """After 65535 comes 1; 0 never appears, and 1 counts as newer than 65535."""
    assert next_seq(65535) == 1
    assert next_seq(0) == 1
    assert seq_newer(1, 65535)
    assert not seq_newer(65535, 1)
    assert not seq_newer(7, 7)


@pytest.mark.parametrize(
    ("block", "error"),
    [(7, "at least 8"), (1, "at least 8"), (8, None), (83, None)],
)
def test_block_size_is_checked(block: int, error: str | None) -> None:
    """A block too small for the head and one entry is refused with the size it needs."""
    if error is None:
        assert FifoWriter(block, "big").slots == (block - 3) // 5
    else:
        with pytest.raises(ValueError, match=error):
            FifoWriter(block, "big")


def test_ejector_index_must_fit_a_register() -> None:
    """An ejector index above 65535 is refused before anything is written."""
    with pytest.raises(ValueError, match="does not fit"):
        FifoWriter(16, "big").batches([FifoVerdict(70000, 5)])


def test_arrival_count_words_follow_the_word_order() -> None:
    """Big word order puts the high word first; little puts it last; the lead follows."""
    big = FifoWriter(8, "big", epoch=9).batches([FifoVerdict(1, 0x12345678, 2.5)])[0]
    little = FifoWriter(8, "little", epoch=9).batches([FifoVerdict(1, 0x12345678, 2.5)])[0]
    assert big == [9, 1, 1, 1, 1, 0x1234, 0x5678, 25]
    assert little == [9, 1, 1, 1, 1, 0x5678, 0x1234, 25]


def test_a_failed_request_is_never_carried_by_a_later_one() -> None:
    """A's request reached the PLC, B's failed (voided), C's went out: a PLC reading each block
    that arrived takes A and C. B's sequence number is not reused, so a PLC that did apply the
    failed request (a timeout is not a refusal) never mistakes C for B."""
    writer = FifoWriter(13, "big")  # two slots
    (first,) = writer.batches([FifoVerdict(0, 100)])
    before_b = writer.last_seq
    writer.batches([FifoVerdict(1, 200)])  # the request that failed
    writer.void_since(before_b)
    (third,) = writer.batches([FifoVerdict(0, 300)])
    taken: list[FifoEntry] = []
    last = 0
    for image in (first, third):
        _, found = decode_block(image, "big")
        fresh = sorted((e for e in found if seq_newer(e.seq, last)), key=lambda e: e.seq)
        last = fresh[-1].seq
        taken.extend(fresh)
    assert [(e.ejector_index, e.arrival_count) for e in taken] == [(0, 100), (0, 300)]
    assert [e.seq for e in taken] == [1, 3]
