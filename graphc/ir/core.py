"""Node, Op and the active handler: the small core every layer builds on.

An op-building function (``ops.add(x, y)``) calls :func:`bind`, which hands
the new node to the active handler: the eager handler (``runtime/eager``)
evaluates it at once, a recording handler only records it (tracing, and
autodiff building a gradient graph). Inputs are Nodes or Python scalars
(literals, which promote weakly and print inline).
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from .dtypes import DType
from .errors import user_loc

Literal = bool | int | float
EMPTY: dict = {}


class Node:
    """One value of the IR: an op applied to inputs, with its shape and dtype.

    In eager mode ``value`` holds the numpy array. ``vbox`` is a one-element
    list shared by a tensor and its views (the version counter) and ``ver`` is
    its value when this node's value was produced: backward checks the two.
    """

    __slots__ = (
        "op", "inputs", "attrs", "shape", "dtype", "value", "requires_grad",
        "loc", "vbox", "ver", "__weakref__", "__dict__",
    )
    # rarely set, so class-level defaults (an instance dict appears only when one is set):
    sink = None   # weakref to the Tensor whose .grad receives this node's gradient
    name = None   # input name for printing (argument names under tracing)
    label = None  # grad_fn name of the composite op that produced this node
    freed = False
    hooks = None  # ((id, fn), ...): fn(cotangent node) -> a node to use instead, or None

    def __init__(self, op: Op, inputs: tuple, attrs: dict, shape: tuple, dtype: DType,
                 value: Any = None, requires_grad: bool = False, loc: Any = None,
                 vbox: list | None = None, ver: int = 0) -> None:
        self.op = op
        self.inputs = inputs
        self.attrs = attrs
        self.shape = shape
        self.dtype = dtype
        self.value = value
        self.requires_grad = requires_grad
        self.loc = loc
        self.vbox = vbox
        self.ver = ver

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def is_leaf(self) -> bool:
        return self.op is LEAF

    def __repr__(self) -> str:
        return f"<Node {self.op.name} {self.dtype.short}{list(self.shape)} at {id(self):#x}>"


class Op:
    """A primitive: its name, shape/dtype rule, numpy implementation and VJP rule.

    ``infer(inputs, attrs) -> (shape, dtype)`` raises the user-facing errors;
    ``impl(attrs, *arrays) -> ndarray`` is the reference/eager implementation;
    ``vjp(node, g) -> tuple`` returns one cotangent (or None) per input, built
    with op-building functions so that gradients are IR too.

    ``failure(node, value) -> (exception class, message)``, for ops that can fail on the
    values they see (an index out of range, an integer division by zero): the error that
    ``impl`` raises eagerly, which compiled kernels report through the program's error
    buffer (``value``: the offending element) and the runtime raises after the call.

    ``passthrough``: the index of the input whose value the node's value is (detach, a
    custom Function's outputs); once autodiff is done with a graph the node is that input.

    ``group(node) -> record``, for ops whose nodes are made together and differentiated
    together (the outputs of one call of a custom ``autograd.Function``): ``record.nodes()``
    lists the group's nodes in order (None for one that is gone), and autodiff calls
    ``vjp(node, cotangents, need)`` once per group, with every node's cotangent (or None),
    when all of them are complete. Gradient graphs with such nodes are never replayed.
    """

    __slots__ = ("name", "infer", "impl", "vjp", "differentiable", "view", "cast_inputs",
                 "grad_name", "ufunc", "failure", "passthrough", "group")

    def __init__(self, name: str, infer: Callable, impl: Callable, vjp: Callable | None, *,
                 differentiable: bool = True, view: bool = False, cast_inputs: bool | str = False,
                 grad_name: str | None = None, ufunc: Callable | None = None,
                 failure: Callable | None = None, passthrough: int | None = None,
                 group: Callable | None = None) -> None:
        self.name = name
        self.infer = infer
        self.impl = impl if impl is not None or ufunc is None else (lambda a, *xs: ufunc(*xs))
        self.ufunc = ufunc  # elementwise ops: the numpy function itself, called without attrs
        self.vjp = vjp
        self.differentiable = differentiable and vjp is not None
        self.view = view
        self.cast_inputs = cast_inputs
        self.grad_name = grad_name or "".join(p.capitalize() for p in name.split("_"))
        self.failure = failure
        self.passthrough = passthrough
        self.group = group

    def __call__(self, *inputs, **attrs):
        return _state.handler.bind(self, inputs, attrs or EMPTY)

    def __repr__(self) -> str:
        return f"<Op {self.name}>"


REGISTRY: dict[str, Op] = {}


def register(op: Op) -> Op:
    assert op.name not in REGISTRY, f"op {op.name} defined twice"
    REGISTRY[op.name] = op
    return op


def _leaf_infer(inputs, attrs):
    raise AssertionError("leaf nodes are made directly, never bound")


# A leaf: an input of a graph (a user tensor, a parameter, a traced argument).
LEAF = register(Op("leaf", _leaf_infer, None, None, differentiable=False))


# ---------------------------------------------------------------- handlers

class Handler:
    """Receives every node an op-building function makes."""

    traces = False  # True for the tracer of @graphc.compile: values are symbolic
    fuses = False   # whether composites may run as fused native programs (graphc/fused.py):
    #                 eager mode's own handler only, never a recording or checking one

    def bind(self, op: Op, inputs: Sequence[Any], attrs: dict) -> Node:
        raise NotImplementedError


class _State(threading.local):
    """The active handler and grad mode, per thread as in PyTorch: a thread starts with
    grad enabled and the default handler. Both are class-level defaults, so a thread that
    never changes them reads them without any per-thread setup."""

    handler: Handler = Handler()
    grad_enabled: bool = True


_state = _State()


def set_default_handler(handler: Handler) -> None:
    """The handler of every thread that has not installed one (``runtime.eager``'s)."""
    _State.handler = handler


def bind(op: Op, inputs: Sequence[Any], attrs: dict = EMPTY) -> Node:
    return _state.handler.bind(op, inputs, attrs)


def get_handler() -> Handler:
    return _state.handler


class use_handler:
    """``with use_handler(h):`` makes ``h`` the active handler inside the block."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    def __enter__(self) -> Handler:
        self.prev = _state.handler
        _state.handler = self.handler
        return self.handler

    def __exit__(self, *exc) -> None:
        _state.handler = self.prev


def input_requires_grad(op: Op, inputs: Sequence[Any], dtype: DType) -> bool:
    """Whether a new node records its inputs for autodiff."""
    if not (_state.grad_enabled and op.differentiable and dtype.kind == 2):
        return False
    for x in inputs:
        if type(x) is Node and x.requires_grad:
            return True
    return False


class RecordingHandler(Handler):
    """Records nodes without evaluating them (gradient graphs; the tracer builds on it)."""

    def __init__(self, loc: tuple[str, int] | None = None) -> None:
        self.nodes: list[Node] = []
        self.loc = loc

    def bind(self, op: Op, inputs: Sequence[Any], attrs: dict) -> Node:
        inputs = tuple(inputs)
        shape, dtype = op.infer(inputs, attrs)
        node = Node(op, inputs, attrs, shape, dtype)
        node.requires_grad = input_requires_grad(op, inputs, dtype)
        node.loc = self.loc or user_loc()
        self.nodes.append(node)
        return node


def make_leaf(shape: tuple, dtype: DType, value: Any = None, name: str | None = None) -> Node:
    node = Node(LEAF, (), EMPTY, shape, dtype)
    node.value = value
    node.vbox = [0]
    if name is not None:  # a class default otherwise: no instance dict for most leaves
        node.name = name
    return node


def carry_grad_target(new: Node, old: Node) -> None:
    """``new`` takes ``old``'s place as a tensor's node after a write to its memory: it
    requires grad if ``old`` was a leaf that did, and keeps its ``.grad`` target and hooks
    (a non-leaf's hooks stay with the value they were registered on, as PyTorch's)."""
    new.requires_grad = old.requires_grad and old.op is LEAF
    new.sink = old.sink
    if old.hooks is not None and new.requires_grad:
        new.hooks = old.hooks


def is_literal(x: Any) -> bool:
    return type(x) is not Node
