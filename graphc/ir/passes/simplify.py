"""Algebraic simplification: identities that remove a node without changing a value.

A rule fires only when the result has exactly the node's shape and dtype, so
``x + 0`` with an integer ``x`` and a float ``0`` (which promotes) is kept. Passes run
on graphs that autodiff is done with, so ``detach`` (stop-gradient) and the outputs of
custom ``autograd.Function`` s (identities that carry a user's backward) vanish.
"""
from __future__ import annotations

from ..core import Node
from ..graph import Graph
from ..ops import PERMUTE, RESHAPE
from .rewrite import rewrite, scalar_value


def _same_type(a, n: Node) -> bool:
    return type(a) is Node and a.shape == n.shape and a.dtype is n.dtype


def _identity_operand(n: Node):
    """x for x + 0, 0 + x, x - 0, x * 1, 1 * x, x / 1, x ** 1."""
    name = n.op.name
    if name in ("add", "mul"):
        unit = 0 if name == "add" else 1
        x, y = n.inputs
        if scalar_value(y) == unit and not isinstance(scalar_value(y), bool):
            return x
        if scalar_value(x) == unit and not isinstance(scalar_value(x), bool):
            return y
    if name in ("sub", "div", "pow"):
        unit = 0 if name == "sub" else 1
        x, y = n.inputs
        if scalar_value(y) == unit and not isinstance(scalar_value(y), bool):
            return x
    return None


def _movement(n: Node):
    """No-op movements vanish; chains of reshapes or of permutes become one."""
    name = n.op.name
    x = n.inputs[0] if n.inputs else None
    if name in ("reshape", "expand", "cast", "slice", "permute") and _same_type(x, n):
        if name != "permute" or n.attrs["perm"] == tuple(range(n.ndim)):
            if name != "slice" or all(s == 1 for s in n.attrs["steps"]):
                return x
    if name == "sum" and not n.attrs["axes"] and _same_type(x, n):
        return x
    if name == "reshape" and type(x) is Node and x.op.name == "reshape":
        return _rebuild(RESHAPE, x.inputs[0], n, shape=n.shape)
    if name == "permute" and type(x) is Node and x.op.name == "permute":
        inner, outer = x.attrs["perm"], n.attrs["perm"]
        return _rebuild(PERMUTE, x.inputs[0], n, perm=tuple(inner[p] for p in outer))
    if name == "neg" and type(x) is Node and x.op is n.op:
        return x.inputs[0]
    return None


def _rebuild(op, x: Node, like: Node, **attrs) -> Node:
    shape, dtype = op.infer((x,), attrs)
    m = Node(op, (x,), attrs, shape, dtype, loc=like.loc)
    m.requires_grad = like.requires_grad
    return m


def simplify(graph: Graph) -> Graph:
    def rule(n: Node):
        if n.op.passthrough is not None:  # passes run after autodiff: detach (stop-gradient)
            return n.inputs[n.op.passthrough]  # and custom Functions' outputs are identities
        x = _identity_operand(n)
        if x is not None and _same_type(x, n):
            return x
        return _movement(n)
    return rewrite(graph, rule)
