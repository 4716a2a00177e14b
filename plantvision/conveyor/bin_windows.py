"""Bin confirmation: the window each fired push opens, and the bin pulses that close them. Pure.

With `confirm_window_ms` every push opens a bin window when it fires (`commit`): a defect's push
must be seen in the bin within it, a push over blind belt may be (it may meet items or air).
Each bin pulse goes to a blind push whose window holds it first, up to the items that push can
meet (confirm.py), so a real reject is never credited with a pulse a blind push can explain; one
left unconfirmed stops the belt (`reject_unconfirmed`, its cause `no_pulse`, or
`ambiguous_with_blind_push` when a blind push took a pulse its window held).
"""

from __future__ import annotations

from typing import Any

from plantvision.conveyor.actions import Alarm
from plantvision.conveyor.belt import Belt
from plantvision.conveyor.config import ConveyorConfig
from plantvision.conveyor.confirm import BlindBook, Window, explain, items_met
from plantvision.conveyor.rejects import Reject, RejectBook, coil_on_ns, ms


class BinWindows:
    """The bin windows of one belt's fired pushes."""

    def __init__(self, cfg: ConveyorConfig, belt: Belt, book: RejectBook) -> None:
        self._cfg, self._belt, self._book = cfg, belt, book
        self._bin = BlindBook()  # what blind pushes may still explain in the bin, and took

    def confirm(self, now_ns: int, ejector_id: str | None, since_ns: int | None) -> None:
        """A bin pulse at `now_ns` (or somewhere in [`since_ns`, `now_ns`]), from `ejector_id`'s
        counter or (None) the shared level input: see `RejectScheduler.report_confirm`."""
        self._bin.keep(self._book.rejects)
        level = ejector_id is None
        waiting = sorted(
            (r for r in self._book.rejects.values() if r.confirm_deadline_ns is not None
             and (not r.blind or self._bin.may(r.item_id))
             and (level or (r.ejector is not None and r.ejector.id == ejector_id))),
            key=lambda r: r.fire_at_ns if level else r.confirm_deadline_ns or 0,
        )  # fmt: skip
        # The level input: an edge since the last cycle, which every window still waiting held.
        windows = [Window(r.confirm_open_ns, now_ns if level else r.confirm_deadline_ns or 0,
                          r.blind) for r in waiting]  # fmt: skip
        seen_from_ns = now_ns if since_ns is None else since_ns
        i, passed_over = explain(windows, seen_from_ns, now_ns)
        which = {} if level else {"ejector": ejector_id}
        if i is None:
            self._book.log.warning("reject_confirm_unexpected", t_ns=now_ns, **which)
            return
        r = waiting[i]
        if r.blind:
            ids = [waiting[k].item_id for k in passed_over]
            self._bin.take(r.item_id, ids)
            self._book.log.info("reject_confirm_blind", item_id=r.item_id, ambiguous_ids=ids,
                                after_ms=ms(now_ns - r.fire_at_ns), **which)  # fmt: skip
            return
        r.confirm_deadline_ns = None
        self._bin.settle(r.item_id)
        self._book.counters.confirmed += 1
        self._book.log.info("reject_confirmed", item_id=r.item_id,
                            after_ms=ms(now_ns - r.fire_at_ns), **which)  # fmt: skip

    def commit(self, r: Reject, fired_at_ns: int) -> None:
        """`r` fired at `fired_at_ns` (the box's best knowledge): its bin window opens."""
        r.state, r.fire_at_ns, r.confirm_open_ns = "committed", fired_at_ns, fired_at_ns
        if self._cfg.confirm_window_ms is None:
            return
        r.confirm_deadline_ns = fired_at_ns + int(self._cfg.confirm_window_ms * 1e6)
        if r.blind:  # may meet items or air: a window that may explain pulses, owes none
            self._open_blind_window(r)

    def _open_blind_window(self, r: Reject) -> None:
        """A blind push's window stays open until its coil goes off (box: the pulse; PLC: the
        range's end, see `check`) plus the confirm window, and explains at most the items the
        belt it sweeps can hold: `min_item_pitch_mm` apart, or without it twice `gate_mm`
        (closer items would share one track)."""
        assert r.ejector is not None
        assert r.confirm_deadline_ns is not None
        v = max(self._belt.speed_mm_per_ns() or 0.0, 0.0)
        coil_ns = coil_on_ns(r, v)
        r.confirm_deadline_ns += coil_ns
        pitch_mm = self._cfg.min_item_pitch_mm or 2 * self._cfg.gate_mm
        swept_mm = max(r.span_mm, v * coil_ns)
        self._bin.open(r.item_id, items_met(swept_mm, r.ejector.reach_mm, pitch_mm))

    def check(self, r: Reject, now_ns: int) -> None:
        """A real reject whose window closed unconfirmed stops the belt; its cause says whether
        a blind push took a pulse its window held (`ambiguous_with_blind_push`: its item may be
        in the bin) or none was left for it (`no_pulse`). A blind push's window closes quietly,
        a PLC range's only a confirm window after the belt passed its end."""
        if r.confirm_deadline_ns is None:
            return
        if r.end_mm is not None:  # a PLC range, on until a reading passes its end, and then off
            assert self._cfg.confirm_window_ms is not None
            window_ns = int(self._cfg.confirm_window_ms * 1e6)
            r.confirm_deadline_ns = max(r.confirm_deadline_ns, now_ns + window_ns)
            measured_mm = self._belt.measured_mm()
            if measured_mm is not None and measured_mm >= r.end_mm:
                r.end_mm = None  # the window runs from the first update that saw it off
        if now_ns <= r.confirm_deadline_ns:
            return
        if r.blind:
            r.confirm_deadline_ns = None
            self._bin.settle(r.item_id)
            return
        r.confirm_deadline_ns = None
        blind_ids = self._bin.settle(r.item_id)
        self._book.counters.unconfirmed += 1
        self._book.counters.unconfirmed_ambiguous += bool(blind_ids)
        self._book.buf.alarms.append(Alarm("reject_unconfirmed", r.item_id))
        self._book.stop_belt = True
        cause: dict[str, Any] = {"cause": "no_pulse"}
        if blind_ids:  # its item may be in the bin: a pulse a blind push took may be its own
            cause = {"cause": "ambiguous_with_blind_push", "blind_ids": blind_ids}
        self._book.log.error("reject_unconfirmed", item_id=r.item_id,
                             window_ms=self._cfg.confirm_window_ms, **cause)  # fmt: skip
