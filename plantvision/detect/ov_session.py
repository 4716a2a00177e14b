"""The only module that knows OpenVINO: open an ONNX model in its runtime on the CPU, run it.

The `openvino` backend behind `runtime.ModelSession` (`model.backend: openvino`, the
`openvino` extra). OpenVINO reads the ONNX file itself, QDQ INT8 models included, and runs
their convolutions in INT8 (VNNI where the CPU has it).

Two settings are pinned, not left to OpenVINO's defaults:
- inference precision f32: on a CPU with bf16 support OpenVINO runs float models in bf16 by
  default, a different model that no card vouches for (a float model needs none: check and run
  would accept it silently);
- no CPU pinning, one stream, latency hint: each camera's loop runs one request at a time, and
  two cameras' requests pinned to the same core would serialise behind each other.
"""

from __future__ import annotations

from typing import Any

import numpy.typing as npt

from plantvision.detect.runtime import OutputInfo, checked_input, dims, inference_error
from plantvision.detect.spec import ModelSpec
from plantvision.errors import ModelError

INSTALL_HINT = "pip install 'plantvision[openvino]'"
DEVICE = "CPU"


def require_openvino() -> Any:
    """The openvino package, or one clear error saying how to install it."""
    try:
        import openvino
    except ImportError:
        raise ModelError(
            f"model backend 'openvino' needs the openvino package: {INSTALL_HINT} "
            "(or set the model's backend: onnxruntime)"
        ) from None
    return openvino


def openvino_installed() -> bool:
    try:
        require_openvino()
    except ModelError:
        return False
    return True


def _config(spec: ModelSpec) -> dict[str, Any]:
    config: dict[str, Any] = {
        "INFERENCE_PRECISION_HINT": "f32",
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": 1,
        "ENABLE_CPU_PINNING": False,
    }
    if spec.intra_op_threads:  # 0: OpenVINO chooses, as onnxruntime does
        config["INFERENCE_NUM_THREADS"] = spec.intra_op_threads
    return config


def _metadata(model: Any) -> dict[str, str]:
    """The ONNX file's metadata_props: OpenVINO's ONNX reader keeps them under 'framework'."""
    if not model.has_rt_info(["framework"]):
        return {}
    return {str(k): str(v) for k, v in model.get_rt_info(["framework"]).value.items()}


class OpenVinoSession:
    """An ONNX model compiled by OpenVINO for the CPU (a `runtime.ModelSession`)."""

    def __init__(self, spec: ModelSpec) -> None:
        ov = require_openvino()
        path = spec.path
        core = ov.Core()
        try:
            model = core.read_model(str(path))
            compiled = core.compile_model(model, DEVICE, _config(spec))
        except Exception as exc:  # OpenVINO raises RuntimeError and its own classes
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelError(f"{path}: cannot load model in OpenVINO: {first}") from exc
        self.provider: str = f"OpenVINO {ov.get_version().split('-')[0]} {DEVICE}"
        inputs = model.inputs
        self.input_name, self.input_shape, self.input_dtype = checked_input(
            path,
            [i.get_any_name() for i in inputs],
            _shape(inputs[0]),
            inputs[0].get_element_type().to_dtype().name,
        )
        self.outputs: tuple[OutputInfo, ...] = tuple(
            OutputInfo(o.get_any_name(), dims(_shape(o))) for o in model.outputs
        )
        self.metadata: dict[str, str] = _metadata(model)
        self._compiled_outputs = list(compiled.outputs)
        self._request = compiled.create_infer_request()

    def run(self, tensor: npt.NDArray[Any]) -> list[npt.NDArray[Any]]:
        """Run once on an NCHW tensor; a shape or runtime failure is a ModelError.

        The input is shared for the synchronous call; outputs are copies, as onnxruntime's are,
        so a caller may keep them past the next run.
        """
        try:
            result = self._request.infer({0: tensor}, share_inputs=True, share_outputs=False)
            return [result[o] for o in self._compiled_outputs]
        except Exception as exc:  # OpenVINO raises RuntimeError and its own classes
            raise inference_error(exc) from exc


def _shape(port: Any) -> list[Any]:
    """A port's shape as ints, with -1 for a dynamic dimension."""
    return [d.get_length() if d.is_static else -1 for d in port.get_partial_shape()]
