"""Common subexpression elimination: one node per (op, inputs, attributes)."""
from __future__ import annotations

import numpy as np

from ..core import Node
from ..graph import Graph
from .rewrite import rewrite


def _frozen(v):
    if isinstance(v, np.ndarray):
        return ("array", id(v))
    if isinstance(v, (tuple, list)):
        return tuple(_frozen(e) for e in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _frozen(e)) for k, e in v.items()))
    if hasattr(v, "short"):  # a DType
        return ("dtype", v.name)
    return (type(v).__name__, v)


def key(n: Node) -> tuple:
    ins = tuple(("node", id(x)) if type(x) is Node else (type(x).__name__, x) for x in n.inputs)
    return (n.op.name, ins, _frozen(n.attrs))


def cse(graph: Graph) -> Graph:
    seen: dict[tuple, Node] = {}

    def rule(n: Node):
        k = key(n)
        first = seen.setdefault(k, n)
        return None if first is n else first
    return rewrite(graph, rule)
