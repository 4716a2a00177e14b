"""The real-time loop: per camera, frame -> detector -> zones -> guard; then one PLC write.

Each camera runs in its own thread. Its guard's permit is ANDed with the other cameras' into one
output image, written to the PLC in the same cycle, so a stop decision reaches the PLC without
waiting for any other camera. Only this module and the command line read the clock.

A camera over a conveyor also has a `RejectRuntime` (conveyor/runtime.py): its detections go to the
reject scheduler, its stop causes become guard faults, and its ejector coils are written from the
ejector timer's thread. Composing an image and writing it happen under one lock, so a writer
never sends an image older than one already sent; a permit-off write waits for at most one
in-flight image write (one round trip), never for a heartbeat, input read or verdict.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from plantvision.conveyor.runtime import RejectRuntime
from plantvision.frames.health import FrozenDetector, is_dark
from plantvision.frames.source import FrameSource
from plantvision.guard.latch import Guard, GuardOutput, GuardState
from plantvision.loop.outputs import OutputImage, ResetBus
from plantvision.loop.publish import CameraSnapshot, Tick, new_tape, tick
from plantvision.loop.stats import LatencyWindow
from plantvision.plc.link import PlcInputs, PlcOutputs
from plantvision.types import Detections, Frame, ImageArray, StageTimes
from plantvision.zones.geometry import CompiledZones, ZoneHits


class DetectorLike(Protocol):
    def detect(self, image: ImageArray, times: StageTimes | None = None) -> Detections: ...


class LinkLike(Protocol):
    @property
    def healthy(self) -> bool: ...

    @property
    def losses(self) -> int: ...

    def write(self, outputs: PlcOutputs) -> float | None: ...

    def read_inputs(self) -> PlcInputs | None: ...

    def write_verdicts(self, entries: Sequence[tuple[int, int]]) -> bool: ...


SWITCH_INTERVAL_S = 0.0002

_TRIPPED_INTERNAL = GuardOutput(False, False, "internal_error", GuardState.TRIPPED)


@dataclass
class CameraRuntime:
    """Everything one camera thread owns. Built by plantvision.loop.build from a deployment file."""

    id: str
    source: FrameSource
    detector: DetectorLike
    zones: CompiledZones
    guard: Guard
    budget_ns: int
    overrun_trips: bool
    stall_ns: int
    frozen: FrozenDetector
    dark_max_mean: float
    dark_max_std: float
    latency: LatencyWindow = field(default_factory=LatencyWindow)
    frames: int = 0
    trips: int = 0
    last_output: GuardOutput | None = None
    last_frame_ns: int = 0
    last_seq: int = -1
    last_hits: ZoneHits | None = None
    internal_error: bool = False
    last_cycle_ns: int = 0
    plc_losses_seen: int = 0
    reject: RejectRuntime | None = None
    # Told to the outside after the write, by reference (loop/publish.py).
    last_detections: Detections | None = None
    published: CameraSnapshot | None = None
    tape: deque[Tick] = field(default_factory=new_tape)


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
    ) -> None:
        self.cameras, self.link, self.clock_ns, self.log = cameras, link, clock_ns, log
        self.outputs = OutputImage([c.id for c in cameras])
        self.resets = ResetBus()
        self.confirms = ResetBus()  # bin sensor rising edges
        self.latest_inputs: PlcInputs | None = None
        self.stop_event = threading.Event()
        self._write_lock = threading.Lock()
        self._input_poll_s = input_poll_ms / 1000
        self._threads: list[threading.Thread] = []
        self._consumed: dict[str, int] = {c.id: 0 for c in cameras}
        self._confirms_taken: dict[str, int] = {c.id: 0 for c in cameras}
        self._permit_lock = threading.Lock()
        self._permit_on = False

    def start(self) -> None:
        if any(c.reject is not None and c.reject.cfg.timing_mode == "box" for c in self.cameras):
            # The ejector timer must get the GIL within a fraction of a millisecond of its
            # deadline; CPython's default hands it over only every 5 ms.
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        for cam in self.cameras:
            if cam.reject is not None:
                cam.reject.start(self._set_ejector, self.link.write_verdicts)
            cam.source.start()
            cam.last_frame_ns = self.clock_ns()
        self._threads = [
            threading.Thread(
                target=self._camera_thread, args=(c,), name=f"loop-{c.id}", daemon=True
            )
            for c in self.cameras
        ]
        self._threads.append(
            threading.Thread(target=self._poll_inputs, name="plc-inputs", daemon=True)
        )
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self.stop_event.set()
        for t in self._threads:
            t.join(2.0)
        for cam in self.cameras:
            cam.source.stop()
            if cam.reject is not None:
                cam.reject.close()

    # -- threads ------------------------------------------------------------------------------

    def _poll_inputs(self) -> None:
        confirm_level = True  # unknown counts as high: a stuck sensor confirms nothing
        while not self.stop_event.wait(self._input_poll_s):
            try:
                inputs = self.link.read_inputs()
            except Exception as exc:  # a dead poller would silently swallow every reset
                self.log.error("plc_input_error", error=repr(exc))
                continue
            self.latest_inputs = inputs
            if inputs is not None and inputs.reset_event:
                self.resets.press()
            level = None if inputs is None else inputs.reject_confirm
            if level and not confirm_level:
                self.confirms.press()
            confirm_level = True if level is None else level

    def _set_ejector(self, index: int, on: bool) -> None:
        """From the ejector timer's thread: one coil, written with the rest of the image."""
        with self._write_lock:
            self.link.write(self.outputs.set_ejector(index, on))

    def _camera_thread(self, cam: CameraRuntime) -> None:
        wait_s = min(cam.stall_ns, cam.budget_ns) / 4e9
        while not self.stop_event.is_set():
            frame = cam.source.read(wait_s)
            self._run_cycle_safely(cam, frame)
            if frame is None and cam.source.ended:
                self.log.info("source_ended", camera=cam.id)
                self.stop_event.set()

    def _run_cycle_safely(self, cam: CameraRuntime, frame: Frame | None) -> None:
        try:
            self.cycle(cam, frame)
        except Exception as exc:  # a bug must still end in the safe state, then latch
            self.log.error("loop_error", camera=cam.id, error=repr(exc))
            cam.internal_error = True
            with self._write_lock:
                self.link.write(self.outputs.update(cam.id, _TRIPPED_INTERNAL))

    def _take_confirms(self, cam: CameraRuntime) -> int:
        presses = self.confirms.presses
        taken, self._confirms_taken[cam.id] = presses - self._confirms_taken[cam.id], presses
        return taken

    def _take_reset(self, cam: CameraRuntime) -> bool:
        presses = self.resets.presses
        if presses > self._consumed[cam.id]:
            self._consumed[cam.id] = presses
            return True
        return False

    # -- one cycle ------------------------------------------------------------------------------

    def cycle(self, cam: CameraRuntime, frame: Frame | None) -> PlcOutputs:
        """Decide on `frame` (or on its absence) and write the outputs. Never raises."""
        times = StageTimes()
        faults: set[str] = set()
        hits: ZoneHits | None = None
        seq = cam.last_seq
        t_pick_ns = self.clock_ns()
        if cam.last_cycle_ns and t_pick_ns - cam.last_cycle_ns > cam.stall_ns:
            # The loop itself stood still (process stopped, CPU starved): the PLC's watchdog may
            # have stopped the machine meanwhile, which restarts only on a fresh permit rise.
            faults.add("loop_stalled")
        if cam.reject is not None:
            cam.reject.feed(self.latest_inputs)
        losses = self.link.losses
        if not self.link.healthy or losses != cam.plc_losses_seen:
            faults.add("plc_lost")  # even a loss already healed: the PLC may have tripped
            cam.plc_losses_seen = losses
        if cam.internal_error:  # one cycle of the fault is enough: the guard latches it
            faults.add("internal_error")
            cam.internal_error = False
        if frame is None:
            # Between frames the last verdict stands; once the camera stalls it is void.
            if t_pick_ns - cam.last_frame_ns > cam.stall_ns:
                faults.add("camera_stalled")
                cam.last_hits = None
            hits = cam.last_hits
        else:
            seq = cam.last_seq = frame.seq
            cam.last_frame_ns = frame.t_capture_ns
            cam.frames += 1
            times.add("grab", t_pick_ns - frame.t_capture_ns)
            cam.last_detections = None
            hits = cam.last_hits = self._evaluate(cam, frame, times, faults)
        t_decide_ns = self.clock_ns()
        reset, alarm = self._take_reset(cam), False
        # The PLC holds the machine off while the box permits: a stop the box did not cause (an
        # e-stop, a watchdog trip). Trip too, so the permit rises afresh after the reset. Only
        # while permitting: once tripped, the latch is expected and the same reset clears both.
        # Read after the reset: the poller stores a sample before counting its press.
        inputs = self.latest_inputs
        permitting = cam.last_output is not None and cam.last_output.permit
        if permitting and inputs is not None and inputs.machine_latched:
            faults.add("plc_tripped")
        if cam.reject is not None:
            status = cam.reject.step(t_decide_ns, self._take_confirms(cam), reset)
            alarm = status.alarm
            if status.fault is not None:
                faults.add(status.fault)
        out = cam.guard.step(t_decide_ns, seq, hits, frozenset(faults), reset)
        times.add("decide", self.clock_ns() - t_decide_ns)
        if cam.last_output is not None and cam.last_output.permit and not out.permit:
            cam.trips += 1
        cam.last_output = out
        t_write_ns = self.clock_ns()
        with self._write_lock:
            plc_out = self.outputs.update(cam.id, out, alarm)
            rtt_ms = self.link.write(plc_out)
        t_ack_ns = self.clock_ns()
        times.add("actuate", t_ack_ns - t_write_ns)
        if frame is not None and rtt_ms is not None:
            times.end_to_end_ns = t_ack_ns - frame.t_capture_ns
            cam.latency.record(times)
        self._note_permit(cam, out, plc_out, frame, t_ack_ns if rtt_ms is not None else None)
        prev = cam.published  # publish: one append, one assignment, no copies, no locks
        cam.tape.append(tick(times, rtt_ms, frame is not None))
        cam.published = CameraSnapshot(
            cam.id, frame if frame is not None or prev is None else prev.frame,
            cam.last_detections, hits, out, plc_out, rtt_ms, t_ack_ns, cam.frames, cam.trips,
        )  # fmt: skip
        cam.last_cycle_ns = t_ack_ns
        return plc_out

    def alive(self, within_ns: int) -> bool:
        """Every camera thread completed a cycle within `within_ns` (for a process watchdog)."""
        now = self.clock_ns()
        return all(now - c.last_cycle_ns <= within_ns for c in self.cameras) and all(
            t.is_alive() for t in self._threads
        )

    def _note_permit(
        self,
        cam: CameraRuntime,
        out: GuardOutput,
        plc_out: PlcOutputs,
        frame: Frame | None,
        t_ack_ns: int | None,
    ) -> None:
        """Log each change of the permit the PLC holds; a drop carries its response time."""
        with self._permit_lock:
            if plc_out.permit == self._permit_on:
                return
            self._permit_on = plc_out.permit
        if plc_out.permit:
            self.log.info("permit_on", camera=cam.id, seq=cam.last_seq)
            return
        response_ms = (
            round((t_ack_ns - frame.t_capture_ns) / 1e6, 3)
            if frame is not None and t_ack_ns is not None else None
        )  # fmt: skip
        self.log.warning(
            "permit_off",
            camera=cam.id,
            seq=cam.last_seq,
            cause=out.cause,
            zone=out.zone,
            response_ms=response_ms,
            acknowledged=t_ack_ns is not None,
        )

    def _evaluate(
        self, cam: CameraRuntime, frame: Frame, times: StageTimes, faults: set[str]
    ) -> ZoneHits | None:
        if cam.frozen.update(frame.image):
            faults.add("frozen_frame")
            return None
        if is_dark(frame.image, cam.dark_max_mean, cam.dark_max_std):
            faults.add("black_frame")
            return None
        try:
            det = cam.last_detections = cam.detector.detect(frame.image, times)
        except Exception as exc:  # any model failure must end in the safe state
            self.log.error("model_error", camera=cam.id, seq=frame.seq, error=repr(exc))
            faults.add("model_error")
            return None
        t0 = self.clock_ns()
        if cam.reject is not None:
            cam.reject.observe(t0, frame, det)
        hits = cam.zones.evaluate(det, frame.width, frame.height)
        times.add("decide", self.clock_ns() - t0)
        age_ns = self.clock_ns() - frame.t_capture_ns
        if age_ns > cam.budget_ns:
            # A verdict this old may no longer describe the zone: never act on it as "clear".
            self.log.warning(
                "budget_overrun",
                camera=cam.id,
                seq=frame.seq,
                age_ms=round(age_ns / 1e6, 2),
                budget_ms=cam.budget_ns / 1e6,
            )
            if cam.overrun_trips:
                faults.add("budget_overrun")
            return hits if hits.stop_occupied else None
        return hits
