"""The detector stage: an inference session (onnxruntime, or OpenVINO), pre-processing,
per-family decoders, NMS.

`load_detector(ModelSpec(path=...))` returns a `Detector` whose `detect(image)` gives
`Detections` in original-image pixels.
"""

from plantvision.detect.detector import Detector, load_detector
from plantvision.detect.spec import ModelSpec

__all__ = ["Detector", "ModelSpec", "load_detector"]
