"""The combined output image: every camera's contribution expires; supervisor faults hold it."""

from __future__ import annotations

from plantvision.guard.latch import GuardOutput, GuardState
from plantvision.loop.outputs import FAULT_CODES, OutputImage

RUNNING = GuardOutput(True, False, None, GuardState.RUNNING)
TRIPPED = GuardOutput(False, False, "decision_expired", GuardState.TRIPPED)
MS = 1_000_000


def test_a_camera_whose_last_decision_is_too_old_counts_as_permit_off() -> None:
    """b decides on; a's permit, 251 ms old against its 250 ms bound, no longer counts."""
    img = OutputImage({"a": 250 * MS, "b": 250 * MS})
    img.update("a", RUNNING, 0)
    assert img.update("b", RUNNING, 250 * MS).permit
    out = img.update("b", RUNNING, 251 * MS)
    assert (out.permit, out.fault_code) == (False, FAULT_CODES["decision_expired"])
    assert img.expired(251 * MS) == ["a"]
    # That image went out: a's late permit does not raise it again (review4: OFF then ON on the
    # wire, no reset). a's guard trips on it (decision_expired), and only its reset counts.
    late = img.update("a", RUNNING, 252 * MS)
    assert (late.permit, late.fault_code) == (False, FAULT_CODES["decision_expired"])
    assert img.was_expired("a")
    assert not img.update("a", TRIPPED, 260 * MS).permit
    assert not img.was_expired("a")
    assert img.update("a", RUNNING, 300 * MS).permit  # after its reset


def test_a_camera_that_never_decided_holds_the_permit_off() -> None:
    img = OutputImage({"a": 250 * MS, "b": 250 * MS})
    out = img.update("b", RUNNING, 0)
    assert (out.permit, out.fault_code) == (False, FAULT_CODES["start_interlock"])


def test_a_supervisor_fault_holds_the_permit_off_with_its_code() -> None:
    img = OutputImage({"a": 250 * MS})
    img.update("a", RUNNING, 0)
    out = img.set_fault("thread_stopped", 1 * MS)
    assert (out.permit, out.fault_code) == (False, FAULT_CODES["thread_stopped"])
    assert img.set_fault(None, 2 * MS).permit


def test_every_fault_code_is_in_the_readme_table() -> None:
    """The README's fault table names every cause with the code the PLC receives."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    missing = [f"{c}={n}" for c, n in FAULT_CODES.items() if f"| `{c}` | {n} |" not in readme]
    assert missing == []
