"""Fusion: the optimized graph cut into steps — kernels (fused elementwise groups) and
nodes that still run in the reference interpreter."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import dtypes as dt
from ..ir.core import Node
from ..ir.graph import Graph
from .lower import lowerable


@dataclass
class Kernel:
    """Elementwise nodes computed in one loop over ``root``'s shape; ``inputs`` are the
    values it reads from memory (broadcast to the loop's shape)."""

    name: str
    nodes: list[Node]
    root: Node
    inputs: list[Node] = field(default_factory=list)

    @property
    def shape(self) -> tuple:
        return self.root.shape


def schedule(graph: Graph) -> list:
    """The graph as a list of steps in order: Kernel or (interpreted) Node.

    A lowerable node joins the kernel of its only consumer when both have the same
    shape; so each kernel is a tree of elementwise ops whose leaves are reads.
    """
    uses: dict[int, int] = {}
    for n in graph.nodes:
        for x in n.inputs:
            if type(x) is Node:
                uses[id(x)] = uses.get(id(x), 0) + 1
    for o in graph.outputs:
        uses[id(o)] = uses.get(id(o), 0) + 2  # outputs are materialized
    group: dict[int, list[Node]] = {}
    for n in graph.nodes:
        if n.op.name == "matmul" and n.dtype.kind != dt.BOOL and n.dtype is not dt.float16:
            group[id(n)] = [n]  # its own kernel for now (epilogue fusion comes later)
            continue
        if not (lowerable(n) or reducible(n)):
            continue
        members = []
        domain = n.inputs[0].shape if reducible(n) else n.shape
        for x in n.inputs:  # elementwise producers used only here join this kernel
            if (type(x) is Node and id(x) in group and uses[id(x)] == 1
                    and x.shape == domain and lowerable(x)):
                members += group.pop(id(x))
        group[id(n)] = members + [n]
    steps: list = []
    for n in graph.nodes:
        if id(n) in group:
            members = group[id(n)]
            inside = {id(m) for m in members}
            reads: dict[int, Node] = {}
            for m in members:
                for x in m.inputs:
                    if type(x) is Node and id(x) not in inside:
                        reads.setdefault(id(x), x)
            inputs = list(n.inputs) if n.op.name == "matmul" else list(reads.values())
            steps.append(Kernel(f"k{len(steps)}_{n.op.name}", members, n, inputs))
        elif not lowerable(n):
            steps.append(n)
    return steps


def reducible(n: Node) -> bool:
    """A sum or max the CPU back end computes, accumulating in the result's type."""
    return (n.op.name in ("sum", "max") and n.dtype is not dt.float16
            and n.inputs[0].dtype is not dt.float16)
