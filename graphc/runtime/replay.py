"""Eager backward() by replay: a gradient graph recorded once, evaluated for every later
forward graph of the same structure.

A training loop builds the same forward graph at every step: new nodes and values, but
the same ops, attributes, shapes, dtypes, literals and wiring. The autodiff transform
reads only those (VJP rules never look at values), so its result, a gradient graph, can
be recorded once and evaluated with numpy from then on: one numpy call per gradient op
instead of a VJP rule, a shape rule and a node each, which halves backward() of a small
MLP. A structure gets a plan the second time it is seen, so code whose graph changes at
every step pays only for computing the key.
"""
from __future__ import annotations

from collections.abc import Sequence

from ..ir import dtypes as dt
from ..ir.autodiff import grad_graph
from ..ir.core import LEAF, Node, make_leaf
from ..ir.graph import Graph
from .eager import check_saved, evaluate

MAX_PLANS = 64  # structures kept (a training step has one; varying shapes add more)


class Plan:
    """A recorded gradient graph whose inputs are placeholders, and where each one's value
    comes from: ``sources[i]`` indexes the seeds followed by the structure's nodes."""

    __slots__ = ("graph", "sources", "outputs")

    def __init__(self, graph: Graph, sources: list[int], outputs: list[int | None]) -> None:
        self.graph = graph
        self.sources = sources
        self.outputs = outputs  # per wrt: index into graph.outputs, or None (no gradient)


_plans: dict[tuple, Plan] = {}
_seen_once: set[tuple] = set()


def gradients(outs: Sequence[Node], seeds: Sequence[Node], wrt: Sequence[Node],
              order: list[Node]) -> list[Node | None] | None:
    """The cotangents of ``wrt`` (as backward_nodes gives them, without history), or None
    when this structure has no plan yet (the caller runs the transform itself)."""
    for s, o in zip(seeds, outs):
        if s.shape != o.shape or s.dtype is not o.dtype:  # recorded seeds have the output's
            return None
    key, nodes = structure(outs, seeds, wrt, order)
    if key is None:
        return None
    plan = _plans.get(key)
    if plan is None:
        if key not in _seen_once:
            if len(_seen_once) >= 16 * MAX_PLANS:
                _seen_once.clear()
            _seen_once.add(key)
            return None
        plan = record(outs, wrt, order, nodes, len(seeds))
        if plan is None:
            return None
        if len(_plans) >= MAX_PLANS:
            del _plans[next(iter(_plans))]  # the oldest
        _plans[key] = plan
    return replay(plan, list(seeds) + nodes)


def structure(outs: Sequence[Node], seeds: Sequence[Node], wrt: Sequence[Node],
              order: list[Node]) -> tuple[tuple | None, list[Node]]:
    """A hashable key of everything the transform reads, and the nodes it may read in
    key order: ``order``, then the inputs outside it (values that need no gradient),
    numbered by first use so that two uses of one node stay one node."""
    index = {id(n): i for i, n in enumerate(order)}
    nodes = list(order)
    key: list = [dt.get_default_dtype()]
    for n in order:
        if n.op is LEAF:
            key.append((n.shape, n.dtype))
            continue
        ins = []
        for x in n.inputs:
            if type(x) is Node:
                i = index.get(id(x))
                if i is None:
                    i = index[id(x)] = len(nodes)
                    nodes.append(x)
                    ins.append((x.shape, x.dtype))
                ins.append(i)
            elif type(x) is float:
                ins.append(repr(x))  # -0.0 and 0.0 (and nan) differ
            elif type(x) is int or type(x) is bool:
                ins.append((type(x), x))
            else:
                return None, nodes
        key.append((n.op, n.shape, n.dtype, tuple(n.attrs.items()), tuple(ins)))
    key.append(tuple((s.shape, s.dtype, index.get(id(o), -1)) for s, o in zip(seeds, outs)))
    key.append(tuple(index.get(id(w), -1) for w in wrt))
    try:
        hash(key := tuple(key))
    except TypeError:  # an attribute that is a list or an array
        return None, nodes
    return key, nodes


def record(outs: Sequence[Node], wrt: Sequence[Node], order: list[Node], nodes: list[Node],
           n_seeds: int) -> Plan | None:
    """The transform's gradient graph cut loose from this forward graph: its inputs become
    placeholders (a plan must not keep a step's values alive). None if it reads a node
    the structure does not name (then the key would not cover it)."""
    graph, seed_ph, kept = grad_graph(outs, wrt, order=order)
    where = {id(n): n_seeds + i for i, n in enumerate(nodes)}
    where.update((id(s), i) for i, s in enumerate(seed_ph))
    sources = [where.get(id(x)) for x in graph.inputs]
    if None in sources:
        return None
    copies = {id(x): make_leaf(x.shape, x.dtype) for x in graph.inputs}
    for n in graph.nodes:
        args = tuple(copies[id(x)] if type(x) is Node else x for x in n.inputs)
        copies[id(n)] = Node(n.op, args, n.attrs, n.shape, n.dtype)
    slots: list[int | None] = [None] * len(wrt)
    for j, i in enumerate(kept):
        slots[i] = j
    plan = Graph("backward", [copies[id(x)] for x in graph.inputs],
                 [copies[id(n)] for n in graph.nodes], [copies[id(o)] for o in graph.outputs])
    return Plan(plan, sources, slots)


def replay(plan: Plan, nodes: list[Node]) -> list[Node | None]:
    """Evaluate ``plan`` on this forward graph's ``nodes`` (seeds first). A value the plan
    reads that was modified in place since it was computed raises, as in the transform."""
    env = {}
    real = {}
    for ph, src in zip(plan.graph.inputs, plan.sources):
        node = nodes[src]
        if node.vbox is not None and node.ver != node.vbox[0]:
            check_saved(node)
        env[id(ph)] = node.value
        real[id(ph)] = node
    values = evaluate(plan.graph, env)
    out: list[Node | None] = []
    for k in plan.outputs:
        if k is None:
            out.append(None)
            continue
        g = plan.graph.outputs[k]
        if id(g) not in real:  # else a seed or a forward value: that node, as the transform
            real[id(g)] = make_leaf(g.shape, g.dtype, values[k])
        out.append(real[id(g)])
    return out
