"""Eager backward() by replay: a gradient graph recorded once, evaluated for every later
forward graph of the same structure.

A training loop builds the same forward graph at every step: new nodes and values, but
the same ops, attributes, shapes, dtypes, literals and wiring. The autodiff transform
reads only those (VJP rules never look at values), so its result, a gradient graph, can
be recorded once and evaluated with numpy from then on: one numpy call per gradient op
instead of a VJP rule, a shape rule and a node each, which halves backward() of a small
MLP. A structure gets a plan the second time it is seen, so code whose graph changes at
every step pays only for computing the key. A graph with Python in its backward (tensor
hooks, custom ``autograd.Function`` s, module backward hooks) is never replayed: that code
may do anything, at every step.

A plan replayed ``compile_after()`` times (default 8: a training loop, not a test's few
steps) is compiled: its gradient graph becomes one native program (``runtime/cpu``), so
backward() is one call whose kernels fuse the gradient's elementwise chains into their
matmuls and reductions, instead of one numpy call per op. ``GRAPHC_COMPILE_BACKWARD=0``
keeps backward() in numpy; ``=N`` compiles after N replays.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from ..ir import dtypes as dt
from ..ir.autodiff import grad_graph
from ..ir.core import LEAF, Node, RecordingHandler, make_leaf, use_handler
from ..ir.graph import Graph
from ..ir.reference import _call, run_op
from .eager import check_saved

MAX_PLANS = 64  # structures kept (a training step has one; varying shapes add more)


class Plan:
    """A recorded gradient graph as a program over a list of values: the graph's inputs
    (``sources[i]`` indexes the seeds followed by the structure's nodes), its literals,
    then one value per step; no node of the forward graph it was recorded from (a plan
    must not keep a step's values alive)."""

    __slots__ = ("sources", "template", "steps", "outputs", "inputs", "replays", "native")

    def __init__(self, sources: list[int], template: list, steps: list[tuple],
                 outputs: list[tuple | None], inputs: list[tuple]) -> None:
        self.sources = sources
        self.template = template  # the value list before a replay: inputs (None), literals
        self.steps = steps  # (op, attrs, value indices, numpy dtype, DType if inputs need casts)
        self.outputs = outputs  # per wrt: (value index, shape, dtype), or None
        self.inputs = inputs  # (shape, dtype) of each input
        self.replays = 0
        self.native = None  # its compiled program, once replayed often (False: cannot be)


_plans: dict[tuple, Plan] = {}
_seen_once: set[tuple] = set()
_evicting = threading.Lock()  # threads running backward() at once: one evicts at a time


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
        with _evicting:
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
    key: list = [dt.get_default_dtype()]  # flat: each node's entry says how long it is
    add = key.append
    for n in order:
        if n.hooks is not None:  # Python code that runs at every backward(): no plan
            return None, nodes
        if n.op is LEAF:
            add((n.shape, n.dtype))
            continue
        if n.op.group is not None:  # a custom Function: its backward is the user's Python
            return None, nodes
        key += (n.op, n.shape, n.dtype, tuple(n.attrs.items()), len(n.inputs))
        for x in n.inputs:
            if type(x) is Node:
                i = index.get(id(x))
                if i is None:
                    i = index[id(x)] = len(nodes)
                    nodes.append(x)
                    add((x.shape, x.dtype))
                add(i)
            elif type(x) is float:
                add(repr(x))  # -0.0 and 0.0 (and nan) differ
            elif type(x) is int or type(x) is bool:
                add((type(x), x))
            else:
                return None, nodes
    add(tuple((s.shape, s.dtype, index.get(id(o), -1)) for s, o in zip(seeds, outs)))
    add(tuple(index.get(id(w), -1) for w in wrt))
    frozen = tuple(key)
    try:
        hash(frozen)
    except TypeError:  # an attribute that is a list or an array
        return None, nodes
    return frozen, nodes


def record(outs: Sequence[Node], wrt: Sequence[Node], order: list[Node], nodes: list[Node],
           n_seeds: int) -> Plan | None:
    """The transform's gradient graph as a plan; None if it reads a node the structure
    does not name (then the key would not cover it)."""
    graph, seed_ph, kept = grad_graph(outs, wrt, order=order)
    where = {id(n): n_seeds + i for i, n in enumerate(nodes)}
    where.update((id(s), i) for i, s in enumerate(seed_ph))
    sources = [where.get(id(x)) for x in graph.inputs]
    if None in sources:
        return None
    literals = [x for n in graph.nodes for x in n.inputs if type(x) is not Node]
    template = [None] * len(sources) + literals
    index = {id(x): i for i, x in enumerate(graph.inputs)}
    next_literal = iter(range(len(sources), len(template)))
    steps = []
    for n in graph.nodes:
        refs = tuple(index[id(x)] if type(x) is Node else next(next_literal) for x in n.inputs)
        cast = n.op.cast_inputs == "promote" or n.op.cast_inputs and any(
            type(x) is Node and x.dtype is not n.dtype for x in n.inputs)
        index[id(n)] = len(template) + len(steps)
        steps.append((n.op, n.attrs, refs, n.dtype.np, n.dtype if cast else None))
    outputs: list[tuple | None] = [None] * len(wrt)
    for i, o in zip(kept, graph.outputs):
        outputs[i] = (index[id(o)], o.shape, o.dtype)
    return Plan(sources, template, steps, outputs, [(x.shape, x.dtype) for x in graph.inputs])


def compile_after() -> int:
    """How many replays of a plan before it is compiled (0: never)."""
    env = os.environ.get("GRAPHC_COMPILE_BACKWARD", "8")
    return int(env) if env.isdigit() else 8


def _compile(plan: Plan):
    """The plan's gradient graph as a native program (its outputs: the gradients, in
    ``plan.outputs`` order without the Nones); False if it cannot be compiled (then numpy
    replays it, as before: a compile failure never fails a backward())."""
    from ..ir.passes import optimize
    from .cpu import NativeProgram
    leaves = [make_leaf(shape, dtype, name=f"in{i}") for i, (shape, dtype) in
              enumerate(plan.inputs)]
    vals: list = leaves + plan.template[len(leaves):]
    try:
        with use_handler(RecordingHandler(loc=("<backward>", 0))):
            for op, attrs, refs, _, _ in plan.steps:
                vals.append(op(*[vals[r] for r in refs], **attrs))
        outputs = [vals[out[0]] for out in plan.outputs if out is not None]
        graph = Graph.from_outputs(outputs, inputs=leaves, name="backward")
        graph.inputs = leaves
        return NativeProgram(optimize(graph))
    except Exception as e:  # noqa: BLE001  (graphc's own limitation: numpy still works)
        if os.environ.get("GRAPHC_DEBUG", "0") not in ("", "0"):
            import sys
            print(f"graphc: backward() stays in numpy, its graph did not compile: {e}",
                  file=sys.stderr)
        return False


def replay(plan: Plan, nodes: list[Node]) -> list[Node | None]:
    """Run ``plan`` on this forward graph's ``nodes`` (seeds first). A value it reads that
    was modified in place since it was computed raises, as in the transform."""
    vals = plan.template.copy()
    read = []
    for i, src in enumerate(plan.sources):
        node = nodes[src]
        if node.vbox is not None and node.ver != node.vbox[0]:
            check_saved(node)
        vals[i] = node.value
        read.append(node)
    plan.replays += 1
    if plan.native is None and plan.replays >= compile_after() > 0:
        plan.native = _compile(plan)
    if plan.native:
        results = plan.native.run(vals[:len(plan.sources)])
        kept = iter(results)
        return [None if out is None else make_leaf(out[1], out[2], next(kept))
                for out in plan.outputs]
    get = vals.__getitem__
    for op, attrs, refs, npd, cast_to in plan.steps:
        args = list(map(get, refs))  # (no comprehension: its frame costs more here)
        vals.append(_call(op, attrs, args, npd) if cast_to is None else
                    run_op(op, attrs, args, cast_to))
    made: dict[int, Node] = {}
    grads: list[Node | None] = []
    for out in plan.outputs:
        if out is None:
            grads.append(None)
        elif out[0] < len(read):  # a seed or a forward value: that node, as the transform
            grads.append(read[out[0]])
        else:  # one node per value: two gradients that are one value are one node, as ever
            k, shape, dtype = out
            if k not in made:
                made[k] = make_leaf(shape, dtype, vals[k])
            grads.append(made[k])
    return grads
