"""Fused composites in eager mode: a composite op (softmax, layer_norm, gelu, a loss, a
recurrent cell) run as one native program instead of one numpy call per primitive.

Eager mode evaluates each primitive as it is bound, so a composite of n primitives makes
n passes over memory and pays n ops' overhead, where PyTorch runs one fused kernel (a
softmax was 3.3x torch's time). ``@fused`` gives a composite that kernel: the first call
with a signature (shapes, dtypes, static arguments) traces it and compiles its forward
with ``graphc.compile``; later calls are one native call. Its output is one node named
after the composite (``%5 = softmax %4, %x``: the value, then the inputs), so dumps show
what ran. The node's gradient is the composite's own gradient graph, recorded once per
signature (its forward recomputed from the inputs, then the VJP rules) and bound under
whatever handler backward() runs: numpy eagerly, recorded under ``create_graph`` and by
replay, which compiles it with the rest of the gradient graph (runtime/replay.py), where
the recomputation fuses into the gradient's kernels.

The fused path is taken only where it is eager's own: the eager handler active, tensors
on the host and large enough to amortize a compile (``GRAPHC_FUSE_MIN`` elements, 4096 by
default; ``GRAPHC_FUSE=0`` turns fusion off), at most ``MAX_SIGNATURES`` shapes per
composite. Anywhere else (tracing, recording, CUDA tensors, small tensors) the composite
runs as written, so compiled code and higher-order gradients see its primitives.
"""
from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable

from .ir.autodiff import grad_graph
from .ir.core import Node, Op, RecordingHandler, _state, make_leaf, use_handler
from .ir.graph import Graph

MAX_SIGNATURES = 64  # shapes compiled per composite; beyond them it runs unfused


def fuse_min() -> int:
    """Elements a call's tensors must hold together for the fused path (-1: never)."""
    if os.environ.get("GRAPHC_FUSE", "1") in ("", "0"):
        return -1
    env = os.environ.get("GRAPHC_FUSE_MIN", "")
    return int(env) if env.isdigit() else 4096


class _Signature:
    """One traced signature of a fused composite: its compiled forward and, once asked
    for, its gradient graph in terms of the inputs and the output's cotangent. Hashed by
    identity: nodes carry it as an attribute, and replay keys on attributes."""

    __slots__ = ("fn", "layout", "compiled", "program", "usable", "vjp_graph", "inputs", "seed",
                 "kept", "lock")

    def __init__(self, fn: Callable, layout: tuple, tensors: list) -> None:
        self.fn, self.layout = fn, layout
        self.compiled = _compile(self)
        self.vjp_graph: Graph | None = None
        self.lock = threading.Lock()
        # traced now, not run. A composite that draws random numbers (dropout) is never
        # fused, as its gradient recomputes the forward, which would draw anew; nor one that
        # writes in place or returns other than one tensor
        self.compiled.lower(*[t.detach() for t in tensors])
        self.program = p = self.compiled.last
        self.usable = p.plain and p.single and p.out_dtypes[0] is not None

    def __call__(self, *tensors):
        """The composite on these tensors, with the signature's static arguments."""
        args, kwargs = _rebuild(self.layout, tensors)
        return self.fn(*args, **kwargs)


def fused(fn: Callable | None = None, *, grad_name: str | None = None) -> Callable:
    """Decorate a composite returning one tensor (see the module doc). Its tensor arguments
    may be positional or keywords; the others are static (hashable; lists count as tuples).
    ``grad_name``: its outputs' grad_fn name without "Backward0" (PyTorch's)."""
    if fn is None:
        return functools.partial(fused, grad_name=grad_name)
    name = fn.__name__
    # one op per composite, unregistered (the primitives are the registry's)
    op = Op(name, _infer, _impl, _vjp, passthrough=0, grad_name=grad_name)
    signatures: dict[tuple, _Signature] = {}
    lock = threading.Lock()

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        minimum = fuse_min()
        if minimum < 0 or not _state.handler.fuses:
            return fn(*args, **kwargs)
        split = _split(args, kwargs)
        if split is None:
            return fn(*args, **kwargs)
        tensors, layout = split
        size = 0
        for t in tensors:
            if not _on_host(t):
                return fn(*args, **kwargs)
            size += t._node.value.size
        if size < minimum:
            return fn(*args, **kwargs)
        key = (layout, *[(t._node.shape, t._node.dtype) for t in tensors])
        sig = signatures.get(key)
        if sig is None:
            with lock:
                if len(signatures) >= MAX_SIGNATURES:
                    return fn(*args, **kwargs)
                sig = signatures.get(key)
                if sig is None:
                    sig = signatures[key] = _Signature(fn, layout, tensors)
        if not sig.usable:
            return fn(*args, **kwargs)
        return _call(op, sig, tensors)

    wrapper.unfused = fn
    return wrapper


_TENSOR = object()  # where a tensor goes in a call's layout


def _split(args: tuple, kwargs: dict) -> tuple[list, tuple] | None:
    """The call's tensors, in order, and its layout: the arguments with each tensor
    replaced by a marker (a hashable key), or None when a static argument is unhashable."""
    from .tensor import Tensor
    tensors: list = []

    def static(v):
        if isinstance(v, Tensor):
            tensors.append(v)
            return _TENSOR
        return tuple(v) if type(v) is list else v
    layout = (tuple(map(static, args)), tuple((k, static(v)) for k, v in kwargs.items()))
    try:
        hash(layout)
    except TypeError:
        return None
    return tensors, layout


def _rebuild(layout: tuple, tensors) -> tuple[list, dict]:
    it = iter(tensors)
    args = [next(it) if v is _TENSOR else v for v in layout[0]]
    return args, {k: next(it) if v is _TENSOR else v for k, v in layout[1]}


def _on_host(t) -> bool:
    import numpy as np
    return isinstance(t._node.value, np.ndarray)


def _compile(sig: _Signature):
    from .compiler import CompiledFunction
    compiled = CompiledFunction(sig)
    compiled.name = sig.fn.__name__
    compiled.quiet = True  # shapes are this layer's business: no retrace notes or warnings
    return compiled


def _call(op: Op, sig: _Signature, args: list):
    """The program run on the tensors' values (its guards are not needed: a composite's
    captured tensors are its own constants), its output wrapped as the composite's node."""
    from .tensor import _wrap
    p = sig.program
    value = p.native.run([a._node.value for a in args] + p.captured_values)[0]
    leaf = make_leaf(value.shape, p.out_dtypes[0], value)
    if not (_state.grad_enabled and leaf.dtype.kind == 2 and
            any(a._node.requires_grad for a in args)):
        return _wrap(leaf)
    # (an attribute named with "_" is not printed; the signature is hashed by identity)
    return _wrap(_state.handler.bind(op, (leaf, *[a._node for a in args]),
                                     {"_signature": sig}))


def _infer(inputs, attrs):
    return inputs[0].shape, inputs[0].dtype


def _impl(attrs, value, *inputs):
    return value.view()


def _vjp(node: Node, g: Node, need: tuple) -> tuple:
    """The composite's gradient graph, bound to this call's inputs and cotangent under the
    active handler; the value input (0) gets none."""
    sig = node.attrs["_signature"]
    graph = _gradient_graph(sig, node)
    from .runtime.eager import rebind
    env = {id(leaf): x for leaf, x in zip(sig.inputs, node.inputs[1:])}
    env[id(sig.seed)] = g
    outs = iter(rebind(graph, env))
    grads: list = [None] * len(sig.inputs)
    for i in sig.kept:
        grads[i] = next(outs)
    return (None, *[gx if want else None for gx, want in zip(grads, need[1:])])


def _gradient_graph(sig: _Signature, node: Node) -> Graph:
    """Recorded once per signature: the composite on leaves standing for its inputs (each
    differentiable one requiring grad), and its gradient with respect to all of them."""
    with sig.lock:
        if sig.vjp_graph is not None:
            return sig.vjp_graph
        from .tensor import _wrap
        leaves = []
        for i, x in enumerate(node.inputs[1:]):
            leaf = make_leaf(x.shape, x.dtype, name=f"in{i}")
            leaf.requires_grad = x.dtype.kind == 2
            leaves.append(leaf)
        prev = _state.grad_enabled
        _state.grad_enabled = True
        try:
            with use_handler(RecordingHandler()):
                out = sig(*[_wrap(leaf) for leaf in leaves])._node
        finally:
            _state.grad_enabled = prev
        wrt = [leaf for leaf in leaves if leaf.requires_grad]
        graph, seeds, kept = grad_graph([out], wrt)
        positions = [i for i, leaf in enumerate(leaves) if leaf.requires_grad]
        whole = Graph.from_outputs(graph.outputs, inputs=[*leaves, seeds[0]], name="vjp")
        sig.inputs, sig.seed = leaves, seeds[0]
        sig.kept = [positions[k] for k in kept]
        sig.vjp_graph = whole
        return whole
