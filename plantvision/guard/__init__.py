"""Guard: the safety function. Zone hits, health faults and reset presses in; permit and warning
out (a pure, latching state machine), and the ISO 13855 distance its response time requires.

    latch.py          the guard state machine (start interlock, trip fast, release on reset)
    reset_button.py   the reset input judged: a press counts on release, inside its window
    iso13855.py       minimum distance S = K * T + C and the per-zone boundary check
"""

from plantvision.guard.latch import Guard, GuardConfig, GuardOutput, GuardState

__all__ = ["Guard", "GuardConfig", "GuardOutput", "GuardState"]
