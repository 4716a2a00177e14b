"""Scenario files, fault injectors, truth spans and the recording machine, without real time."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from plantvision.errors import ConfigError, MediaError
from plantvision.types import Detections, ImageArray, StageTimes
from simulators.plc import MachineParams
from simulators.verify.faults import FaultyDetector, FaultyGrabber, SceneClock, Window, windows
from simulators.verify.plcside import RecordingMachine
from simulators.verify.scenario import MODEL_FAULTS, VerifyScenario, load_verify_scenario
from simulators.verify.truth import occupancy_spans

SUITE = Path(__file__).resolve().parents[3] / "simulators" / "scenarios"
BASE = "deployment: d.yaml\nscene: s.yaml\nduration_s: 3\n"


@pytest.mark.parametrize(
    ("extra", "field", "problem"),
    [
        ("bogus: 1\n", "bogus", "Extra inputs"),
        ("faults: [{kind: camera_melt, at_s: 1}]\n", "faults[0].kind", "Input should be"),
        ("faults: [{kind: camera_stall, at_s: 5}]\n", "(top level)", "after the run ends"),
        ("faults: [{kind: model_slowdown, at_s: 1}]\n", "faults[0]", "needs value_ms"),
        ("faults: [{kind: box_sigkill, at_s: 1, recover_ms: 9}]\n", "faults[0]", "never recovers"),
        ("faults: [{kind: box_sigkill, at_s: 1}, {kind: camera_black, at_s: 1}]\n", "(top level)",
         "child process"),
        ("deadlines: {zones: [{zone: a, response_ms: 1}, {zone: a, response_ms: 2}]}\n",
         "(top level)", "twice"),
        ("deadlines: {fault_to_safe_ms: -1}\n", "deadlines.fault_to_safe_ms", "greater than 0"),
        ("operator: {reset_after_ms: 50}\n", "operator.reset_after_ms", "greater than or equal"),
        ("deadlines: {rejects: [{ejector: k, window_ms: 0}]}\n", "deadlines.rejects[0].window_ms",
         "greater than 0"),
        ("deadlines: {rejects: [{ejector: k}]}\n", "deadlines.rejects[0].window_ms", "required"),
        ("deadlines: {rejects: [{ejector: k, window_ms: 5}, {ejector: k, window_ms: 9}]}\n",
         "(top level)", "ejector twice"),
        ("deadlines: {false_rejects_max: -1}\n", "deadlines.false_rejects_max",
         "greater than or equal"),
    ],
)  # fmt: skip
def test_malformed_scenarios_are_refused_naming_the_field(
    tmp_path: Path, extra: str, field: str, problem: str
) -> None:
    """Every malformed scenario names the file, the field and the problem."""
    path = tmp_path / "bad.yaml"
    path.write_text(BASE + extra, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_verify_scenario(path)
    assert str(path) in str(err.value)
    assert field in str(err.value)
    assert problem in str(err.value)


def test_the_suite_has_twenty_valid_scenarios_covering_every_fault() -> None:
    """The CI suite holds at least 20 scenarios and injects every kind of fault."""
    scenarios = [load_verify_scenario(p) for p in sorted(SUITE.glob("*.yaml"))]
    assert len(scenarios) >= 20
    kinds = {f.kind for s in scenarios for f in s.faults}
    assert kinds >= {
        "camera_stall", "camera_freeze", "camera_black", "camera_disconnect", "model_slowdown",
        "model_error", "plc_slow", "plc_exception", "plc_down", "plc_restart", "box_sigkill",
        "box_sigstop",
    }  # fmt: skip


class StepClock:
    def __init__(self) -> None:
        self.t_ns = 0

    def __call__(self) -> int:
        return self.t_ns


def _grabber(kind: str, end_s: float = 2.0) -> tuple[FaultyGrabber, StepClock]:
    clock = StepClock()
    scene = SceneClock(clock)

    def render(t_s: float) -> ImageArray:
        return np.full((4, 4, 3), 1 + int(t_s * 10), np.uint8)

    g = FaultyGrabber(render, 10.0, scene, (Window(kind, 1.0, end_s),), "cam")
    g.open()
    return g, clock


def test_freeze_repeats_the_last_picture_only_inside_its_window() -> None:
    g, clock = _grabber("camera_freeze")
    clock.t_ns = 500_000_000
    before = g.grab()
    clock.t_ns = 1_500_000_000
    assert before is not None
    assert np.array_equal(g.grab(), before)
    clock.t_ns = 2_500_000_000
    assert not np.array_equal(g.grab(), before)


def test_black_delivers_dark_frames_of_the_same_size() -> None:
    g, clock = _grabber("camera_black")
    clock.t_ns = 1_500_000_000
    img = g.grab()
    assert img is not None
    assert img.shape == (4, 4, 3)
    assert not img.any()


def test_disconnect_fails_reads_and_reopens_until_its_window_ends() -> None:
    g, clock = _grabber("camera_disconnect")
    clock.t_ns = 1_500_000_000
    assert g.grab() is None
    with pytest.raises(MediaError):
        g.open()
    clock.t_ns = 2_000_000_000
    g.open()
    assert g.grab() is not None


def test_stall_blocks_until_released() -> None:
    """A stalled grab blocks (its window has ten minutes left) and returns a frame only once
    the run releases it: nothing comes back before the release."""
    g, clock = _grabber("camera_stall", end_s=600.0)
    clock.t_ns = 1_500_000_000
    got: list[ImageArray | None] = []
    grab = threading.Thread(target=lambda: got.append(g.grab()), daemon=True)
    grab.start()
    try:
        # A grab that does not block returns at once; a blocked one is still inside after this
        # (a correct grabber can never fail here, whatever the load).
        grab.join(timeout=0.5)
        assert grab.is_alive(), "the stalled grab returned without a release"
        assert got == []
    finally:
        g.release()
    grab.join(timeout=30)
    assert not grab.is_alive()
    assert got[0] is not None


class CountingDetector:
    calls = 0

    def detect(self, image: ImageArray, times: StageTimes | None = None) -> Detections:
        self.calls += 1
        return Detections.empty()


def test_model_error_raises_only_inside_its_window() -> None:
    clock = StepClock()
    scene = SceneClock(clock)
    scene.start()
    inner = CountingDetector()
    det = FaultyDetector(inner, scene, (Window("model_error", 1.0, 2.0),))
    image = np.zeros((4, 4, 3), np.uint8)
    det.detect(image)
    clock.t_ns = 1_200_000_000
    with pytest.raises(RuntimeError, match="injected"):
        det.detect(image)
    assert inner.calls == 1


def test_truth_spans_find_entry_and_exit_to_the_millisecond() -> None:
    """Bisection puts each edge within 1 ms of the true instant, with a 20 ms sampling step."""

    def occupancy(t_s: float) -> frozenset[str]:
        return frozenset({"machine"}) if 1.2345 <= t_s < 2.5432 else frozenset()

    spans = occupancy_spans(occupancy, ("machine",), 4.0)
    ((start, end),) = spans["machine"]
    assert start == pytest.approx(1.2345, abs=1e-3)
    assert end == pytest.approx(2.5432, abs=1e-3)


def test_recording_machine_logs_start_watchdog_trip_and_reboot() -> None:
    """Starts and stops are logged at their exact instants, the watchdog at its expiry."""
    ms = 1_000_000
    m = RecordingMachine(MachineParams(300 * ms, 0, 1000.0, 100 * ms), 0)
    m.on_heartbeat(1, 0)
    m.press_reset(0)
    m.on_permit(True, 10 * ms)
    assert m.press_start(10 * ms)
    m.advance(1000 * ms)  # no heartbeat since t=0: watchdog expired at 300 ms
    assert [(e.t_ns // ms, e.running, e.cause) for e in m.events] == [
        (10, True, ""),
        (300, False, "watchdog"),
    ]
    m.on_heartbeat(2, 1000 * ms)
    m.press_reset(1000 * ms)
    m.on_permit(False, 1000 * ms)  # the permit stayed ON through the trip: it must rise again
    m.on_permit(True, 1000 * ms)
    assert m.press_start(1000 * ms)
    assert (m.events[-1].t_ns // ms, m.events[-1].running) == (1000, True)
    m.reboot(1100 * ms)
    assert (m.events[-1].t_ns // ms, m.events[-1].cause) == (1100, "plc_restart")
    assert m.latched


@pytest.mark.parametrize(
    ("deployment", "rejects", "field", "problem"),
    [
        ("conveyor_box.yaml", "[{ejector: pusher, window_ms: 5}]", "deadlines.rejects[0].ejector",
         "not an ejector of camera belt"),
        ("cell.yaml", "[{ejector: kicker, window_ms: 5}]", "deadlines.rejects",
         "has no conveyor"),
    ],
)  # fmt: skip
def test_reject_deadlines_must_name_an_ejector_of_the_deployment(
    tmp_path: Path, deployment: str, rejects: str, field: str, problem: str
) -> None:
    """A reject bound on an unknown ejector, or on a camera without a conveyor, is refused."""
    from simulators.verify.runner import prepare

    path = tmp_path / "sc.yaml"
    path.write_text(
        f"deployment: {SUITE / 'deployments' / deployment}\nscene: {SUITE / 'scenes/conveyor.yaml'}"
        f"\nduration_s: 3\ndeadlines: {{rejects: {rejects}}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        prepare(load_verify_scenario(path), path, tmp_path)
    assert field in str(err.value)
    assert problem in str(err.value)


class BoxesDetector:
    """Always one box: a blind window must hide it."""

    def detect(self, image: ImageArray, times: StageTimes | None = None) -> Detections:
        one = np.array([[1, 1, 3, 3]], np.float32)
        return Detections(one, np.ones(1, np.float32), np.zeros(1, np.int32), ("person",))


def test_model_blind_reports_nothing_only_inside_its_window() -> None:
    clock = StepClock()
    scene = SceneClock(clock)
    scene.start()
    det = FaultyDetector(BoxesDetector(), scene, (Window("model_blind", 1.0, 2.0),))
    image = np.zeros((4, 4, 3), np.uint8)
    assert len(det.detect(image).confidence) == 1
    clock.t_ns = 1_500_000_000
    blind = det.detect(image)
    assert len(blind.confidence) == 0
    assert blind.class_names == ("person",)
    clock.t_ns = 2_000_000_000
    assert len(det.detect(image).confidence) == 1


def test_model_hang_blocks_until_released() -> None:
    """A hung detector (its window has ten minutes left) returns only once the run releases it."""
    clock = StepClock()
    scene = SceneClock(clock)
    scene.start()
    det = FaultyDetector(BoxesDetector(), scene, (Window("model_hang", 1.0, 600.0),))
    clock.t_ns = 1_500_000_000
    got: list[Detections] = []
    call = threading.Thread(target=lambda: got.append(det.detect(np.zeros((4, 4, 3), np.uint8))))
    call.start()
    try:
        call.join(timeout=0.5)
        assert call.is_alive(), "the hung detector returned without a release"
    finally:
        det.release()
    call.join(timeout=30)
    assert not call.is_alive()
    assert len(got[0].confidence) == 1


def test_faults_strike_only_the_camera_they_name() -> None:
    sc = VerifyScenario.model_validate(
        {"deployment": "d.yaml", "scene": "s.yaml", "duration_s": 5, "faults": [
            {"kind": "model_hang", "camera": "side", "at_s": 1},
            {"kind": "model_error", "at_s": 2},
        ]}
    )  # fmt: skip
    assert [w.kind for w in windows(sc.faults, MODEL_FAULTS, "side")] == ["model_hang",
                                                                         "model_error"]  # fmt: skip
    assert [w.kind for w in windows(sc.faults, MODEL_FAULTS, "cell")] == ["model_error"]


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        ({"kind": "plc_slow", "value_ms": 50, "camera": "side", "at_s": 1}, "does not strike"),
        ({"kind": "camera_slow", "at_s": 1}, "value_ms > 0"),
    ],
)
def test_fault_fields_that_cannot_apply_are_refused(fault: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        VerifyScenario.model_validate(
            {"deployment": "d.yaml", "scene": "s.yaml", "duration_s": 5, "faults": [fault]}
        )


def test_a_loop_fault_cannot_share_a_child_process_run() -> None:
    with pytest.raises(ValueError, match="own scenario"):
        VerifyScenario.model_validate(
            {"deployment": "d.yaml", "scene": "s.yaml", "duration_s": 5, "faults": [
                {"kind": "log_blocked", "at_s": 1}, {"kind": "loop_deadlock", "at_s": 2},
            ]}
        )  # fmt: skip
