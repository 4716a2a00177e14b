"""What the loop tells the outside, by reference: a snapshot per camera and a tape of cycles.

Outside voices (the status page, /metrics) must never slow or stop the loop, so the loop does
the least it can for them, after its write and never under a lock:
- `published`: the camera's newest `CameraSnapshot`, replaced by one attribute assignment per
  cycle. It holds references only (the frame as grabbed, the detections, the guard output, the
  image written); nothing is copied, drawn or encoded here. Readers take the reference and keep
  it as long as they like: every part is immutable once published (frames are fresh arrays per
  grab, detections are read-only arrays, the rest are frozen dataclasses).
- `tape`: one small `Tick` per cycle on a bounded deque (append and popleft are atomic), which
  a reader drains to count every cycle exactly (latency histograms). Nobody draining it costs a
  bounded amount of memory; a reader too slow to keep up loses the oldest ticks, never the loop.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from plantvision.guard.latch import GuardOutput
from plantvision.plc.values import PlcOutputs
from plantvision.types import Detections, Frame, StageTimes
from plantvision.zones.geometry import ZoneHits

TAPE_LENGTH = 4096


@dataclass(frozen=True, slots=True)
class Tick:
    """One cycle, for exact counting: its stage times (ns), capture to write acknowledged (None
    when no frame was decided or the write failed), and the write's round trip (None: failed)."""

    stages: dict[str, int]
    end_to_end_ns: int | None
    rtt_ms: float | None


@dataclass(frozen=True, slots=True)
class CameraSnapshot:
    """A camera's latest state, as the loop left it at the end of a cycle."""

    camera: str
    frame: Frame | None  # the newest frame decided (kept between frames)
    detections: Detections | None  # on that frame (None: not run, e.g. frozen or model error)
    hits: ZoneHits | None  # the verdict the guard used this cycle (None: no verdict)
    output: GuardOutput
    plc: PlcOutputs  # the combined image this cycle wrote
    rtt_ms: float | None
    t_ack_ns: int  # when the write returned (monotonic ns)
    frames: int
    trips: int


def new_tape() -> deque[Tick]:
    return deque(maxlen=TAPE_LENGTH)


def tick(times: StageTimes, rtt_ms: float | None, decided_frame: bool) -> Tick:
    e2e = times.end_to_end_ns if decided_frame and rtt_ms is not None else None
    return Tick(times.ns, e2e, rtt_ms)
