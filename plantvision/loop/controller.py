"""The real-time loop: per camera, frame -> detector -> zones -> guard; then one PLC write.

Each camera runs in its own thread. Its guard's permit is ANDed with the other cameras' into one
output image, written to the PLC in the same cycle, so a stop decision reaches the PLC without
waiting for any other camera. Only this module and the command line read the clock.

A camera over a conveyor also has a `RejectRuntime` (conveyor/runtime.py): its detections go to the
reject scheduler, its stop causes become guard faults, and its box-timed pulses are timed by the
link's pulse timer (the real link's: a child process with its own connection) outside the
image's lock: a pulse never waits for a camera's image write. Composing an image and writing it
happen under one lock, so a writer never sends an image older than one already sent; a
permit-off write waits for at most one in-flight image write (one round trip), never for a
heartbeat, input read, verdict or ejector coil.

Every contribution expires (plantvision.supervisor): a camera whose last decision is older than
its bound counts as permit OFF in the combined image, a supervisor thread writes permit OFF when
any thread dies or stops cycling, and the heartbeat advances only while all of them are fine.
Stale is never clear: a verdict on a frame older than the budget never counts as clear (for the
clear-hold timer or a reset); one that shows a stop zone occupied still trips.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from plantvision.frames.health import is_dark
from plantvision.guard.latch import GuardOutput, GuardState
from plantvision.guard.reset_button import (
    DEFAULT_RESET_MAX_MS,
    DEFAULT_RESET_MIN_MS,
    PressEvent,
    PressKind,
    ResetButton,
)
from plantvision.loop.camera import (
    CameraRuntime,
    LinkLike,
    note_masked,
    notes_of,
    pools_of,
)
from plantvision.loop.edm import StopBounds, StopMonitor
from plantvision.loop.outputs import (
    DECISION_EXPIRED,
    PERMIT_MISMATCH,
    RESET_STUCK,
    STOP_UNCONFIRMED,
    THREAD_STOPPED,
    VERDICT_STALE,
    OutputImage,
    ResetBus,
)
from plantvision.loop.publish import CameraSnapshot, tick
from plantvision.loop.supervisor import (
    SERVICE_STALE_MS,
    SUPERVISE_PERIOD_MS,
    SUPERVISOR_STALE_NS,
    Problem,
    Watched,
    covers,
    find_problems,
    read_wait_ns,
)
from plantvision.plc.link import PlcInputs, PlcOutputs
from plantvision.types import Frame, StageTimes
from plantvision.zones.geometry import ZoneHits

SWITCH_INTERVAL_S = 0.0002
# Reject counters whose rise is a fresh alarm: a press in the same cycle does not clear it.
ALARM_COUNTERS = (
    "missed", "unconfirmed", "discontinuities", "belt_unplaced", "neighbour_hits", "cycle_short",
    "blind_segments",
)  # fmt: skip

_TRIPPED_INTERNAL = GuardOutput(False, False, "internal_error", GuardState.TRIPPED)


# Faults that say the verdict stream had a gap or cannot be trusted: no clear-hold time.
BLIND_FAULTS = frozenset({
    "camera_stalled", "frozen_frame", "black_frame", "model_error", "budget_overrun",
    "loop_stalled", "internal_error", VERDICT_STALE, DECISION_EXPIRED,
})  # fmt: skip


def _undecided(cam: CameraRuntime, faults: set[str], fault: str) -> None:
    """A frame the loop could not decide on: its fault, and the reject runtime told (the
    belt it showed stays unproven, and a blind segment over it names this cause)."""
    faults.add(fault)
    if cam.reject is not None:
        cam.reject.undecided(fault)


class Controller:
    """Runs every camera's cycle until stopped; the only place faults become guard inputs."""

    def __init__(
        self,
        cameras: list[CameraRuntime],
        link: LinkLike,
        *,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        log: Any,
        input_poll_ms: float = 20.0,
        service_stale_ms: float = SERVICE_STALE_MS,
        stop_check: StopBounds | None = None,
        reset_window_ms: tuple[float, float] = (DEFAULT_RESET_MIN_MS, DEFAULT_RESET_MAX_MS),
    ) -> None:
        self.cameras, self.link, self.clock_ns, self.log = cameras, link, clock_ns, log
        self.outputs = OutputImage({c.id: c.expiry_ns for c in cameras})
        self.resets = ResetBus()  # accepted reset presses (judged by self.reset_button)
        self.reset_button = ResetButton(*reset_window_ms)  # fed only by the input poller
        self.reset_stuck_onsets = 0  # each camera's guard sees each one (a latched fault)
        self.confirms = ResetBus()  # bin sensor rising edges
        self.latest_inputs: PlcInputs | None = None
        self.stop_event = threading.Event()
        self._write_lock = threading.Lock()
        self._input_poll_s = input_poll_ms / 1000
        self._service_stale_ns = int(service_stale_ms * 1e6)
        self._threads: list[threading.Thread] = []
        self._supervisor: threading.Thread | None = None
        self._consumed: dict[str, int] = {c.id: 0 for c in cameras}
        self._confirms_taken: dict[str, int] = {c.id: 0 for c in cameras}
        self._permit_lock = threading.Lock()
        self._permit_on = False
        self._poll_ns = 0  # when the input poller last completed an iteration
        self._supervised_ns = 0  # when the supervisor last checked
        self._threads_ok = False
        # (thread, "dead" | "stuck") found by the last check; replaced: read without a lock.
        self.problems_now: frozenset[tuple[str, str]] = frozenset()
        # Per camera: the onsets its guard must see (those of problems that cover it), and the
        # cameras a fatal problem covers now (their guards see the fault in every cycle).
        self._trips_for: dict[str, int] = {c.id: 0 for c in cameras}
        self._held: frozenset[str] = frozenset()
        # Onsets per (thread, "dead" | "stuck"); replaced, never changed: read without a lock.
        self.thread_problems: dict[tuple[str, str], int] = {}
        self._pools = pools_of(cameras)
        self.permit_mismatches = 0  # readbacks that found a permit the box did not write
        self.plc_trips = 0  # latches the PLC showed while holding the box's permit ON
        self._permit_rise_ns: int | None = None  # the PLC acknowledged permit ON then; None: OFF
        self._latch_counted: int | None = None  # the rise whose latch is counted already
        self._last_write_ns = 0  # when the last output image write began
        self._stall_min_ns = min(c.stall_ns for c in cameras)
        # Decision rounds: one completes when every camera has decided and written since the
        # last one; the heartbeat beats once per round (plantvision.plc.link).
        self._round_lock = threading.Lock()
        self._decided: set[str] = set()
        self._rounds = 0
        # Stop monitoring (EDM, plantvision.loop.edm); None: not checked.
        self.edm = None if stop_check is None else StopMonitor(stop_check, reset_window_ms[1])
        # A PLC may clear its latch on the release, two scans later (its latch bound): judge the
        # latch on a sample taken after that, plus a poll for the PLC's own view of the release.
        latch_ms = 0.0 if stop_check is None else stop_check.latch_ms
        self._latch_settle_ns = int((latch_ms + input_poll_ms) * 1e6)

    def start(self) -> None:
        if any(c.reject is not None and c.reject.cfg.timing_mode == "box" for c in self.cameras):
            # The ejector timer must get the GIL within a fraction of a millisecond of its
            # deadline; CPython's default hands it over only every 5 ms.
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        for cam in self.cameras:
            if cam.reject is not None:
                timers = self.link.pulse_timer
                cam.reject.start(self._set_ejector, self.link.write_verdicts, timers=timers)
            cam.source.start()
            cam.last_frame_ns = cam.last_decision_ns = self.clock_ns()
        self._poll_ns = self._supervised_ns = self.clock_ns()
        self._threads = [
            threading.Thread(
                target=self._camera_thread, args=(c,), name=f"loop-{c.id}", daemon=True
            )
            for c in self.cameras
        ]
        self._threads.append(
            threading.Thread(target=self._poll_inputs, name="plc-inputs", daemon=True)
        )
        self._supervisor = threading.Thread(
            target=self._supervise_thread, name="loop-supervisor", daemon=True
        )
        self._threads.append(self._supervisor)
        self.link.liveness = self.liveness
        self.link.decisions = self.decision_rounds
        for t in self._threads:
            t.start()

    def shut_down_outputs(self) -> None:
        """Shutdown is a trip: write permit OFF with fault code `shutdown` now, and make every
        later image (a cycle still running, the ejector timer switching its coils off) say the
        same. Waits for at most one image write already in flight."""
        with self._write_lock:
            self.outputs.shut_down()
            self._permit_rise_ns = None
            rtt_ms = self.link.write(self.outputs.current(self.clock_ns()))
        with self._permit_lock:
            was_on, self._permit_on = self._permit_on, False
        with contextlib.suppress(Exception):  # told after the write, never raising
            self._say(
                "warning",
                "permit_off",
                cause="shutdown",
                was_on=was_on,
                acknowledged=rtt_ms is not None,
            )

    def stop(self) -> None:
        """Trip first (permit OFF, fault code `shutdown`), then wind down threads and sources."""
        self.shut_down_outputs()
        self.stop_event.set()
        for t in self._threads:
            t.join(2.0)
        for cam in self.cameras:
            cam.source.stop()
            if cam.reject is not None:
                cam.reject.close()
            if cam.inference is not None:
                cam.inference.close()

    # -- threads ------------------------------------------------------------------------------

    def _poll_inputs(self) -> None:
        confirm_level = True  # unknown counts as high: a stuck sensor confirms nothing
        while not self.stop_event.wait(self._input_poll_s):
            try:  # a dead poller would silently swallow every reset
                confirm_level = self._poll_once(confirm_level)
            except Exception as exc:
                self._say("error", "plc_input_error", error=repr(exc))
            self._retime_plans()
            self._poll_ns = self.clock_ns()

    def _retime_plans(self) -> None:
        """Box-timed plans re-timed or withdrawn on the readings just offered, not only in
        camera cycles (`RejectRuntime.retime`); a failure trips that camera (internal_error)
        as a failed cycle does."""
        for cam in self.cameras:
            if cam.reject is None:
                continue
            try:
                cam.reject.retime(self.clock_ns())
            except Exception as exc:
                cam.internal_error = True
                self._say("error", "reject_retime_error", camera=cam.id, error=repr(exc))

    def _poll_once(self, confirm_level: bool) -> bool:
        t_read_ns = self.clock_ns()
        inputs = self.link.read_inputs()
        self.latest_inputs = inputs
        self._check_plc_latch(inputs, t_read_ns)
        for cam in self.cameras:  # every encoder reading, not one per camera cycle
            if cam.reject is not None:
                cam.reject.offer(inputs)
        # Stamped when the PLC sampled the bits (before the request went out), not when the read
        # returned: a press's "began after" must never look later than it was (slow links).
        t_sample_ns = inputs.t_sample_ns if inputs is not None and inputs.t_sample_ns else None
        level = None if inputs is None else inputs.reset
        t_ns = t_sample_ns or self.clock_ns()
        press = self.reset_button.update(level, t_ns)
        if press is not None:
            self._judge_press(press, t_ns)
        if self.edm is not None:
            self._check_stop(inputs)
        if inputs is not None and inputs.permit_mismatch:
            # Another writer: every camera's guard trips on it (fault permit_mismatch).
            self.permit_mismatches += 1
            self._say(
                "error", "permit_mismatch", written=inputs.permit_written,
                read_back=inputs.permit_read_back,
            )  # fmt: skip
        level = None if inputs is None else inputs.reject_confirm
        if level and not confirm_level:
            self.confirms.press()
        return True if level is None else level

    def _check_plc_latch(self, inputs: PlcInputs | None, t_read_ns: int) -> None:
        """A latch read while the PLC held the box's permit ON is a stop the box did not cause
        (an e-stop, a watchdog or heartbeat-sequence trip): every camera's guard trips on it, so
        the permit rises afresh after the reset. Judged on every sample, not once a camera
        cycle: a reset press can clear the latch within one cycle, and the rise it spent is
        gone all the same (the PLC starts only on a rise after the press; plc_replay, where
        later presses were 'not tripped' and the machine never started again)."""
        rise = self._permit_rise_ns
        if inputs is None or not inputs.machine_latched or rise is None or rise > t_read_ns:
            return
        if rise != self._latch_counted:  # once per rise: the guards trip, the permit goes OFF
            self._latch_counted = rise
            self.plc_trips += 1

    def _losses_seen(self) -> int:
        """The PLC link losses every camera has decided under: an image holding an output decided
        before a later loss must not raise the permit (PlcLink.write sends it tripped)."""
        return min(c.output_losses for c in self.cameras)

    def _write(self, image: PlcOutputs) -> float | None:
        """Write an output image (caller holds the write lock) and tell the stop monitor."""
        t_sent_ns = self.clock_ns()
        # The box stood still (frozen, starved) for longer than its stall bound: its PLC may have
        # tripped on its own watchdog meanwhile, and been reset at the machine unseen.
        unseen = 0 < self._last_write_ns < t_sent_ns - self._stall_min_ns
        self._last_write_ns = t_sent_ns
        if not image.permit:
            self._permit_rise_ns = None  # from here on a latch is the box's own stop
        rtt_ms = self.link.write(image, self._losses_seen())
        if image.permit and rtt_ms is not None and self._permit_rise_ns is None:
            self._permit_rise_ns = self.clock_ns()  # a latch read after this is not the box's
        if self.edm is not None:
            t_ack_ns = None if rtt_ms is None else self.clock_ns()
            self.edm.wrote(image.permit, t_sent_ns, t_ack_ns, unseen)
        return rtt_ms

    def _check_stop(self, inputs: PlcInputs | None) -> None:
        """Judge the stop after a permit OFF; a miss locks the permit off (written now, from
        this thread: the box may have re-permitted meanwhile) until a maintenance reset."""
        assert self.edm is not None
        before = self.edm.fault
        notes = self.edm.sample(inputs, self.resets.began_after_ns, self.reset_button.stuck)
        after = self.edm.fault
        if after != before:
            with self._write_lock:
                self._write(self.outputs.set_lockout(STOP_UNCONFIRMED if after else None,
                                                     self.clock_ns()))  # fmt: skip
        with contextlib.suppress(Exception):  # told after the write, never raising
            for level, event, fields in notes:
                getattr(self.log, level)(event, **fields)

    def _judge_press(self, press: PressEvent, t_sample_ns: int) -> None:
        """Count an accepted press for every camera, or note a stuck input; then log it."""
        if press.kind is PressKind.ACCEPTED:
            self.resets.press(press.began_after_ns, t_sample_ns)
            self._say("info", "reset_press_accepted", held_ms=press.held_ms)
        elif press.kind is PressKind.STUCK:
            self.reset_stuck_onsets += 1
            self._say("error", "reset_stuck", held_ms=press.held_ms)
        else:
            self._say("warning", "reset_press_refused", reason=press.reason, held_ms=press.held_ms)

    def _set_ejector(self, index: int, on: bool) -> bool:
        """One coil on the link's ejector connection, taking neither the image's lock nor its
        connection: a timer thread's pulse, or a dead ejector child's coil switched off; False
        when it did not reach the PLC (the timer reports that pulse as a missed reject)."""
        return self.link.write_ejector(index, on)

    def _camera_thread(self, cam: CameraRuntime) -> None:
        wait_s = read_wait_ns(cam.budget_ns, cam.stall_ns) / 1e9
        while not self.stop_event.is_set():
            try:  # survive anything an Exception can be; the supervisor sees a thread that dies
                frame = cam.source.read(wait_s)
                self._run_cycle_safely(cam, frame)
                if frame is None and cam.source.ended:
                    self._say("info", "source_ended", camera=cam.id)
                    self.stop_event.set()
            except Exception as exc:
                cam.internal_error = True
                self._say("error", "camera_thread_error", camera=cam.id, error=repr(exc))
                self.stop_event.wait(wait_s)  # back off, then carry on

    def _run_cycle_safely(self, cam: CameraRuntime, frame: Frame | None) -> None:
        try:
            self.cycle(cam, frame)
        except Exception as exc:  # a bug must still end in the safe state, then latch
            cam.internal_error = True
            with self._write_lock:
                self._write(self.outputs.update(cam.id, _TRIPPED_INTERNAL, self.clock_ns()))
            cam.to_tell.append(("error", "loop_error", {"error": repr(exc)}))
            self._tell(cam)

    def _say(self, level: str, event: str, **fields: Any) -> None:
        """Log one event outside a cycle's tell. Never raises: a log that fails (a full disk,
        a broken pipe, a bug in a processor) must not kill the thread that called it."""
        with contextlib.suppress(Exception):
            getattr(self.log, level)(event, **fields)

    def _tell(self, cam: CameraRuntime) -> None:
        """Log what the cycle collected, after its write. Never raises: the log queue drops and
        counts rather than block (plantvision.log), and nothing else here may stop a cycle."""
        notes, cam.to_tell = cam.to_tell, []
        with contextlib.suppress(Exception):
            for level, event, fields in notes:
                getattr(self.log, level)(event, camera=cam.id, **fields)

    # -- supervision ----------------------------------------------------------------------------

    def _supervise_thread(self) -> None:
        while not self.stop_event.wait(SUPERVISE_PERIOD_MS / 1000):
            try:
                self.supervise()
            except Exception as exc:  # the heartbeat stops by itself if this thread stalls
                self._say("error", "supervisor_error", error=repr(exc))

    def _watched(self) -> list[Watched]:
        by_name = {t.name: t for t in self._threads}
        out = []
        for cam in self.cameras:
            t = by_name.get(f"loop-{cam.id}")
            alive = t is not None and t.is_alive()
            out.append(Watched(f"loop-{cam.id}", alive, cam.last_decision_ns, cam.expiry_ns, True))
            out.append(Watched(f"capture-{cam.id}", cam.source.alive or cam.source.ended))
            if cam.reject is not None:  # its ejector timer and verdict writer
                out.append(Watched(f"reject-{cam.id}", cam.reject.alive()))
        # Shared inference workers, each a service thread of the cameras it serves: a run
        # longer than their longest expiry bound is a hung worker (as a hung camera thread is
        # one), even while the others serve them on at reduced capacity.
        for workers, cams in self._pools:
            bound_ns = max(c.expiry_ns for c in cams)
            serves = frozenset(c.id for c in cams)
            for w in workers.states():
                out.append(Watched(w.name, w.alive, w.busy_since_ns, bound_ns, serves=serves))
        poller = by_name.get("plc-inputs")
        alive = poller is not None and poller.is_alive()
        out.append(Watched("plc-inputs", alive, self._poll_ns, self._service_stale_ns))
        out.append(Watched("plc-heartbeat", self.link.alive))
        return out

    def supervise(self) -> list[Problem]:
        """One check of every thread; on trouble, write permit OFF now (decide, write, tell)."""
        now = self.clock_ns()
        problems = find_problems(self._watched(), now)
        self._supervised_ns = now
        self._threads_ok = not problems
        keys = frozenset(p.key for p in problems)
        onset = [p for p in problems if p.key not in self.problems_now]
        cleared, self.problems_now = self.problems_now - keys, keys
        # A stuck camera expires on its own (decision_expired) and latches itself when it comes
        # back; any other problem holds the permit off and trips the cameras it covers.
        self._held = covers(problems, self._trips_for)
        if problems:
            tripped = covers(onset, self._trips_for)
            for cid in tripped:  # their guards trip on it: a reset is needed
                self._trips_for[cid] += 1
            with self._write_lock:
                fault = THREAD_STOPPED if self._held else None
                self._write(self.outputs.set_fault(fault, now))
            self._tell_problems(onset)
        elif all(c.supervisor_trips_seen == self._trips_for[c.id] for c in self.cameras):
            # Cleared only once every guard has latched the trip: no permit rises unreset.
            self.outputs.set_fault(None, now)
        for name, kind in sorted(cleared):
            self._say("info", "thread_recovered", thread=name, was=kind)
        return problems

    def _tell_problems(self, onset: list[Problem]) -> None:
        """Count and log each problem's onset (after the write)."""
        if not onset:
            return
        counts = dict(self.thread_problems)
        for p in onset:
            counts[p.key] = counts.get(p.key, 0) + 1
        self.thread_problems = counts
        for p in onset:
            served = {"cameras": sorted(p.serves)} if p.serves else {}
            self._say("error", "thread_" + p.kind, thread=p.name, age_ms=p.age_ms, **served)

    def liveness(self) -> bool:
        """The heartbeat may advance: every thread alive and cycling at the last check, and
        that check recent (the supervisor itself alive)."""
        sup = self._supervisor
        return (
            self._threads_ok
            and sup is not None
            and sup.is_alive()
            and self.clock_ns() - self._supervised_ns <= SUPERVISOR_STALE_NS
        )

    def decision_rounds(self) -> int:
        """Completed decision rounds (every camera decided and wrote); the heartbeat's token."""
        return self._rounds

    def _decided_round(self, cam: CameraRuntime) -> None:
        with self._round_lock:
            self._decided.add(cam.id)
            if len(self._decided) == len(self.cameras):
                self._decided.clear()
                self._rounds += 1

    def alive(self) -> bool:
        """For a process watchdog: every thread, the supervisor included, is fine."""
        return self.liveness() and all(t.is_alive() for t in self._threads)

    def current_outputs(self) -> PlcOutputs:
        return self.outputs.current(self.clock_ns())

    def _take_confirms(self, cam: CameraRuntime) -> int:
        presses = self.confirms.presses
        taken, self._confirms_taken[cam.id] = presses - self._confirms_taken[cam.id], presses
        return taken

    def _take_reset(self, cam: CameraRuntime) -> bool:
        """This cycle's reset level for the guard, which counts only its rising edges: one
        pulse per press the reset button accepted (on its release, inside the window).

        After a cycle that showed a press, one cycle shows the input low, so a press waiting
        then becomes an edge one cycle later instead of being lost. Presses accepted between
        two cycles are one press.

        A press that left the PLC latched did not reset it (pressed while the machine coasted,
        or it tripped again since): refused here (plc_latched), never shown to the guard, since
        a permit rising while the PLC is latched is a rise the PLC will not count."""
        if cam.reset_sent:
            cam.reset_sent = False
            return False
        presses = self.resets.presses
        if presses <= self._consumed[cam.id]:
            return False
        if cam.last_output is None or not cam.last_output.permit:
            if cam.last_verdict_ns - cam.capture_latency_ns <= self.resets.released_ns:
                return False  # judged on a picture exposed after the release: wait for one
            latched = self._latched_after(self.resets.released_ns + self._latch_settle_ns)
            if latched is None:
                return False  # wait for a sample the PLC took after the release
            if latched:
                self._consumed[cam.id] = presses
                cam.to_tell.append(("warning", "reset_refused", {
                    "seq": cam.last_seq, "reason": "plc_latched",
                    "fix": "the PLC kept its latch: press again once the machine stands still",
                }))  # fmt: skip
                return False
        self._consumed[cam.id] = presses
        cam.reset_sent = True
        return True

    def _latched_after(self, released_ns: int) -> bool | None:
        """Whether the PLC shows its latch in a sample taken after `released_ns` (the release
        plus the PLC's 2 scans; None: no such sample yet; False too when the latch is not mapped
        or the inputs are unknown). A PLC that clears its latch on the release shows it cleared
        by then."""
        inputs = self.latest_inputs
        if inputs is None or inputs.machine_latched is None:
            return False
        if inputs.t_sample_ns and inputs.t_sample_ns <= released_ns:
            return None
        return inputs.machine_latched

    # -- one cycle ------------------------------------------------------------------------------

    def cycle(self, cam: CameraRuntime, frame: Frame | None) -> PlcOutputs:
        """Decide on `frame` (or on its absence) and write the outputs. Never raises."""
        times = StageTimes()
        faults: set[str] = set()
        seq = cam.last_seq
        t_pick_ns = self.clock_ns()
        self._health_faults(cam, t_pick_ns, faults)
        # As the last step told them, before this cycle's encoder readings and frame and the
        # poller's re-time passes since: what they raise (an encoder jump, an unplaced belt, a
        # miss) is this cycle's news, which a press must not acknowledge.
        counted = {} if cam.reject is None else cam.reject.counters_told
        if cam.reject is not None:
            cam.reject.feed(self.latest_inputs)
        if frame is None:
            if t_pick_ns - cam.last_frame_ns > cam.stall_ns:
                faults.add("camera_stalled")
                cam.last_hits = None
        else:
            seq = cam.last_seq = frame.seq
            cam.last_frame_ns = frame.t_capture_ns
            cam.frames += 1
            times.add("grab", t_pick_ns - frame.t_capture_ns)
            cam.last_detections = None
            cam.last_hits = self._evaluate(cam, frame, times, faults)
            cam.last_verdict_ns = frame.t_capture_ns
        t_decide_ns = self.clock_ns()
        last = cam.last_decision_ns
        if not faults and last and t_decide_ns - last > cam.expiry_ns:
            # This thread hung mid-cycle (the combined image expired it meanwhile): trip, so
            # its permit returns only through a reset.
            faults.add(DECISION_EXPIRED)
        if self.outputs.was_expired(cam.id):
            faults.add(DECISION_EXPIRED)  # an image went out with this camera expired: trip
        hits = self._fresh_hits(cam, t_decide_ns)
        if hits is None and not faults and cam.last_verdict_ns:
            # No verdict younger than the budget (frames stopped or fell behind, stall_ms not yet
            # reached): stale is never clear, not even for a permit already on.
            faults.add(VERDICT_STALE)
        reset = self._take_reset(cam)
        was_running = cam.last_output is not None and cam.last_output.permit
        alarm, acknowledged = self._reject_step(cam, t_decide_ns, reset, faults, counted)
        began = self.resets.began_after_ns if reset else None
        released = (self.resets.released_ns or None) if reset else None
        # A gap in the decisions, or a verdict this cycle cannot trust: the clear hold restarts.
        blind = bool(faults & BLIND_FAULTS) or bool(last and t_decide_ns - last > cam.expiry_ns)
        step = cam.guard.step(
            t_decide_ns, seq, hits, frozenset(faults), reset, began, released, blind
        )
        out = step.output
        cam.to_tell += notes_of(step.events)
        cam.last_decision_ns = t_decide_ns
        times.add("decide", self.clock_ns() - t_decide_ns)
        if reset and out.permit and cam.reject is not None and acknowledged:
            cam.reject.acknowledge()  # only a press the guard accepted (or had nothing to do)
            alarm = False
        if was_running and not out.permit:
            cam.trips += 1
        cam.last_output = out
        t_write_ns = self.clock_ns()
        with self._write_lock:
            # Composed now: another writer may have sent an image meanwhile (outputs.py).
            plc_out = self.outputs.update(cam.id, out, t_decide_ns, alarm, self.clock_ns())
            # Counted with the output it goes with: until this update, another thread's write
            # (the ejector timer) carries the previous output, decided before any newer loss.
            cam.output_losses = cam.plc_losses_seen
            # Likewise a supervisor trip: its fault is cleared only once this tripped output
            # is in the image, else another writer would carry the older permit ON meanwhile.
            cam.supervisor_trips_seen = cam.supervisor_trips_deciding
            rtt_ms = self._write(plc_out)
        t_ack_ns = self.clock_ns()
        times.add("actuate", t_ack_ns - t_write_ns)
        if reset and was_running:
            cam.to_tell.append(("info", "reset_ignored", {"seq": seq, "reason": "not_tripped"}))
        if frame is not None and rtt_ms is not None:
            times.end_to_end_ns = t_ack_ns - frame.t_capture_ns
            cam.latency.record(times)
            self._judge_ack(cam, frame, t_ack_ns, "budget_overrun" in faults)
        self._note_permit(cam, out, plc_out, frame, t_ack_ns if rtt_ms is not None else None)
        prev = cam.published  # publish: one append, one assignment, no copies, no locks
        cam.tape.append(tick(times, rtt_ms, frame is not None))
        cam.published = CameraSnapshot(
            cam.id, frame if frame is not None or prev is None else prev.frame,
            cam.last_detections, hits, out, plc_out, rtt_ms, t_ack_ns, cam.frames, cam.trips,
        )  # fmt: skip
        cam.last_cycle_ns = t_ack_ns
        self._decided_round(cam)  # the heartbeat proves this decision
        self._tell(cam)  # decide, write, then tell
        return plc_out

    def _health_faults(self, cam: CameraRuntime, t_pick_ns: int, faults: set[str]) -> None:
        """Faults known before looking at the frame: a loop that stood still, the PLC link,
        an internal error, a write acknowledged after the budget, a supervisor trip."""
        if cam.last_cycle_ns and t_pick_ns - cam.last_cycle_ns > cam.stall_ns:
            # The loop itself stood still (process stopped, CPU starved): the PLC's watchdog may
            # have stopped the machine meanwhile, which restarts only on a fresh permit rise.
            faults.add("loop_stalled")
        losses = self.link.losses
        if not self.link.healthy or losses != cam.plc_losses_seen:
            faults.add("plc_lost")  # even a loss already healed: the PLC may have tripped
            cam.plc_losses_seen = losses
        if cam.internal_error:  # one cycle of the fault is enough: the guard latches it
            faults.add("internal_error")
            cam.internal_error = False
        if cam.overrun_pending:
            faults.add("budget_overrun")
            cam.overrun_pending = False
        trips = self._trips_for[cam.id]
        if trips != cam.supervisor_trips_seen or cam.id in self._held:
            faults.add(THREAD_STOPPED)
            cam.supervisor_trips_deciding = trips  # seen once the tripped output is stored
        sup = self._supervisor
        if sup is not None and not sup.is_alive() and not self.stop_event.is_set():
            faults.add(THREAD_STOPPED)  # nobody watches the threads: never permit unwatched
        if self.edm is not None and self.edm.fault is not None:
            faults.add(STOP_UNCONFIRMED)  # held while locked out: a plain reset is refused
        if self.plc_trips != cam.plc_trips_seen:
            faults.add("plc_tripped")  # the PLC latched while holding the box's permit ON
            cam.plc_trips_seen = self.plc_trips
        if self.permit_mismatches != cam.mismatches_seen:
            faults.add(PERMIT_MISMATCH)
            cam.mismatches_seen = self.permit_mismatches
        onsets = self.reset_stuck_onsets
        if self.reset_button.stuck or onsets != cam.reset_stuck_seen:
            # A reset held beyond its window is a stuck input: trip, and stay off while held.
            faults.add(RESET_STUCK)
            cam.reset_stuck_seen = onsets

    def _fresh_hits(self, cam: CameraRuntime, now_ns: int) -> ZoneHits | None:
        """The verdict the guard may use now: one on a frame older than the budget is no
        verdict (never clear), unless it shows a stop zone occupied (that still trips)."""
        hits = cam.last_hits
        if hits is None or hits.stop_occupied:
            return hits
        return hits if now_ns - cam.last_verdict_ns <= cam.budget_ns else None

    def _reject_step(
        self,
        cam: CameraRuntime,
        now_ns: int,
        reset: bool,
        faults: set[str],
        before: dict[str, int],
    ) -> tuple[bool, bool]:
        """The reject runtime's cycle: (alarm, whether a press may acknowledge its latch).

        A press acknowledges only what was latched before this cycle (`before`: the counters
        when it began): an alarm raised in this very cycle trips and stays. The latched stop
        cause is set aside for the guard on a press, so the guard judges the press on
        everything else; the latch clears only if the guard then accepts it (the caller
        checks)."""
        if cam.reject is None:
            return False, False
        status = cam.reject.step(now_ns, self._take_confirms(cam), False)
        after = cam.reject.counters
        fresh = any(after[k] > before.get(k, 0) for k in ALARM_COUNTERS)
        # A cause still present (an unplaced belt) is never acknowledged: the press is refused.
        if status.fault is not None and (fresh or not reset or status.held):
            faults.add(status.fault)
        return status.alarm, reset and not fresh and not status.held

    def _judge_ack(self, cam: CameraRuntime, frame: Frame, t_ack_ns: int, flagged: bool) -> None:
        """The budget runs from capture to the write acknowledged: a write that landed late is
        an overrun too; with policy trip the next cycle trips (this write is not undone)."""
        age_ns = t_ack_ns - frame.t_capture_ns
        if age_ns <= cam.budget_ns or flagged:
            return
        if cam.overrun_trips:
            cam.overrun_pending = True
        cam.to_tell.append(("warning", "budget_overrun", {
            "seq": frame.seq, "age_ms": round(age_ns / 1e6, 2), "budget_ms": cam.budget_ns / 1e6,
            "stage": "write_acknowledged",
        }))  # fmt: skip

    def _note_permit(
        self,
        cam: CameraRuntime,
        out: GuardOutput,
        plc_out: PlcOutputs,
        frame: Frame | None,
        t_ack_ns: int | None,
    ) -> None:
        """Tell each change of the permit the PLC holds; a drop carries its response time."""
        with self._permit_lock:
            if plc_out.permit == self._permit_on:
                return
            self._permit_on = plc_out.permit
        if plc_out.permit:
            cam.to_tell.append(("info", "permit_on", {"seq": cam.last_seq}))
            return
        response_ms = (
            round((t_ack_ns - frame.t_capture_ns) / 1e6, 3)
            if frame is not None and t_ack_ns is not None else None
        )  # fmt: skip
        cam.to_tell.append(("warning", "permit_off", {
            "seq": cam.last_seq, "cause": out.cause, "zone": out.zone,
            "response_ms": response_ms, "acknowledged": t_ack_ns is not None,
        }))  # fmt: skip

    def _evaluate(
        self, cam: CameraRuntime, frame: Frame, times: StageTimes, faults: set[str]
    ) -> ZoneHits | None:
        if cam.frozen.update(frame.image, frame.t_capture_ns):
            _undecided(cam, faults, "frozen_frame")
            return None
        if is_dark(frame.image, cam.dark_max_mean, cam.dark_max_std):
            _undecided(cam, faults, "black_frame")
            return None
        try:
            det = cam.last_detections = cam.detector.detect(frame.image, times)
        except Exception as exc:  # any model failure must end in the safe state
            cam.to_tell.append(("error", "model_error", {"seq": frame.seq, "error": repr(exc)}))
            _undecided(cam, faults, "model_error")
            return None
        t0 = self.clock_ns()
        if cam.reject is not None:
            cam.reject.observe(t0, frame, det)
        hits = cam.zones.evaluate(det, frame.width, frame.height)
        note_masked(cam, frame.seq, hits)
        times.add("decide", self.clock_ns() - t0)
        age_ns = self.clock_ns() - frame.t_capture_ns
        if age_ns > cam.budget_ns:
            # A verdict this old may no longer describe the zone: never act on it as "clear".
            age_ms, budget_ms = round(age_ns / 1e6, 2), cam.budget_ns / 1e6
            cam.to_tell.append(("warning", "budget_overrun", {
                "seq": frame.seq, "age_ms": age_ms, "budget_ms": budget_ms,
            }))  # fmt: skip
            if cam.overrun_trips:
                faults.add("budget_overrun")
            return hits if hits.stop_occupied else None
        return hits
