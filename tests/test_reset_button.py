"""The reset button counts a press on release, inside its window; everything else is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plantvision.guard.reset_button import PressEvent, PressKind, ResetButton

MS = 1_000_000
POLL_MS = 20

Sample = tuple[float, bool | None]  # (ms, level)


def run(samples: list[Sample], min_ms: float = 350, max_ms: float = 2000) -> list[PressEvent]:
    button = ResetButton(min_ms, max_ms)
    events = [button.update(level, int(t * MS)) for t, level in samples]
    return [e for e in events if e is not None]


def press(start_ms: float, held_ms: float) -> list[Sample]:
    """20 ms samples of one press: released before, held for `held_ms`, released after."""
    before = [(start_ms - POLL_MS, False)]
    n = int(held_ms // POLL_MS)
    held: list[Sample] = [(start_ms + k * POLL_MS, True) for k in range(n)]
    return before + held + [(start_ms + n * POLL_MS, False)]


def kinds(events: list[PressEvent]) -> list[tuple[str, str | None]]:
    return [(e.kind.value, e.reason) for e in events]


@pytest.mark.parametrize(
    ("held_ms", "expected"),
    [
        (20, [("refused", "too_short")]),  # one poll sample high: a brush, not a press
        (340, [("refused", "too_short")]),
        (360, [("accepted", None)]),
        (1000, [("accepted", None)]),
        (2000, [("accepted", None)]),
        (2040, [("stuck", None), ("refused", "too_long")]),
        (10_000, [("stuck", None), ("refused", "too_long")]),
    ],
)
def test_press_is_judged_on_release_by_its_length(
    held_ms: float, expected: list[tuple[str, str | None]]
) -> None:
    """A press inside 350..2000 ms is accepted on release; shorter is refused; a press held
    beyond the window is a stuck input first, and refused as too long when released."""
    assert kinds(run(press(1000, held_ms))) == expected


def test_nothing_is_accepted_while_the_button_is_held() -> None:
    """The rising edge does nothing: the acceptance comes with the first released sample."""
    samples = press(1000, 600)
    button = ResetButton(350, 2000)
    events = [button.update(level, int(t * MS)) for t, level in samples]
    assert all(e is None for e in events[:-1])
    last = events[-1]
    assert last is not None
    assert last.kind is PressKind.ACCEPTED
    assert last.held_ms == 600


def test_stuck_is_reported_once_and_holds_until_release() -> None:
    """A button held beyond the window reports `stuck` once; `stuck` stays True until release."""
    button = ResetButton(350, 2000)
    button.update(False, 0)
    seen = [button.update(True, t * POLL_MS * MS) for t in range(1, 200)]
    stuck = [e for e in seen if e is not None]
    assert [e.kind for e in stuck] == [PressKind.STUCK]
    assert stuck[0].held_ms > 2000
    assert button.stuck
    released = button.update(False, 200 * POLL_MS * MS)
    assert released is not None
    assert (released.kind, released.reason) == (PressKind.REFUSED, "too_long")
    assert not button.stuck


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        # Held from the first sample (power-up): its start was never seen.
        ([(0, True), (500, True), (520, False)], [("refused", "start_unseen")]),
        # Unknown only: nothing at all.
        ([(0, None), (20, None), (40, None)], []),
        # The link drops mid-press: refused, and the level seen after the drop is no new press.
        (
            [(0, False), (20, True), (200, None), (400, True), (600, False)],
            [("refused", "link_lost"), ("refused", "start_unseen")],
        ),
        # The link drops mid-press and comes back released: only the drop's refusal.
        ([(0, False), (20, True), (200, None), (600, False)], [("refused", "link_lost")]),
        # Unknown between two released samples: no press.
        ([(0, False), (20, None), (500, False)], []),
        # After a drop, a fresh press (released seen first) is accepted again.
        ([(0, None), (20, False), (40, True), (540, False)], [("accepted", None)]),
    ],
)
def test_an_unknown_level_never_makes_a_press(
    samples: list[Sample], expected: list[tuple[str, str | None]]
) -> None:
    """Unknown (link down, before the first sample) counts as held with an unseen start: a
    press across a link drop, or already held at power-up, is refused and logged."""
    assert kinds(run(samples)) == expected


def test_stuck_across_a_link_drop_clears_only_on_a_release() -> None:
    """A stuck input stays stuck while the level is unknown; a release seen later clears it."""
    button = ResetButton(350, 2000)
    button.update(False, 0)
    button.update(True, 20 * MS)
    assert button.update(True, 2100 * MS) is not None
    assert button.update(None, 2200 * MS) is None
    assert button.stuck
    assert button.update(True, 2300 * MS) is None
    assert button.stuck
    event = button.update(False, 2400 * MS)
    assert event is not None
    assert event.reason == "too_long"
    assert not button.stuck


@pytest.mark.parametrize(("min_ms", "max_ms"), [(0, 100), (500, 500), (600, 400)])
def test_a_window_must_be_a_window(min_ms: float, max_ms: float) -> None:
    """0 < min < max, or no button."""
    with pytest.raises(ValueError, match="reset window"):
        ResetButton(min_ms, max_ms)


@given(
    st.lists(
        st.tuples(st.integers(1, 400), st.one_of(st.booleans(), st.none())),
        max_size=80,
    )
)
def test_every_accepted_press_was_seen_whole_and_inside_the_window(
    steps: list[tuple[int, bool | None]],
) -> None:
    """Whatever the samples: an acceptance comes only on a released sample, after an unbroken
    stretch of pressed samples that began right after a released one, of a length in the
    window; a stuck event comes only while pressed."""
    button, t, history = ResetButton(350, 2000), 0, []
    for dt_ms, level in steps:
        t += dt_ms * MS
        event = button.update(level, t)
        history.append((t, level))
        if event is None:
            continue
        if event.kind is PressKind.STUCK:
            assert level is True
            continue
        if event.kind is not PressKind.ACCEPTED:
            continue
        assert level is False
        k = len(history) - 2
        while history[k][1] is True:
            k -= 1
        assert history[k][1] is False  # the start was seen released
        held_ns = t - history[k + 1][0]
        assert 350 * MS <= held_ns <= 2000 * MS


def test_an_accepted_press_says_the_latest_time_it_was_seen_released() -> None:
    """The press began after the last released sample before it: the guard refuses a press
    that may have begun before the trip it would reset (pressed_before_trip)."""
    events = run(press(1000, 600))
    assert [e.began_after_ns for e in events] == [980 * MS]
