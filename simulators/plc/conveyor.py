"""The PLC's conveyor side: ejector pulses in both timing modes, a pulse log, a reject bin.

Pure state; the server calls it under its lock with `now_ns`, the belt travel (mm) and speed
from the machine model (the machine *is* the belt: it moves while the machine runs).

- Box-timed: every rising edge of an ejector coil written by the box is a pulse.
- PLC-timed: the reject FIFO session is run by plantvision.plc.fifo.FifoReader (the documented
  PLC side: epoch, per-ejector pending tables, speed-compensated lead, late limit, echo); each
  scan samples the encoder for the PLC's speed and fires an entry's ejector once the encoder
  plus its lead in counts has reached its arrival count. A range entry (a blind segment) holds
  the coil on from its start until the encoder plus the lead reaches its end count, scan by
  scan, so every item whose centre passes within reach meanwhile goes into the bin, and a belt
  that stops mid-range holds it there.

Each pulse is recorded with its time, the encoder count and the belt travel at that instant and,
when an `ItemTruth` knows where the items are, the item nearest the ejector when the actuator
pushes: its offset from the ejector (mm and ms: actual minus ideal), and whether it went into the
bin. The paddle stays out while the coil is on (box-timed: until the coil's falling edge;
PLC-timed: the site's `pulse_ms` at the speed of the moment), so every other item whose centre
comes within reach of the ejector line meanwhile goes into the bin too (`swept`): a long pulse
on a fast belt bins the next item, good or not, and two pulses that overlap are one long push.
A binned item raises the bin sensor (`reject_confirm`, shared by every ejector, high for
`confirm_pulse_ms`) `bin_delay_ms` later; at that rising edge the PLC program increments the
pushing ejector's bin counter (`reject_confirm_counters`, 16 bits, wrapping).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from plantvision.conveyor.belt import wrap_delta
from plantvision.plc.fifo import FifoEntry, FifoReader
from plantvision.plc.values import WordOrder


class ItemTruth(Protocol):
    """Where the items really are (the scene simulator's belt)."""

    def nearest_item(self, travel_mm: float, x_mm: float) -> tuple[int, float, bool] | None:
        """(item id, centre position mm, defective) of the item whose centre is nearest `x_mm`
        when the belt has travelled `travel_mm`; None when the belt carries none."""
        ...


@dataclass(frozen=True)
class EjectorSite:
    """Where one ejector pushes, in the item truth's coordinates."""

    x_mm: float
    pulse_ms: float = 30.0  # PLC-timed: how long the PLC holds the coil
    response_ms: float = 0.0  # coil on to paddle out
    reach_mm: float = 20.0  # an item centre this close to x_mm at the push goes into the bin


@dataclass(frozen=True)
class ConveyorSimConfig:
    """The belt and ejectors the simulated PLC drives."""

    counts_per_mm: float = 10.0
    belt_speed_mm_s: float = 500.0
    ramp_ms: float = 0.0  # a start accelerates to belt_speed_mm_s over this (0: a step)
    ejectors: tuple[EjectorSite, ...] = ()
    scan_ms: float = 1.0  # PLC-timed: the PLC's scan period
    late_limit_mm: float = 20.0  # PLC-timed: an entry found this far past its count is refused
    bin_delay_ms: float = 40.0
    confirm_pulse_ms: float = 30.0


@dataclass(frozen=True)
class BeltNow:
    """The belt at one instant, from the machine model. `travel_after(dt_ns)`: where it will be
    `dt_ns` later if nothing changes (the machine's own ramp or coast, not a linear guess: a
    push lands an actuator's response later, and the belt accelerates meanwhile)."""

    t_ns: int
    encoder: int
    travel_mm: float
    speed_mm_per_ns: float
    travel_after: Callable[[float], float] | None = field(default=None, compare=False)

    def push_mm(self, response_ns: float) -> float:
        """Belt travel when a paddle that starts now lands, `response_ns` later."""
        if self.travel_after is not None:
            return self.travel_after(response_ns)
        return self.travel_mm + self.speed_mm_per_ns * response_ns

    def later(self, dt_ns: float) -> BeltNow:
        """The belt `dt_ns` (>= 0) from now, if nothing changes: where a pulse the PLC times
        ends (the encoder is not followed: only travel and time are read there)."""
        after = self.travel_after
        shifted = None if after is None else (lambda d: after(d + dt_ns))
        return BeltNow(self.t_ns + int(dt_ns), self.encoder, self.push_mm(dt_ns),
                       self.speed_mm_per_ns, shifted)  # fmt: skip


class ConveyorModel:
    """Pulses, the FIFO and the bin; `pulses` is the log (one dict per pulse, JSON-ready)."""

    def __init__(
        self,
        cfg: ConveyorSimConfig,
        fifo_registers: int,
        word_order: WordOrder,
        truth: ItemTruth | None = None,
        n_ejectors: int = 16,
    ) -> None:
        self.cfg, self.truth, self._order = cfg, truth, word_order
        self._fifo = [0] * fifo_registers
        self.boots = 1
        self.reader = self._new_reader(n_ejectors, self.boots)
        self.pulses: list[dict[str, Any]] = []
        self.binned_items: list[int] = []
        self._bin_windows: list[tuple[int, int]] = []
        self._bin_edges: dict[int, list[int]] = {}  # ejector -> rising edges still ahead, ns
        self._bin_counts: dict[int, int] = {}  # ejector -> rising edges counted so far
        self._coil_on: dict[int, tuple[BeltNow, int]] = {}  # box: (belt at the edge, record)
        self._ranges: dict[int, tuple[FifoEntry, BeltNow, int]] = {}  # plc: (range, swept to, rec)

    def _new_reader(self, n_ejectors: int, boot: int) -> FifoReader:
        late = round(self.cfg.late_limit_mm * self.cfg.counts_per_mm)
        reader = FifoReader(self._order, boot, n_ejectors, late)
        if self._fifo:
            reader.power_up(self._fifo)
        return reader

    @property
    def pending(self) -> list[FifoEntry]:
        """Entries waiting to fire, every ejector's table."""
        return [e for table in self.reader.pending.values() for e in table]

    @property
    def busy(self) -> bool:
        """Entries wait to fire, or a range holds a coil on: the PLC must keep scanning."""
        return bool(self.pending or self._ranges)

    @property
    def fifo_overflows(self) -> int:
        return self.reader.overflow

    def restart(self) -> None:
        """The PLC program restarts: its FIFO block (not retentive here), last consumed entry
        and pending tables are gone and its boot number changes (a real restart loses them; the
        simulator must, or no FIFO session is tested)."""
        self._fifo = [0] * len(self._fifo)
        self._ranges = {}  # the outputs drop with the program
        self.boots += 1
        self.reader = self._new_reader(self.reader.ejectors, self.boots)

    def echo(self) -> list[int]:
        """The `reject_fifo_echo` registers the PLC program writes each scan."""
        return self.reader.echo()

    # -- box-timed ---------------------------------------------------------------------------

    def on_coil(self, index: int, on: bool, was_on: bool, belt: BeltNow) -> None:
        """An ejector coil written by the box; its rising edge is a pulse."""
        if on and not was_on:
            self._pulse("box", index, belt, None)
            self._coil_on[index] = (belt, len(self.pulses) - 1)
        elif was_on and not on and index in self._coil_on:
            start, rec = self._coil_on.pop(index)
            self._sweep(index, start, belt, self.pulses[rec])

    # -- PLC-timed ---------------------------------------------------------------------------

    def on_fifo_write(self, offset: int, values: list[int]) -> None:
        """Registers written into the FIFO block; the reader takes the new entries."""
        self._fifo[offset : offset + len(values)] = values
        self.reader.on_block(self._fifo)

    def scan(self, belt: BeltNow) -> None:
        """One PLC scan: sample the speed, hold every range on, and fire every pending entry
        whose arrival count the encoder plus its lead has reached."""
        self.reader.sample(belt.t_ns, belt.encoder)
        for index in list(self._ranges):
            self._hold(index, belt)
        for ejector in sorted(self.reader.pending):
            for e in self.reader.due(ejector, belt.encoder):
                self._pulse("plc", e.ejector_index, belt, e)
                if e.end_count is not None:
                    self.pulses[-1]["end_count"] = e.end_count
                    self._ranges[e.ejector_index] = (e, belt, len(self.pulses) - 1)
                    self._hold(e.ejector_index, belt)
                    continue
                site = self._site(e.ejector_index)
                if site is not None:  # the PLC holds the coil for its pulse: sweep it now
                    self._sweep(e.ejector_index, belt, belt.later(site.pulse_ms * 1e6),
                                self.pulses[-1])  # fmt: skip

    def _hold(self, index: int, belt: BeltNow) -> None:
        """A range's coil stays on: sweep the belt since the last scan, until the encoder plus
        the lead reaches its end count (there the coil drops). The record's pulse and swept
        length grow with it."""
        e, since, i = self._ranges[index]
        assert e.end_count is not None
        rec = self.pulses[i]
        ahead = self.reader.ahead(belt.encoder, e.lead_ms)
        left_mm = wrap_delta(e.end_count, ahead) / self.cfg.counts_per_mm
        to = belt
        if left_mm <= 0:  # the end came during this scan: the coil dropped there
            v = belt.speed_mm_per_ns
            back_ns = int(-left_mm / v) if v > 0 else 0
            count = (belt.encoder - round(-left_mm * self.cfg.counts_per_mm)) % 2**32
            to = BeltNow(belt.t_ns - back_ns, count, belt.travel_mm + left_mm, v)
            del self._ranges[index]
        else:
            self._ranges[index] = (e, belt, i)
        before = rec.get("swept", [])
        self._sweep(index, since, to, rec, {int(s["item"]) for s in before})
        rec["swept"] = before + rec.get("swept", [])  # none without an item truth
        rec["pulse_ms"] = round((to.t_ns - rec["t_ns"]) / 1e6, 3)
        rec["swept_mm"] = round(to.travel_mm - rec["belt_mm"], 3)

    # -- the bin -----------------------------------------------------------------------------

    def confirm_input(self, now_ns: int) -> bool:
        """The bin sensor: high while a binned item falls past it."""
        self._bin_windows = [w for w in self._bin_windows if w[1] > now_ns]
        return any(a <= now_ns for a, _ in self._bin_windows)

    def bin_counter(self, index: int, now_ns: int) -> int:
        """Ejector `index`'s bin counter register at `now_ns`: its bin sensor's rising edges
        so far, mod 2^16 (the PLC counts each edge in its scan, however short the pulse)."""
        edges = self._bin_edges.get(index, [])
        passed = [t for t in edges if t <= now_ns]
        if passed:
            self._bin_edges[index] = [t for t in edges if t > now_ns]
            self._bin_counts[index] = self._bin_counts.get(index, 0) + len(passed)
        return self._bin_counts.get(index, 0) & 0xFFFF

    # -- internals ---------------------------------------------------------------------------

    def _pulse(self, mode: str, index: int, belt: BeltNow, entry: FifoEntry | None) -> None:
        rec: dict[str, Any] = {
            "t_ns": belt.t_ns,
            "mode": mode,
            "ejector": index,
            "encoder": belt.encoder,
            "belt_mm": round(belt.travel_mm, 3),
            "speed_mm_s": round(belt.speed_mm_per_ns * 1e9, 3),
            "counts_per_ms": belt.speed_mm_per_ns * 1e6 * self.cfg.counts_per_mm,
        }
        if entry is not None:
            # How far past its firing point the scan found it (the scan's own lateness).
            ahead = self.reader.ahead(belt.encoder, entry.lead_ms)
            rec |= {"seq": entry.seq, "arrival_count": entry.arrival_count,
                    "lead_counts": wrap_delta(ahead, belt.encoder),
                    "past_counts": wrap_delta(ahead, entry.arrival_count)}  # fmt: skip
        site = self._site(index)
        if site is not None and self.truth is not None:
            rec |= self._hit(index, site, belt)
        self.pulses.append(rec)

    def _site(self, index: int) -> EjectorSite | None:
        return self.cfg.ejectors[index] if index < len(self.cfg.ejectors) else None

    def _sweep(
        self,
        index: int,
        start: BeltNow,
        end: BeltNow,
        rec: dict[str, Any],
        binned: set[int] | None = None,
    ) -> None:
        """Every item, besides the one binned at the push, whose centre comes within reach of
        the ejector line while the paddle is out (from `start` to `end`, each shifted by the
        actuator's response) goes into the bin; recorded in `rec["swept"]`. The belt is
        stepped at most 1 mm (and at most the reach) at a time, so no centre slips through.
        `binned`: items this push already put in the bin (a range swept scan by scan)."""
        site = self._site(index)
        if site is None or self.truth is None:
            return
        response_ns = site.response_ms * 1e6
        p0, p1 = start.push_mm(response_ns), end.push_mm(response_ns)
        rec["pulse_ms"] = round((end.t_ns - start.t_ns) / 1e6, 3)
        rec["swept_mm"] = round(p1 - p0, 3)
        seen: set[Any] = {rec.get("item")} if rec.get("binned") else set()
        seen |= binned or set()
        swept: list[dict[str, Any]] = []
        n = max(1, int((p1 - p0) / max(min(site.reach_mm, 1.0), 0.05)) + 1)
        for i in range(n + 1):
            found = self.truth.nearest_item(p0 + (p1 - p0) * i / n, site.x_mm)
            if found is None or found[0] in seen or abs(found[1] - site.x_mm) > site.reach_mm:
                continue
            seen.add(found[0])
            swept.append({"item": found[0], "defective": found[2]})
            t_push = start.t_ns + (end.t_ns - start.t_ns) * i // n
            self._into_bin(index, found[0], t_push + int(response_ns))
        rec["swept"] = swept

    def _into_bin(self, index: int, item: int, t_push_ns: int) -> None:
        """An item pushed at `t_push_ns` falls past the bin sensor `bin_delay_ms` later."""
        self.binned_items.append(item)
        t_in = t_push_ns + int(self.cfg.bin_delay_ms * 1e6)
        self._bin_windows.append((t_in, t_in + int(self.cfg.confirm_pulse_ms * 1e6)))
        self._bin_edges.setdefault(index, []).append(t_in)

    def _hit(self, index: int, site: EjectorSite, belt: BeltNow) -> dict[str, Any]:
        """Which item the paddle meets, and how far from the ideal instant."""
        assert self.truth is not None
        response_ns = site.response_ms * 1e6
        push_mm = belt.push_mm(response_ns)
        found = self.truth.nearest_item(push_mm, site.x_mm)
        if found is None:
            return {"item": None, "binned": False}
        item, centre_mm, defective = found
        offset_mm = centre_mm - site.x_mm  # > 0: the item had passed: the pulse came late
        v = belt.speed_mm_per_ns
        binned = abs(offset_mm) <= site.reach_mm
        if binned:
            self._into_bin(index, item, belt.t_ns + int(response_ns))
        return {
            "item": item,
            "defective": defective,
            "offset_mm": round(offset_mm, 3),
            "error_ms": round(offset_mm / v / 1e6, 4) if v > 0 else None,
            "binned": binned,
        }
