"""The ejector child's pipe protocol: every message survives the trip, and a line that is not
a message is refused by name, never half-read (the reader then treats the peer as dead)."""

from __future__ import annotations

import pytest

from plantvision.conveyor.actions import FirePlan
from plantvision.plc.pulse_wire import (
    Arm,
    Beat,
    Cancel,
    Close,
    Fired,
    LineBuffer,
    Lost,
    Ready,
    Restored,
    WireError,
    decode,
    encode,
)

PLAN = FirePlan("kicker", 123_456_789_012, 30_000_000, -7)


@pytest.mark.parametrize(
    "msg",
    [Arm(PLAN), Cancel(5), Close(), Ready(None), Ready("Operation not permitted"), Beat(),
     Fired(PLAN, 123_456_789_100, True), Fired(PLAN, 1, False), Lost("timeout"), Restored()],
)  # fmt: skip
def test_every_message_comes_back_as_sent(msg: object) -> None:
    line = encode(msg)  # type: ignore[arg-type]
    assert line.endswith(b"\n")
    assert decode(line) == msg


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"not json", "not JSON"),
        (b'{"arm": 1}', "not a message"),
        (b'["arm", "k", 1, 2]', "with 3 fields"),
        (b'["arm", 5, 1, 2, 3]', "ejector_id must be a string"),
        (b'["arm", "k", 1.5, 2, 3]', "fire_at_ns must be an integer"),
        (b'["arm", "k", true, 2, 3]', "fire_at_ns must be an integer"),
        (b'["fired", "k", 1, 2, 3, 4, 1]', "reached must be true or false"),
        (b'["lost", ""]', "lost needs a text"),
        (b'["exec", "rm -rf /"]', "'exec' with 1 fields"),
    ],
)
def test_a_line_that_is_not_a_message_is_refused_by_name(line: bytes, error: str) -> None:
    with pytest.raises(WireError, match=error):
        decode(line)


def test_lines_split_across_reads_come_out_whole() -> None:
    buf = LineBuffer()
    line = encode(Arm(PLAN))
    assert buf.feed(line[:7]) == []
    assert buf.feed(line[7:] + encode(Beat())[:3]) == [line.rstrip(b"\n")]
    assert [decode(x) for x in buf.feed(encode(Beat())[3:])] == [Beat()]


def test_an_endless_line_is_refused() -> None:
    with pytest.raises(WireError, match="longer than"):
        LineBuffer().feed(b"x" * 5000)
