"""The reset window's edges: exactly min and max are inside, 1 ms short or over is not, a press
longer than the window is refused even when no sample saw it stuck, and every refusal says how
long the button was held."""

from __future__ import annotations

import pytest

from plantvision.guard.reset_button import PressKind, ResetButton

MS = 1_000_000


def one_press(held_ms: float, min_ms: float = 350, max_ms: float = 2000) -> tuple[str, str | None]:
    """Released at 0, pressed at 100 ms, released `held_ms` later: two samples, no poll between."""
    button = ResetButton(min_ms, max_ms)
    button.update(False, 0)
    button.update(True, 100 * MS)
    event = button.update(False, int((100 + held_ms) * MS))
    assert event is not None
    return event.kind.value, event.reason


@pytest.mark.parametrize(
    ("held_ms", "expected"),
    [
        (349, ("refused", "too_short")),  # a press 1 ms short of the window is refused
        (350, ("accepted", None)),
        (2000, ("accepted", None)),
        (2001, ("refused", "too_long")),  # no sample saw it stuck: still too long
    ],
)
def test_the_window_includes_its_ends_and_nothing_beyond(
    held_ms: float, expected: tuple[str, str | None]
) -> None:
    assert one_press(held_ms) == expected


@pytest.mark.parametrize(
    ("min_ms", "max_ms", "error"),
    [
        (0, 100, True),
        (0.5, 100, False),  # any positive minimum is a window
        (500, 500, True),
        (500, 501, False),
    ],
)
def test_a_window_needs_0_below_min_below_max(min_ms: float, max_ms: float, error: bool) -> None:
    if error:
        with pytest.raises(ValueError, match="reset window"):
            ResetButton(min_ms, max_ms)
    else:
        ResetButton(min_ms, max_ms)


def test_the_held_time_of_a_press_is_reported_to_a_tenth_of_a_ms() -> None:
    button = ResetButton(350, 2000)
    button.update(False, 0)
    button.update(True, 1_000_000)
    event = button.update(False, 1_000_000 + 400_340_000)
    assert event is not None
    assert (event.kind, event.held_ms) == (PressKind.ACCEPTED, 400.3)


def test_a_press_cut_by_a_link_loss_reports_how_long_it_was_held() -> None:
    button = ResetButton(350, 2000)
    button.update(False, 0)
    button.update(True, 20 * MS)
    event = button.update(None, 270 * MS)
    assert event is not None
    assert (event.reason, event.held_ms) == ("link_lost", 250.0)


def test_the_release_of_a_stuck_press_reports_the_whole_hold() -> None:
    button = ResetButton(350, 2000)
    button.update(False, 0)
    button.update(True, 20 * MS)
    stuck = button.update(True, 2100 * MS)
    assert stuck is not None
    assert (stuck.kind, stuck.held_ms) == (PressKind.STUCK, 2080.0)
    event = button.update(False, 3020 * MS)
    assert event is not None
    assert (event.reason, event.held_ms) == ("too_long", 3000.0)
