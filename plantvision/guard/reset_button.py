"""The reset button: a press counts on its release, and only if its length lies in a window.

ISO 13849-1 wants a manual reset to act on the falling edge (the release), so a button that is
stuck, bridged or held can never reset by itself. The PLCopen safety block `SF_ResetButton`
resets on release and ignores presses shorter than 350 ms or longer than 2 s; light curtains
and scanners (Banner, Leuze, wenglor) use windows of about 0.1-4.5 s. This machine follows them:

- a press is the time from the first sample seen pressed to the first sample seen released;
- on release it is accepted when `min_ms <= length <= max_ms`, else refused (`too_short`,
  `too_long`);
- a button still held beyond `max_ms` is a stuck input: a `stuck` event once, and `stuck` stays
  True until a release is seen (the loop turns it into the fault `reset_stuck`);
- an unknown level (PLC link down) never makes a press: a press in progress is refused
  (`link_lost`), and a level already high when samples resume (at power-up or after a drop) is a
  press whose start was not seen, refused on release (`start_unseen`): a person must release
  and press again.

Pure: the caller passes each sample with its time (`now_ns`, time.monotonic_ns). Samples come
every input poll (20 ms by default), so a measured length is within one poll period of the
true one; the window is far wider than that.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

_NS_PER_MS = 1_000_000

# SF_ResetButton's window (PLCopen Safety, part 1): the block a PLC program beside this box uses.
DEFAULT_RESET_MIN_MS = 350
DEFAULT_RESET_MAX_MS = 2000

Refusal = Literal["too_short", "too_long", "link_lost", "start_unseen"]


class PressKind(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    STUCK = "stuck"


@dataclass(frozen=True, slots=True)
class PressEvent:
    """What one sample ended: an accepted or refused press, or the onset of a stuck input.
    `held_ms` is the press length measured so far; `reason` names a refusal; `began_after_ns`
    is the last sample seen released before the press (it began after that, within a poll)."""

    kind: PressKind
    held_ms: float
    reason: Refusal | None = None
    began_after_ns: int = 0


class _Level(StrEnum):
    UNKNOWN = "unknown"  # no sample yet, or the link is down: as good as pressed
    RELEASED = "released"
    PRESSED = "pressed"


class ResetButton:
    """Turns timed samples of the reset input into accepted presses, refusals and stuck faults."""

    def __init__(
        self, min_ms: float = DEFAULT_RESET_MIN_MS, max_ms: float = DEFAULT_RESET_MAX_MS
    ) -> None:
        if not 0 < min_ms < max_ms:
            raise ValueError(f"reset window {min_ms}..{max_ms} ms: need 0 < min < max")
        self._min_ns, self._max_ns = int(min_ms * _NS_PER_MS), int(max_ms * _NS_PER_MS)
        self._level = _Level.UNKNOWN
        self._since_ns = 0  # first sample seen pressed
        self._start_seen = False  # that press began after a sample seen released
        self._low_ns = 0  # the last sample seen released
        self._began_after_ns = 0  # the last sample seen released before this press
        self._stuck = False

    @property
    def stuck(self) -> bool:
        """Held beyond the window and not yet seen released."""
        return self._stuck

    def update(self, level: bool | None, now_ns: int) -> PressEvent | None:
        """Feed one sample (None: unknown); the event it ends, if any."""
        if level is None:
            return self._unknown(now_ns)
        if level:
            return self._held(now_ns)
        return self._released(now_ns)

    def _held_ms(self, now_ns: int) -> float:
        return round((now_ns - self._since_ns) / _NS_PER_MS, 1)

    def _unknown(self, now_ns: int) -> PressEvent | None:
        was, self._level = self._level, _Level.UNKNOWN
        if was is _Level.PRESSED and self._start_seen and not self._stuck:
            return PressEvent(PressKind.REFUSED, self._held_ms(now_ns), "link_lost")
        return None

    def _held(self, now_ns: int) -> PressEvent | None:
        if self._level is not _Level.PRESSED:
            self._start_seen = self._level is _Level.RELEASED
            self._began_after_ns = self._low_ns
            self._level, self._since_ns = _Level.PRESSED, now_ns
            return None
        if not self._stuck and now_ns - self._since_ns > self._max_ns:
            self._stuck = True
            return PressEvent(PressKind.STUCK, self._held_ms(now_ns))
        return None

    def _released(self, now_ns: int) -> PressEvent | None:
        was, self._level, self._low_ns = self._level, _Level.RELEASED, now_ns
        if self._stuck:  # the release of a stuck press, whenever it is seen
            self._stuck = False
            return PressEvent(PressKind.REFUSED, self._held_ms(now_ns), "too_long")
        if was is not _Level.PRESSED:
            return None
        held_ns = now_ns - self._since_ns
        reason: Refusal | None = None
        if not self._start_seen:
            reason = "start_unseen"
        elif held_ns < self._min_ns:
            reason = "too_short"
        elif held_ns > self._max_ns:
            reason = "too_long"
        kind = PressKind.ACCEPTED if reason is None else PressKind.REFUSED
        return PressEvent(kind, self._held_ms(now_ns), reason, self._began_after_ns)
