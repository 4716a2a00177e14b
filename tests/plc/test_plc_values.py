"""Values at the PLC seam: word order, the output image and the fake link."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from plantvision.plc.values import PlcOutputs, u32_to_words, words_to_u32
from tests.fakes.plc import FakePlcLink


@given(st.integers(0, 2**32 - 1), st.sampled_from(["big", "little"]))
def test_u32_words_round_trip(value: int, order: str) -> None:
    """Splitting a 32-bit value into registers and joining them back is lossless."""
    words = u32_to_words(value, order)  # type: ignore[arg-type]
    assert all(0 <= w <= 0xFFFF for w in words)
    assert words_to_u32(words, order) == value  # type: ignore[arg-type]


def test_word_order_puts_high_word_first_for_big() -> None:
    """'big' is high word at the lower address; 'little' swaps the words."""
    assert u32_to_words(0x00010002, "big") == [1, 2]
    assert u32_to_words(0x00010002, "little") == [2, 1]


def test_fault_code_must_fit_a_register() -> None:
    """A fault code above 65535 cannot be written and is refused at construction."""
    with pytest.raises(ValueError, match="16-bit"):
        PlcOutputs(fault_code=70000)


def test_fake_link_records_goes_unhealthy_and_rewrites_on_restore() -> None:
    """The fake keeps the image while down, logs lost/restored, rewrites on restore."""
    fake = FakePlcLink(log=__import__("structlog").get_logger(), n_ejectors=1)
    with capture_logs() as logs:
        fake.start()
        fake.set_healthy(False)
        assert fake.write(PlcOutputs(permit=False, warning=True)) is None
        assert fake.read_inputs() is None
        fake.set_healthy(True)
    assert [e["event"] for e in logs] == ["plc_lost", "plc_restored"]
    assert fake.writes[-1] == PlcOutputs(permit=False, warning=True)


def test_fake_link_holds_the_reset_level_until_released() -> None:
    """Pressing reset on the fake holds the input high in every read until it is released
    (the box judges presses by their length: guard.reset_button)."""
    fake = FakePlcLink()
    fake.press_reset()
    first, second = fake.read_inputs(), fake.read_inputs()
    assert first is not None
    assert first.reset
    assert second is not None
    assert second.reset
    fake.release_reset()
    third = fake.read_inputs()
    assert third is not None
    assert not third.reset
