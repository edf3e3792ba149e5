"""Reverse-mode autodiff as a graph transformation.

:func:`backward_nodes` walks the forward nodes that require grad in reverse
topological order and calls each op's VJP rule. The rules build nodes through
the active handler, so the same walk records a gradient :class:`Graph`
(:func:`grad_graph`, what eager ``backward()`` evaluates and ``dump_ir``
prints), evaluates eagerly with history (``create_graph=True``), or extends a
traced graph (``backward()`` inside ``@graphc.compile``).
"""
from __future__ import annotations

from collections.abc import Sequence

from .core import LEAF, Node, RecordingHandler, get_handler, make_leaf, use_handler
from .errors import AutogradError
from .graph import Graph
from .ops import ADD, CAST, CONCAT, CONSTANT, SLICE, SUM, reshape_to, unslice
from .shapes import sum_axes_to


def _freed_error(node: Node) -> AutogradError:
    return AutogradError(
        "Trying to backward through the graph a second time (or directly access saved "
        f"tensors after they have already been freed): the graph behind {node.op.name} "
        f"(created at {_where(node)}) was freed by an earlier backward(). Specify "
        "retain_graph=True if you need to backward through the graph a second time.")


def _where(node: Node) -> str:
    from .errors import format_loc
    return format_loc(node.loc)


def forward_order(outputs: Sequence[Node]) -> list[Node]:
    """Nodes that require grad behind ``outputs``, inputs first; error on a freed graph.

    Every eager backward() walks the graph with this, so it is a hand-written
    iterative post-order over the nodes that require grad (no closures, no networkx).
    """
    order: list[Node] = []
    seen: set[int] = set()
    for out in outputs:
        if type(out) is not Node or not out.requires_grad or id(out) in seen:
            continue
        seen.add(id(out))
        if out.freed:
            raise _freed_error(out)
        stack = [(out, iter(out.inputs))]
        while stack:
            node, ins = stack[-1]
            for x in ins:  # resumes where this node's scan stopped
                if type(x) is Node and x.requires_grad and id(x) not in seen:
                    seen.add(id(x))
                    if x.op is LEAF:
                        order.append(x)
                    else:
                        if x.freed:
                            raise _freed_error(x)
                        stack.append((x, iter(x.inputs)))
                        break
            else:
                stack.pop()
                order.append(node)
    return order


def fit_to(g: Node, x: Node) -> Node:
    """Sum the broadcast axes of cotangent ``g`` and cast it so it matches ``x``."""
    if g.shape != x.shape:
        axes, lead = sum_axes_to(g.shape, x.shape)
        if lead and len(axes) == lead:  # only leading axes (a bias): one sum, no reshape
            g = SUM(g, axes=axes, keepdims=False)
        else:
            if axes:
                g = SUM(g, axes=axes, keepdims=True)
            g = reshape_to(g, x.shape)
    if g.dtype is not x.dtype:
        g = CAST(g, dtype=x.dtype)
    return g


def backward_nodes(outputs: Sequence[Node], cotangents: Sequence[Node],
                   wrt: Sequence[Node], order: list[Node] | None = None) -> list[Node | None]:
    """Cotangents of ``wrt`` given those of ``outputs``, built with the active handler.

    Only nodes on a path from ``wrt`` to ``outputs`` are differentiated; an
    entry is None where no path exists. ``order`` is ``forward_order(outputs)``
    when the caller has it already.
    """
    if order is None:
        order = forward_order(outputs)
    targets = {id(w) for w in wrt}
    relevant: set[int] = set()
    for n in order:
        if id(n) in targets:
            relevant.add(id(n))
            continue
        for x in n.inputs:  # ids of literals never match: they and the nodes are all alive
            if id(x) in relevant:
                relevant.add(id(n))
                break
    ct: dict[int, Node] = {}
    for out, g in zip(outputs, cotangents):
        if id(out) in relevant:
            ct[id(out)] = fit_to(g, out) if id(out) not in ct else ADD(ct[id(out)], g)
    handler = get_handler()
    recording = isinstance(handler, RecordingHandler)
    saved_loc = handler.loc if recording else None
    try:
        _pull_back(order, ct, relevant, handler if recording else None)
    finally:
        if recording:
            handler.loc = saved_loc
    return [ct.get(id(w)) for w in wrt]


def _pull_back(order: list[Node], ct: dict[int, Node], relevant: set[int],
               recorder: RecordingHandler | None) -> None:
    """Propagate the cotangents in ``ct`` through ``order`` in reverse, rule by rule.

    The cotangents of slices wait in ``pieces`` until their input's turn comes (all its
    consumers are done by then), so that slices tiling one axis (split, chunk, a
    recurrent layer's steps) give one concat instead of one zero-padded full-size array
    per slice, which made the backward of n slices cost n times the input's size."""
    pieces: dict[int, list[tuple[Node, Node]]] = {}
    for node in reversed(order):
        waiting = pieces.pop(id(node), None)
        if waiting is not None:
            _place_slices(node, waiting, ct, recorder)
        g = ct.get(id(node))
        if g is None or node.op is LEAF:
            continue
        need = tuple([id(x) in relevant for x in node.inputs])
        if True not in need:
            continue
        if node.op is SLICE:
            pieces.setdefault(id(node.inputs[0]), []).append((node, g))
            continue
        if recorder is not None:
            recorder.loc = node.loc
        grads = node.op.vjp(node, g, need)
        for x, gx, want in zip(node.inputs, grads, need):
            if want and gx is not None:
                if gx.shape != x.shape or gx.dtype is not x.dtype:
                    gx = fit_to(gx, x)
                prev = ct.get(id(x))
                ct[id(x)] = gx if prev is None else ADD(prev, gx)


def _place_slices(x: Node, waiting: list[tuple[Node, Node]], ct: dict[int, Node],
                  recorder: RecordingHandler | None) -> None:
    """Add to ``ct`` the cotangent of ``x`` that the slices of it in ``waiting`` (slice
    node, its cotangent) give: one concat with zero gaps where they tile one axis
    without overlap, else each piece zero-padded to ``x``'s shape and summed."""
    if recorder is not None:
        recorder.loc = waiting[0][0].loc
    axis = _tiled_axis(x, [s for s, _ in waiting]) if len(waiting) > 1 else None
    if axis is None:
        total = None
        for s, g in waiting:
            gx = unslice(g, x.shape, s.attrs["starts"], s.attrs["steps"])
            total = gx if total is None else ADD(total, gx)
    else:
        parts, pos = [], 0
        for s, g in sorted(waiting, key=lambda sg: sg[0].attrs["starts"][axis]):
            start = s.attrs["starts"][axis]
            if start > pos:
                parts.append(_zeros_along(x, axis, start - pos))
            parts.append(g)
            pos = start + s.shape[axis]
        if pos < x.shape[axis]:
            parts.append(_zeros_along(x, axis, x.shape[axis] - pos))
        total = CONCAT(*parts, axis=axis)
    prev = ct.get(id(x))
    ct[id(x)] = total if prev is None else ADD(prev, total)


def _tiled_axis(x: Node, slices: list[Node]) -> int | None:
    """The one axis along which ``slices`` (unit steps, whole along every other axis) sit
    side by side without overlap, or None."""
    axes = set()
    for s in slices:
        if any(st != 1 for st in s.attrs["steps"]):
            return None
        cut = [i for i, (a, n) in enumerate(zip(s.shape, x.shape)) if a != n]
        if len(cut) > 1 or any(s.attrs["starts"][i] for i in range(x.ndim) if i not in cut):
            return None
        axes.update(cut)
    if len(axes) != 1:
        return None
    (axis,) = axes
    spans = sorted((s.attrs["starts"][axis], s.shape[axis]) for s in slices)
    if any(a + n > b for (a, n), (b, _) in zip(spans, spans[1:])):
        return None
    return axis


def _zeros_along(x: Node, axis: int, size: int) -> Node:
    shape = x.shape[:axis] + (size,) + x.shape[axis + 1:]
    return CONSTANT(value=0, shape=shape, dtype=x.dtype)


def grad_graph(outputs: Sequence[Node], wrt: Sequence[Node], name: str = "backward",
               order: list[Node] | None = None) -> tuple[Graph, list[Node], list[int]]:
    """Record the gradient graph of ``outputs`` with respect to ``wrt``.

    Returns the graph, its cotangent seed inputs (one per output, named
    ``grad_out<i>``) and the indices into ``wrt`` of its outputs (wrt nodes
    with no path to ``outputs`` have none). The other inputs of the graph are
    the forward values the VJP rules read.
    """
    seeds = [make_leaf(o.shape, o.dtype, name=f"grad_out{i}" if len(outputs) > 1 else "grad_out")
             for i, o in enumerate(outputs)]
    rec = RecordingHandler()
    with use_handler(rec):
        grads = backward_nodes(outputs, seeds, wrt, order)
    kept = [i for i, g in enumerate(grads) if g is not None]
    outs = [grads[i] for i in kept]
    # the recorder's nodes are in creation order, which is topological: one reverse
    # sweep keeps the live ones and finds the forward values they read (free inputs)
    live = {id(o) for o in outs}
    nodes = []
    own = {id(n) for n in rec.nodes}
    for n in reversed(rec.nodes):
        if id(n) in live:
            nodes.append(n)
            live.update(id(x) for x in n.inputs if type(x) is Node)
    nodes.reverse()
    free: dict[int, Node] = {id(s): s for s in seeds}  # inputs in order of first use
    for n in nodes:
        for x in n.inputs:
            if type(x) is Node and id(x) not in own:
                free.setdefault(id(x), x)
    for o in outs:
        if id(o) not in own:
            free.setdefault(id(o), o)
    inputs = list(free.values())
    return Graph(name, inputs, nodes, outs), seeds, kept
