"""Reading a detector's ONNX graph for quantization: its decode head and its conv blocks.

Works on `onnx.ModelProto` values handed in by tools.py; imports nothing itself, so the rules
are testable on small hand-built graphs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Operators that end the walk back from the outputs: the head's own prediction layers.
_LAYERS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})
# Element-wise activations that ride on a conv (SiLU is Sigmoid + Mul) and go with it.
_ACTIVATIONS = frozenset({"Sigmoid", "Mul", "Relu", "LeakyRelu", "Clip", "HardSigmoid", "Tanh"})


@dataclass(frozen=True, slots=True)
class Block:
    """A conv and the activation nodes that consume its output: the unit kept in float."""

    conv: str
    nodes: tuple[str, ...]


def _producers(nodes: Iterable[Any]) -> dict[str, Any]:
    return {out: n for n in nodes for out in n.output}


def head_nodes(graph: Any) -> tuple[str, ...]:
    """The decode head: every node on a path from a graph output back to the last layers
    (convolutions, matmuls), those layers included.

    Box and score decoding (sigmoids, exp, concatenations of boxes with scores that share one
    scale if quantized, reshapes to the output layout) lives there and must stay in float.
    """
    producer = _producers(graph.node)
    seen: dict[str, None] = {}
    stack = [o.name for o in graph.output]
    while stack:
        node = producer.get(stack.pop())
        if node is None or node.name in seen:
            continue
        seen[node.name] = None
        if node.op_type not in _LAYERS:
            stack.extend(node.input)
    kinds = {n.name: n.op_type for n in graph.node}
    return tuple(n for n in seen if kinds[n] != "Constant")  # constants need no exclusion


def conv_blocks(graph: Any, exclude: Iterable[str] = ()) -> tuple[Block, ...]:
    """Each Conv not in `exclude`, with the activation nodes fed by its output, in graph order."""
    skip = set(exclude)
    consumers: dict[str, list[Any]] = {}
    for n in graph.node:
        for name in n.input:
            consumers.setdefault(name, []).append(n)
    blocks = []
    for n in graph.node:
        if n.op_type != "Conv" or n.name in skip:
            continue
        acts = [c.name for c in consumers.get(n.output[0], []) if c.op_type in _ACTIVATIONS]
        blocks.append(Block(n.name, (n.name, *acts)))
    return tuple(blocks)


def unnamed_nodes(graph: Any) -> int:
    """How many nodes have no name (the quantizer excludes nodes by name, so name them)."""
    return sum(1 for n in graph.node if not n.name)


def name_nodes(graph: Any) -> None:
    """Give every unnamed node a stable name from its op type and position."""
    for i, n in enumerate(graph.node):
        if not n.name:
            n.name = f"{n.op_type}_{i}"
