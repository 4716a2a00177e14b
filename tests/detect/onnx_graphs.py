"""Tiny ONNX graphs built in tests: they take an image tensor and emit fixed output tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

_ONNX_TYPE = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float16): TensorProto.FLOAT16}


def constant_model(
    path: Path,
    outputs: dict[str, npt.NDArray[np.floating]],
    input_shape: tuple[int | str, ...] = (1, 3, 64, 64),
    input_dtype: type[np.floating] = np.float32,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write a model whose outputs are `outputs` (in order) whatever image it is given.

    The image feeds every output through `ReduceMax(image) * 0` so it stays a used input.
    """
    in_type = _ONNX_TYPE[np.dtype(input_dtype)]
    nodes = [
        helper.make_node("ReduceMax", ["images"], ["peak"], keepdims=0),
        helper.make_node("Cast", ["peak"], ["peak32"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["peak32", "zero"], ["nothing"]),
    ]
    inits = [numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    outs = []
    for i, (name, value) in enumerate(outputs.items()):
        inits.append(numpy_helper.from_array(value.astype(np.float32), f"const{i}"))
        nodes.append(helper.make_node("Add", [f"const{i}", "nothing"], [f"sum{i}"]))
        out_type = _ONNX_TYPE[np.dtype(value.dtype)]
        nodes.append(helper.make_node("Cast", [f"sum{i}"], [name], to=out_type))
        outs.append(helper.make_tensor_value_info(name, out_type, list(value.shape)))
    graph = helper.make_graph(
        nodes,
        "constant",
        [helper.make_tensor_value_info("images", in_type, list(input_shape))],
        outs,
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
