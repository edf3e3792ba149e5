"""Constant folding: evaluate nodes whose inputs are all constants, with the reference
(numpy) implementation, and keep the result as a constant node."""
from __future__ import annotations

import numpy as np

from ..core import Node
from ..graph import Graph
from ..ops import CONSTANT
from ..reference import run_op
from .rewrite import is_constant, rewrite

MAX_FOLDED_ELEMENTS = 4096  # larger results stay computed: they would bloat the program


def constant_node(value: np.ndarray, like: Node) -> Node:
    """A constant with ``value``: stored as one number when every element is the same."""
    flat = value.reshape(-1)
    uniform = flat.size > 0 and bool(np.all(flat == flat[0]))  # NaN never is: stays an array
    v = flat[0].item() if uniform else value
    return Node(CONSTANT, (), {"value": v, "shape": like.shape, "dtype": like.dtype},
                like.shape, like.dtype, loc=like.loc)


def _value(x):
    if type(x) is not Node:
        return x
    return run_op(CONSTANT, x.attrs, [], x.dtype)


def fold_constants(graph: Graph) -> Graph:
    def rule(n: Node):
        if not any(type(x) is Node for x in n.inputs) or not all(map(is_constant, n.inputs)):
            return None  # sources (constant, arange, random) stay; so does real work
        size = int(np.prod(n.shape, dtype=np.int64))
        value = run_op(n.op, n.attrs, [_value(x) for x in n.inputs], n.dtype)
        flat = value.reshape(-1)
        if size > MAX_FOLDED_ELEMENTS and not (size and np.all(flat == flat[0])):
            return None
        return constant_node(np.ascontiguousarray(value), n)
    return rewrite(graph, rule)
