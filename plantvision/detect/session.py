"""The only module that knows onnxruntime's inference API: open a model, pick providers, run it.

The default backend behind `runtime.ModelSession`. Everything above this works on numpy arrays
and plain shapes, so decoders and tests of them do not need onnxruntime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy.typing as npt
import onnxruntime as ort

from plantvision import log
from plantvision.detect.runtime import OutputInfo, checked_input, dims, inference_error
from plantvision.detect.spec import ModelSpec
from plantvision.errors import ModelError

_OPT_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16"}


def available_providers() -> list[str]:
    return list(ort.get_available_providers())


class Session:
    """An `InferenceSession` opened from a ModelSpec, on the first provider that starts
    (a `runtime.ModelSession`).

    `provider` names the provider actually running. `run(tensor)` returns the outputs in order.
    """

    def __init__(self, spec: ModelSpec) -> None:
        path = spec.path
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = spec.intra_op_threads
        opts.inter_op_num_threads = 1
        # Pool threads that spin while they wait burn the cores other cameras, the capture
        # threads and the PLC link need (8 sessions x 2 threads on 2 cores decided 37 frames/s
        # spinning, 70 not); alone, waking them costs a single camera ~3.5 ms a frame.
        spin = "1" if spec.spin_wait else "0"
        opts.add_session_config_entry("session.intra_op.allow_spinning", spin)
        opts.graph_optimization_level = _OPT_LEVELS[spec.graph_optimization]
        opts.log_severity_level = 3
        self._session = _open(path, spec.providers, opts)
        self.provider: str = self._session.get_providers()[0]
        inputs = self._session.get_inputs()
        self.input_name, self.input_shape, self.input_dtype = checked_input(
            path,
            [i.name for i in inputs],
            inputs[0].shape,
            _DTYPES.get(inputs[0].type, inputs[0].type),
        )
        self.outputs: tuple[OutputInfo, ...] = tuple(
            OutputInfo(o.name, dims(o.shape)) for o in self._session.get_outputs()
        )
        self._output_names = [o.name for o in self.outputs]
        self.metadata: dict[str, str] = dict(self._session.get_modelmeta().custom_metadata_map)

    def run(self, tensor: npt.NDArray[Any]) -> list[npt.NDArray[Any]]:
        """Run once on an NCHW tensor; a shape or runtime failure is a ModelError."""
        try:
            out: list[npt.NDArray[Any]] = self._session.run(
                self._output_names, {self.input_name: tensor}
            )
        except Exception as exc:  # onnxruntime raises its own unexported exception classes
            raise inference_error(exc) from exc
        return out


def _open(path: Path, providers: tuple[str, ...], opts: Any) -> Any:
    """Try each requested provider in order; the CPU one is the last resort."""
    installed = set(available_providers())
    wanted = [p for p in providers if p in installed]
    skipped = [p for p in providers if p not in installed]
    if skipped:
        log.get().warning("provider_unavailable", providers=skipped, installed=sorted(installed))
    if "CPUExecutionProvider" not in wanted:
        wanted.append("CPUExecutionProvider")
    last_error = ""
    for i, provider in enumerate(wanted):
        try:
            return ort.InferenceSession(str(path), sess_options=opts, providers=wanted[i:])
        except Exception as exc:  # corrupt files and failing providers raise unexported classes
            last_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if _is_model_fault(last_error):
                break
            log.get().warning("provider_failed", provider=provider, error=last_error)
    raise ModelError(f"{path}: cannot load model: {last_error}")


def _is_model_fault(message: str) -> bool:
    """Errors that no other provider can fix: an unreadable or invalid file."""
    return any(k in message for k in ("INVALID_PROTOBUF", "NO_SUCHFILE", "INVALID_GRAPH", "Load"))
