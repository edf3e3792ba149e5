"""The rewriting engine every pass uses: map each node through a rule, keep the rest."""
from __future__ import annotations

from collections.abc import Callable

from ..core import Node
from ..graph import Graph, topo_order

Rule = Callable[[Node], "Node | None"]


def copy_node(n: Node, inputs: tuple) -> Node:
    """``n`` with other inputs (same op, attributes, type and source line)."""
    m = Node(n.op, inputs, n.attrs, n.shape, n.dtype, loc=n.loc)
    m.requires_grad = n.requires_grad
    if n.label is not None:
        m.label = n.label
    return m


def rewrite(graph: Graph, rule: Rule | None = None) -> Graph:
    """Rebuild ``graph`` in order: remap each node's inputs, then let ``rule`` replace it.

    ``rule(node)`` returns None to keep the node, or the node to use instead (an
    earlier node, or a new one whose inputs are already in the graph). Nodes no
    output needs are dropped; the inputs stay as they are (they are the program's).
    """
    env: dict[int, Node] = {}
    for n in graph.nodes:
        ins = tuple(env.get(id(x), x) if type(x) is Node else x for x in n.inputs)
        cur = n if all(a is b for a, b in zip(ins, n.inputs)) else copy_node(n, ins)
        new = rule(cur) if rule is not None else None
        env[id(n)] = cur if new is None else new
    outputs = [env.get(id(o), o) for o in graph.outputs]
    inputs = {id(n) for n in graph.inputs}
    nodes = [n for n in topo_order(outputs, stop=lambda n: id(n) in inputs)
             if id(n) not in inputs]
    return Graph(graph.name, graph.inputs, nodes, outputs)


def is_constant(x) -> bool:
    return type(x) is not Node or x.op.name == "constant"


def scalar_value(x):
    """The single value of a literal or of a constant filled with one value, else None."""
    if type(x) is not Node:
        return x
    if x.op.name == "constant" and not hasattr(x.attrs["value"], "shape"):
        return x.attrs["value"]
    return None
