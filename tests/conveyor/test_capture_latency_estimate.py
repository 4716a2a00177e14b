"""The capture latency from a belt start (plantvision.conveyor.latency), on belts built by hand.

A belt stands, then starts (a step or a ramp); items lie along it at a pitch; a camera exposes at
20 fps and stamps each frame `latency` later; the encoder is read every 5 ms at 10 counts/mm. The
detector puts each centre within +-1 mm (seeded). What the estimator must give is the latency the
placement needs (the frames' exposure on the encoder's time line), or a refusal that says why.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest

from plantvision.conveyor.latency import CannotMeasureError, Limits, Track, estimate
from plantvision.conveyor.latency_align import Marks

MS = 1_000_000
VIEW_MM = (0.0, 640.0)


@dataclass(frozen=True)
class Scene:
    latency_ms: float = 80.0
    speed_mm_s: float = 500.0
    ramp_ms: float = 0.0  # the start accelerates to speed over this
    stand_ms: float = 1000.0  # the belt stands this long after the first reading
    run_ms: float = 1500.0  # ... then runs this long
    pitch_mm: float = 120.0
    first_mm: float = 70.0  # the most upstream item in view at the standstill
    jitter_mm: float = 1.0
    stamp_jitter_ms: float = 0.0  # the latency varies frame to frame by up to this
    fps: float = 20.0
    seed: int = 3

    def travel(self, t_ns: np.ndarray) -> np.ndarray:
        """Belt travel (mm) at `t_ns` (0 at the first reading)."""
        s = np.clip((t_ns / MS - self.stand_ms) / 1000, 0, None)
        v, ramp = self.speed_mm_s, self.ramp_ms / 1000
        if ramp <= 0:
            return v * s
        return np.where(s <= ramp, v * s * s / (2 * ramp), v * (ramp / 2 + s - ramp))

    def track(self) -> Track:
        t = np.arange(0, int((self.stand_ms + self.run_ms) * MS), 5 * MS, dtype=np.int64)
        return Track(t, np.floor(self.travel(t) * 10) / 10)  # 10 counts per mm

    def frames(self) -> list[Marks]:
        rng = np.random.default_rng(self.seed)
        period = int(1e9 / self.fps)
        items = self.first_mm + self.pitch_mm * np.arange(-20, 20)
        out = []
        for t in range(period, int((self.stand_ms + self.run_ms) * MS), period):
            lag = self.latency_ms + rng.uniform(-1, 1) * self.stamp_jitter_ms
            at = items + float(self.travel(np.array([t - lag * MS]))[0])
            whole = at[(at > VIEW_MM[0] + 30) & (at < VIEW_MM[1] - 30)]
            along = whole + rng.uniform(-1, 1, len(whole)) * self.jitter_mm
            out.append(Marks(t, along, 200 + rng.uniform(-1, 1, len(whole))))
        return out


@pytest.mark.parametrize(
    "scene",
    [
        Scene(latency_ms=0.0),
        Scene(latency_ms=80.0),
        Scene(latency_ms=200.0, pitch_mm=150.0),
        Scene(latency_ms=80.0, speed_mm_s=1000.0, pitch_mm=150.0),
        Scene(latency_ms=80.0, speed_mm_s=200.0),
        Scene(latency_ms=120.0, ramp_ms=400.0),
        Scene(latency_ms=33.0, pitch_mm=200.0, first_mm=150.0),
    ],
    ids=lambda s: f"{s.latency_ms:g}ms-{s.speed_mm_s:g}mm_s-ramp{s.ramp_ms:g}",
)
def test_the_frames_latency_is_measured_within_half_a_millimetre_of_travel(scene: Scene) -> None:
    """Whatever the latency, speed or ramp, the median frame latency is the camera's within the
    time the belt takes for 0.5 mm (1 ms at 0.5 m/s): the boxes' +-1 mm jitter averages over
    marks and frames, but the standing references' own error (about 0.15 mm each) is shared by
    every frame."""
    est = estimate(scene.track(), scene.frames())
    assert est.median_ms == pytest.approx(scene.latency_ms, abs=500 / scene.speed_mm_s)
    assert len(est.frames) >= 8
    assert est.spread_ms < 10


def test_a_ramped_start_is_measured_on_the_encoder_time_line_not_by_dividing_by_speed() -> None:
    """Frames exposed while the belt accelerates count: each is placed by when the encoder
    reached its travel, so an acceleration biases nothing (a travel / speed estimate at the
    stamp reads a ramp's frames tens of ms off)."""
    scene = Scene(latency_ms=100.0, ramp_ms=1000.0, speed_mm_s=400.0)
    est = estimate(scene.track(), scene.frames())
    ramping = [f for f in est.frames if f.speed_mm_s < 300]
    assert len(ramping) >= 3
    assert np.median([f.latency_ms for f in ramping]) == pytest.approx(100.0, abs=2.0)


def test_evenly_spaced_items_one_pitch_later_are_not_taken_for_the_same_items() -> None:
    """At a steady speed, evenly spaced items shifted by a pitch look the same: frames the
    whole latency range cannot tell apart are left out, and the range narrowed on the frames
    right after the start (which can) tells them apart, so no alias pitch / speed off wins."""
    scene = Scene(latency_ms=60.0, pitch_mm=100.0, first_mm=40.0, run_ms=1200.0)
    est = estimate(scene.track(), scene.frames())
    assert est.median_ms == pytest.approx(60.0, abs=1.0)
    assert max(f.latency_ms for f in est.frames) < 60.0 + 10


def test_an_encoder_older_than_the_deployment_says_measures_below_zero() -> None:
    """The figure is relative to the readings as the deployment dates them: a count 30 ms older
    than its stamp says (encoder.latency_ms 30 ms short) makes a 10 ms camera measure -20 ms,
    the capture_latency_ms that deployment would need (so the fix is the encoder's figure)."""
    scene = Scene(latency_ms=10.0)
    tr = scene.track()
    late = Track(tr.t_ns + 30 * MS, tr.mm)
    est = estimate(late, scene.frames())
    assert est.median_ms == pytest.approx(-20.0, abs=1.0)


@pytest.mark.parametrize(
    ("scene", "limits", "reason"),
    [
        (Scene(first_mm=-400.0, pitch_mm=2000.0), Limits(), "no item in view while the belt"),
        (Scene(run_ms=0.0, stand_ms=2500.0), Limits(), "never moved"),
        (Scene(stand_ms=4.0), Limits(), "was moving when the command started"),
        (Scene(run_ms=300.0), Limits(), "moving frame(s) measured, at least 8"),
        (Scene(stamp_jitter_ms=40.0), Limits(max_spread_ms=40.0), "the frames disagree"),
        (Scene(latency_ms=250.0, pitch_mm=80.0), Limits(), "without ambiguity"),
        (Scene(speed_mm_s=60.0), Limits(), "too_slow"),
    ],
    ids=["no-items", "never-moved", "moving-at-start", "too-short", "jittery", "alias", "slow"],
)
def test_a_recording_that_cannot_give_the_figure_is_refused_saying_why(
    scene: Scene, limits: Limits, reason: str
) -> None:
    """Refused, never a number: no item to measure, a belt that never moved or never stood, too
    few frames after the start, latencies that vary more than one value can serve, items so
    close that the belt passes one in less than the latency range, or a belt too slow to
    resolve a latency (1 mm of box jitter at 60 mm/s is 17 ms)."""
    with pytest.raises(CannotMeasureError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        estimate(scene.track(), scene.frames(), limits)


def test_a_belt_that_runs_backwards_is_refused() -> None:
    scene = Scene()
    tr = scene.track()
    back = np.where(tr.t_ns > 1800 * MS, tr.mm - 2 * (tr.mm - tr.mm[tr.t_ns > 1800 * MS][0]), tr.mm)
    with pytest.raises(CannotMeasureError, match="ran backwards"):
        estimate(Track(tr.t_ns, back), scene.frames())


def test_a_box_that_flickers_at_the_standstill_is_no_reference() -> None:
    """An item boxed in fewer than half the standing frames is left out of the references (a
    stray box would otherwise pull frames onto a place no item holds)."""
    scene = Scene(latency_ms=50.0)
    frames = scene.frames()
    stray = [
        replace(f, along_mm=np.append(f.along_mm, 333.0), across_mm=np.append(f.across_mm, 200))
        if i % 4 == 0
        else f
        for i, f in enumerate(frames)
    ]
    est = estimate(scene.track(), stray)
    assert est.items == estimate(scene.track(), frames).items
    assert est.median_ms == pytest.approx(50.0, abs=1.0)
