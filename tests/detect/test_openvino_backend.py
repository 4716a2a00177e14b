"""The OpenVINO backend runs real models behind the same session interface: the detector's
decode and zone path give what onnxruntime gives, and a missing package is a clear error."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from plantvision.cli import main
from plantvision.detect import ModelSpec, load_detector
from plantvision.detect.backends import open_session
from plantvision.detect.spec import Backend
from plantvision.errors import ModelError
from plantvision.types import ImageArray

REPO = Path(__file__).resolve().parents[2]
CELL = REPO / "plantvision" / "models" / "cell_detector.onnx"
IMAGES = ("person.jpg", "kite.jpg", "basketball1.png", "dog.jpg")


@pytest.fixture(scope="module")
def images(shared_data: Path) -> list[ImageArray]:
    out = []
    for name in IMAGES:
        image = cv2.imread(str(shared_data / "images" / name))
        assert image is not None, name
        out.append(image)
    return out


def yolox(shared_data: Path, backend: Backend) -> ModelSpec:
    return ModelSpec(
        path=shared_data / "models" / "yolox_nano.onnx", family="yolox", backend=backend,
        names_file=shared_data / "coco80_classes.txt", intra_op_threads=1,
    )  # fmt: skip


@pytest.mark.shared_data
def test_yolox_decides_the_same_on_both_backends(
    openvino: None, shared_data: Path, images: list[ImageArray]
) -> None:
    """YOLOX-Nano on real images: OpenVINO finds the same boxes, classes and scores as
    onnxruntime (scores within 1e-4, boxes within 0.01 px). OpenVINO's default bf16 precision
    on a bf16 CPU moves scores by up to 0.03 and reorders boxes: the backend pins f32."""
    ort_det = load_detector(yolox(shared_data, "onnxruntime"))
    ov_det = load_detector(yolox(shared_data, "openvino"))
    assert ov_det.provider.startswith("OpenVINO")
    assert (ov_det.family, ov_det.input_size) == (ort_det.family, ort_det.input_size)
    found = 0
    for image in images:
        a, b = ort_det.detect(image), ov_det.detect(image)
        assert a.class_id.tolist() == b.class_id.tolist()
        np.testing.assert_allclose(b.confidence, a.confidence, atol=1e-4)
        np.testing.assert_allclose(b.xyxy, a.xyxy, atol=0.01)
        found += len(a.class_id)
    assert found >= 10  # real detections were compared, not empty lists


def test_the_model_card_reads_the_same_through_openvino(openvino: None) -> None:
    """The cell model's ONNX metadata (family, class names, threshold, pre-processing) reaches
    the detector through OpenVINO as through onnxruntime: it runs with no model config."""
    a = load_detector(ModelSpec(path=CELL))
    b = load_detector(ModelSpec(path=CELL, backend="openvino"))
    assert b.metadata == a.metadata
    assert (b.family, b.class_names, b.conf_threshold) == ("yolov8", a.class_names, 0.55)
    assert b.preprocessing == a.preprocessing


def test_an_inference_failure_is_a_model_error(openvino: None) -> None:
    """A run that OpenVINO rejects (a tensor of the wrong shape) is a ModelError, which the loop
    turns into a model fault (the safe state), never an unknown exception class."""
    session = open_session(ModelSpec(path=CELL, backend="openvino"))
    with pytest.raises(ModelError, match="inference failed"):
        session.run(np.zeros((1, 3, 17, 9), np.float32))


def test_a_corrupt_model_is_refused_by_name(openvino: None, tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError, match=r"bad\.onnx: cannot load model in OpenVINO"):
        load_detector(ModelSpec(path=bad, backend="openvino"))


def test_without_the_package_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """backend openvino without the openvino package: one error saying what to install."""
    monkeypatch.setitem(sys.modules, "openvino", None)  # makes `import openvino` fail
    with pytest.raises(ModelError, match=r"pip install 'plantvision\[openvino\]'"):
        load_detector(ModelSpec(path=CELL, backend="openvino"))


def test_a_deployment_on_openvino_without_the_package_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check names the deployment field and the extra before opening anything."""
    demo = REPO / "deployments" / "demo.yaml"
    data = yaml.safe_load(demo.read_text())
    cam = data["cameras"][0]
    cam["source"]["scenario"] = str((demo.parent / cam["source"]["scenario"]).resolve())
    cam["zones"] = str((demo.parent / cam["zones"]).resolve())
    cam["model"]["path"] = str(CELL)
    cam["model"]["backend"] = "openvino"
    dep = tmp_path / "dep.yaml"
    dep.write_text(yaml.safe_dump(data))
    monkeypatch.setitem(sys.modules, "openvino", None)
    assert main(["check", str(dep)]) == 2
    err = capsys.readouterr().err
    assert f"{dep}: cameras[0].model.backend: 'openvino' needs the openvino package" in err
    assert "pip install 'plantvision[openvino]'" in err
