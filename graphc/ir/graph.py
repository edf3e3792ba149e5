"""Graph: inputs, nodes in topological order, outputs; built from output nodes."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from .core import LEAF, Node


class Graph:
    """A function in SSA form: ``outputs`` computed by ``nodes`` from ``inputs``."""

    def __init__(self, name: str, inputs: Sequence[Node], nodes: Sequence[Node],
                 outputs: Sequence[Node]) -> None:
        self.name = name
        self.inputs = list(inputs)
        self.nodes = list(nodes)
        self.outputs = list(outputs)

    @classmethod
    def from_outputs(cls, outputs: Sequence[Node], inputs: Iterable[Node] = (),
                     name: str = "graph") -> Graph:
        """The graph that computes ``outputs``; leaves and ``inputs`` become its inputs."""
        boundary = set(map(id, inputs))
        order = topo_order(outputs, stop=lambda n: id(n) in boundary)
        # a node whose history a backward() freed stands for its value: an input here
        boundary |= {id(n) for n in order if n.freed}
        ins = [n for n in order if n.op is LEAF or id(n) in boundary]
        listed = [n for n in inputs if n in ins] if boundary else []
        ins = listed + [n for n in ins if id(n) not in {id(m) for m in listed}]
        return cls(name, ins, [n for n in order if n.op is not LEAF and id(n) not in boundary],
                   outputs)


def topo_order(outputs: Sequence[Node], stop=None) -> list[Node]:
    """Ancestors of ``outputs`` (themselves included), each after all its inputs.

    Iterative depth-first post-order: eager backward calls this on every
    step, so it avoids recursion limits and the cost of building a networkx graph.
    """
    seen: set[int] = set()
    order: list[Node] = []
    for out in outputs:
        if type(out) is not Node or id(out) in seen:
            continue
        seen.add(id(out))
        stack = [(out, iter(() if stop and stop(out) else out.inputs))]
        while stack:
            node, it = stack[-1]
            for x in it:
                if type(x) is Node and id(x) not in seen:
                    seen.add(id(x))
                    stack.append((x, iter(() if stop and stop(x) else x.inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def to_networkx(graph: Graph):
    """The graph as a networkx DiGraph: one vertex per node id, one edge per use."""
    import networkx as nx

    g = nx.MultiDiGraph()
    for n in graph.inputs + graph.nodes:
        g.add_node(id(n), node=n)
    for n in graph.nodes:
        for x in n.inputs:
            if type(x) is Node:
                g.add_edge(id(x), id(n))
    return g
