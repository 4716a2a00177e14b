"""The one module that knows onnxruntime's quantization tools and the onnx package.

Static QDQ quantization with MinMax calibration (moving average over frames), per-channel int8
weights and uint8 activations (U8S8). S8S8 is ORT's general default, but on x86 its CPU
provider fuses a QDQ Conv into QLinearConv only for uint8 activations: with int8 ones every
conv ran as DequantizeLinear + float Conv (YOLOX-Nano: 110 float Convs, 2.6x slower than FP32).

Where the Q/DQ pairs go depends on the runtime the model is made for (`SCHEMES`):
- onnxruntime: around every op its registry quantizes, activations included, so its CPU
  provider runs QLinearConv, QLinearSigmoid and QLinearMul end to end;
- openvino: at the inputs of convolutions, pools, concatenations and resizes only, and never on
  a conv's output: OpenVINO then fuses conv + activation (SiLU, ReLU) + requantize into one INT8
  convolution. With the onnxruntime placement, every SiLU between its Q/DQ pairs ran as a
  separate dequantize, sigmoid, multiply, quantize (YOLOX-Nano at 1 thread: 6.1 ms of 11.3 ms).
The model is pre-processed first (opset 13 for per-channel DequantizeLinear, shape inference,
Conv+BN folding) and calibrated once; every search attempt reuses the cached ranges.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from plantvision.detect.quantize.graph import Block, name_nodes
from plantvision.errors import ModelError

MIN_OPSET = 13
_COMMON = "static QDQ U8S8 per-channel, MinMax moving-average calibration"
SCHEMES = {
    "onnxruntime": _COMMON,
    "openvino": f"{_COMMON}; conv inputs only, activations float (fused by OpenVINO)",
}
_OPENVINO_OPS = ["Conv", "MaxPool", "Concat", "Resize"]


def require_onnx() -> Any:
    """The onnx package, or one clear error saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise ModelError(
            "quantizing needs the onnx package: pip install 'plantvision[quantize]'"
        ) from None
    return onnx


def _reader(input_name: str, tensors: Sequence[npt.NDArray[Any]]) -> Any:
    from onnxruntime.quantization import CalibrationDataReader

    class _Frames(CalibrationDataReader):  # type: ignore[misc]  # untyped base class
        def __init__(self) -> None:
            self._it: Iterator[npt.NDArray[Any]] = iter(tensors)

        def get_next(self) -> dict[str, npt.NDArray[Any]] | None:
            t = next(self._it, None)
            return None if t is None else {input_name: t}

    return _Frames()


def load_graph(path: Path) -> Any:
    """The model's graph (onnx GraphProto)."""
    return require_onnx().load(str(path)).graph


def prepare(src: Path, dst: Path) -> None:
    """`src` at opset >= 13 with every node named, run through ORT's quant_pre_process."""
    onnx = require_onnx()
    from onnxruntime.quantization.shape_inference import quant_pre_process

    model = onnx.load(str(src))
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset < MIN_OPSET:
        model = onnx.version_converter.convert_version(model, MIN_OPSET)
    name_nodes(model.graph)
    upgraded = dst.with_suffix(".opset.onnx")
    onnx.save(model, str(upgraded))
    # Shapes here are static; symbolic inference would need sympy for nothing.
    quant_pre_process(str(upgraded), str(dst), skip_symbolic_shape=True)


def quantize(
    prepared: Path,
    out: Path,
    input_name: str,
    tensors: Sequence[npt.NDArray[Any]],
    exclude: Sequence[str],
    cache: Path,
    backend: str = "onnxruntime",
) -> None:
    """INT8 QDQ model of `prepared` at `out` for `backend`'s runtime (`SCHEMES`), nodes in
    `exclude` kept float. The first call calibrates on `tensors` and writes the ranges to
    `cache`; later calls reuse them (one cache per backend: the tensors calibrated differ)."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    logging.getLogger().setLevel(logging.ERROR)  # the tools log every tensor at INFO/WARNING
    extra: dict[str, Any] = {"CalibMovingAverage": True}
    ops = None
    if backend == "openvino":
        ops = _OPENVINO_OPS
        extra["OpTypesToExcludeOutputQuantization"] = ["Conv"]
    quantize_static(
        str(prepared),
        str(out),
        None if cache.is_file() else _reader(input_name, tensors),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=list(exclude),
        op_types_to_quantize=ops,
        calibrate_method=CalibrationMethod.MinMax,
        extra_options=extra,
        calibration_cache_path=str(cache),
    )


def rank_by_loss(
    prepared: Path,
    int8: Path,
    input_name: str,
    tensors: Sequence[npt.NDArray[Any]],
    blocks: Sequence[Block],
    workdir: Path,
) -> list[Block]:
    """Blocks ordered by how much signal-to-noise (dB, INT8 model against FP32 at the same
    tensor) each conv loses between its input and its output: the worst amplifier first.

    Uses ORT's QDQ loss debugger (qdq_loss_debug) on the given frames.
    """
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations,
        compute_activation_error,
        create_activation_matching,
        modify_model_output_intermediate_tensors,
    )

    acts = []
    for name, path in (("float", prepared), ("int8", int8)):
        aug = workdir / f"{name}.debug.onnx"
        modify_model_output_intermediate_tensors(str(path), str(aug))
        acts.append(collect_activations(str(aug), _reader(input_name, tensors)))
    errors = compute_activation_error(create_activation_matching(acts[1], acts[0]))
    graph = load_graph(prepared)
    convs = {n.name: n for n in graph.node}

    def sqnr(tensor: str) -> float:
        return float(errors.get(tensor, {}).get("xmodel_err", np.inf))

    def loss(block: Block) -> float:
        conv = convs[block.conv]
        before = sqnr(conv.input[0])
        # An exact input (integer pixels at scale 1) is infinite SNR; cap it so it cannot win.
        return min(before, 60.0) - sqnr(conv.output[0])

    return sorted(blocks, key=loss, reverse=True)


def write_metadata(path: Path, entries: dict[str, str]) -> None:
    """Add (or replace) metadata entries in the ONNX file at `path`, in place."""
    onnx = require_onnx()
    model = onnx.load(str(path))
    kept = [p for p in model.metadata_props if p.key not in entries]
    del model.metadata_props[:]
    for p in kept:
        model.metadata_props.add(key=p.key, value=p.value)
    for key, value in entries.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))


def calibration_sha256(tensors: Sequence[npt.NDArray[Any]]) -> str:
    """Hash of the calibration tensors' bytes, in order (same frames, same pre-processing)."""
    import hashlib

    h = hashlib.sha256()
    for t in tensors:
        h.update(np.ascontiguousarray(t).tobytes())
    return h.hexdigest()
