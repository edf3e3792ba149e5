"""The verifier: a Graph is well formed, or VerifyError says where it is not."""
from __future__ import annotations

import networkx as nx

from .core import LEAF, Node
from .errors import VerifyError
from .graph import Graph, to_networkx
from .printer import type_str


def verify(graph: Graph) -> Graph:
    """Check SSA order, re-inferred types, leaf inputs and acyclicity; return the graph."""
    defined: set[int] = set()
    for n in graph.inputs:
        if id(n) in defined:
            raise VerifyError(f"{graph.name}: input {n!r} listed twice")
        defined.add(id(n))
    for i, n in enumerate(graph.nodes):
        if n.op is LEAF:
            raise VerifyError(f"{graph.name}: node %{i} is a leaf but not a graph input")
        if id(n) in defined:
            raise VerifyError(f"{graph.name}: node %{i} ({n.op.name}) defined twice")
        for x in n.inputs:
            if type(x) is Node and id(x) not in defined:
                raise VerifyError(f"{graph.name}: node %{i} ({n.op.name}) uses a value that is "
                                  "not defined before it")
        shape, dtype = n.op.infer(n.inputs, n.attrs)
        if tuple(shape) != tuple(n.shape) or dtype is not n.dtype:
            raise VerifyError(f"{graph.name}: node %{i} ({n.op.name}) has type {type_str(n)} "
                              f"but its rule gives {dtype.short}{list(shape)}")
        defined.add(id(n))
    for o in graph.outputs:
        if type(o) is Node and id(o) not in defined:
            raise VerifyError(f"{graph.name}: an output is not defined in the graph")
    if not nx.is_directed_acyclic_graph(to_networkx(graph)):
        raise VerifyError(f"{graph.name}: the graph has a cycle")
    return graph
