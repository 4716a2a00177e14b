"""Shared inference workers (detect/shared.py) with real onnxruntime sessions: every camera gets
the boxes of its own frame, a session that raises fails only the request it ran, and a worker
that hangs fails every request waiting on it within its wait bound."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from plantvision.detect import Detector, ModelSpec, load_detector
from plantvision.detect.backends import open_session
from plantvision.detect.shared import InferenceWorkers, SharedModels, SharedSession
from plantvision.errors import ModelError
from plantvision.types import Detections, ImageArray
from tests.fakes.sessions import SwitchedSession

WAIT_NS = 5_000_000_000  # generous: only bounds a hang, never measures speed
SHORT_WAIT_NS = 300_000_000  # the hang tests' camera budget


def yolox(shared: Path) -> ModelSpec:
    return ModelSpec(
        path=shared / "models" / "yolox_nano.onnx",
        family="yolox",
        names_file=shared / "coco80_classes.txt",
        conf_threshold=0.3,
        intra_op_threads=1,
    )


@pytest.fixture
def workers() -> Iterator[InferenceWorkers]:
    w = InferenceWorkers(2)
    w.start()
    yield w
    w.close()


@pytest.fixture(scope="module")
def images(shared_data: Path) -> dict[str, ImageArray]:
    """Three frames with different people: 1 (person.jpg), 2 (basketball1.png), none (dog.jpg)."""
    names = {"person": "person.jpg", "basketball": "basketball1.png", "dog": "dog.jpg"}
    out = {k: cv2.imread(str(shared_data / "images" / v)) for k, v in names.items()}
    assert all(im is not None for im in out.values())
    return out


def same(a: Detections, b: Detections) -> bool:
    return (
        np.array_equal(a.xyxy, b.xyxy)
        and np.array_equal(a.confidence, b.confidence)
        and np.array_equal(a.class_id, b.class_id)
    )


def test_each_camera_gets_the_boxes_of_its_own_frames(
    shared_data: Path, workers: InferenceWorkers, images: dict[str, ImageArray]
) -> None:
    """Three cameras on one shared session, each running its own frame many times at once from
    its own thread: every result is exactly what a detector of its own finds on that frame."""
    spec = yolox(shared_data)
    own = load_detector(spec)
    expected = {k: own.detect(im) for k, im in images.items()}
    assert len({len(d) for d in expected.values()}) == 3  # the frames really differ
    models = SharedModels(workers)
    cams = {k: models.detector(spec, WAIT_NS) for k in images}
    inner = {id(d.session.inner) for d in cams.values() if isinstance(d.session, SharedSession)}
    assert len(inner) == 1, "the cameras must share one session"
    wrong: list[str] = []

    def camera(k: str) -> None:
        for _ in range(15):
            if not same(cams[k].detect(images[k]), expected[k]):
                wrong.append(k)

    threads = [threading.Thread(target=camera, args=(k,)) for k in images]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert wrong == []
    assert workers.stats().served >= 45


def shared_pair(
    shared_data: Path, workers: InferenceWorkers, wait_ns: int
) -> tuple[SwitchedSession, Detector, Detector]:
    """Cameras a and b on the same workers; a's session can be told to raise or hang."""
    spec = yolox(shared_data)
    real = open_session(spec)
    switched = SwitchedSession(real)
    unwarmed = spec.model_copy(update={"warmup_runs": 0})
    a = Detector(unwarmed, SharedSession(switched, workers, wait_ns))
    b = Detector(unwarmed, SharedSession(real, workers, wait_ns))
    return switched, a, b


def test_a_session_that_raises_fails_only_its_own_camera(
    shared_data: Path, workers: InferenceWorkers, images: dict[str, ImageArray]
) -> None:
    """Camera a's run raises inside the shared worker: a gets the ModelError, b's next frame
    is still decided on its own boxes, and the worker lives on."""
    switched, a, b = shared_pair(shared_data, workers, WAIT_NS)
    expected = load_detector(yolox(shared_data)).detect(images["person"])
    switched.fail = True
    with pytest.raises(ModelError, match="injected"):
        a.detect(images["dog"])
    assert same(b.detect(images["person"]), expected)
    assert workers.alive()
    assert workers.stats().failed == 1


def test_a_hung_worker_fails_every_camera_waiting_on_it(
    shared_data: Path, images: dict[str, ImageArray]
) -> None:
    """One worker; camera a's run hangs in it. a and b each get a ModelError (timed out) after
    their wait bound instead of waiting for ever; once the hang ends the worker skips the
    requests whose cameras gave up and serves b's next frame."""
    workers = InferenceWorkers(1)
    workers.start()
    try:
        switched, a, b = shared_pair(shared_data, workers, SHORT_WAIT_NS)
        switched.hang.set()
        errors: list[str] = []

        def detect_a() -> None:
            try:
                a.detect(images["dog"])
            except ModelError as exc:
                errors.append(str(exc))

        ta = threading.Thread(target=detect_a)
        ta.start()
        assert switched.hanging.wait(10)
        with pytest.raises(ModelError, match="timed out"):
            b.detect(images["person"])
        ta.join(10)
        assert len(errors) == 1
        assert "timed out" in errors[0]
        switched.hang.clear()
        switched.release.set()
        assert len(b.detect(images["person"])) > 0
        assert workers.stats().skipped == 1  # b's abandoned request never ran
    finally:
        workers.close()
