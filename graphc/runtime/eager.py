"""The eager engine: evaluate each node the moment it is bound, with numpy.

This is the hot path of eager mode: one shape/dtype rule, one numpy call and
one Node per op. A node records its inputs only when autograd needs them.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from sys import _getframe

import numpy as np

from ..ir import dtypes as dt
from ..ir.core import EMPTY, LEAF, Handler, Node, Op, _state, set_default_handler
from ..ir.errors import _PKG_DIR, AutogradError, format_loc
from ..ir.graph import Graph
from ..ir.ops import pair_result_type
from ..ir.reference import _call, run_op  # noqa: F401  (run_op: re-exported)
from ..ir.shapes import out_of_memory
from . import gpu_eager
from .malloc import keep_freed_memory

_ndarray = np.ndarray

# Like PyTorch, eager ops give inf/nan silently: numpy's floating-point RuntimeWarnings are
# ignored for the ops graphc runs (a filter on our own modules costs nothing per op, unlike
# np.errstate).
warnings.filterwarnings("ignore", category=RuntimeWarning,
                        module=r"graphc\.(runtime\.eager|ir\.(ops|random|reference))")


class EagerHandler(Handler):
    """Evaluates every bound node at once; records inputs only when grad is needed."""

    checks_saved = False  # whether inputs must be unmodified since computed (backward's rule)
    fuses = True

    def bind(self, op: Op, inputs: Sequence, attrs: dict) -> Node:
        # (elementwise ops' rules cost less than a lookup of the remembered answer)
        ufunc = op.ufunc
        shape, dtype = op.infer(inputs, attrs) if ufunc is not None else \
            _infer(op, inputs, attrs)
        npd = dtype.np
        cast = op.cast_inputs
        # comparisons: operands meet in PyTorch's promoted type, the result is bool
        to = pair_result_type(*inputs).np if cast == "promote" else npd
        checks = self.checks_saved
        record = device = False
        vals = []
        for x in inputs:  # one pass: checks, values, casts, whether to record
            if type(x) is Node:
                if checks and x.vbox is not None and x.ver != x.vbox[0]:
                    check_saved(x)
                v = x.value
                if type(v) is not _ndarray and not isinstance(v, _ndarray):  # a CUDA tensor
                    device = True
                elif cast and v.dtype is not to and v.dtype != to:
                    v = v.astype(to)
                vals.append(v)
                if x.requires_grad:
                    record = True
            else:
                vals.append(x)
        if device:
            out = gpu_eager.run(op, inputs, attrs, shape, dtype)
            vbox = inputs[0].vbox if op.view and out.alloc is vals[0].alloc else [0]
        else:
            try:  # what _call does, inlined: elementwise ops call their numpy function directly
                out = ufunc(*vals) if ufunc is not None else op.impl(attrs, *vals)
            except (ValueError, OverflowError):
                out = _call(op, attrs, vals, npd)  # raises the user-facing error, or wraps ints
            except MemoryError:
                raise out_of_memory(op.name, shape, dtype) from None
            if type(out) is not _ndarray:
                out = np.asarray(out)
            if out.dtype is not npd and out.dtype != npd:
                out = out.astype(npd)
            # a view op's result shares the version counter only if numpy really made a view
            # (reshape of a non-contiguous array copies, and the copy has a .base too)
            if op.view and out.base is not None and np.may_share_memory(out, vals[0]):
                vbox = inputs[0].vbox
            else:
                vbox = [0]
        if record and _state.grad_enabled and op.differentiable and dtype.kind == 2:
            try:  # the user's line: usually three frames up (us <- Tensor method <- user)
                f = _getframe(2)
            except ValueError:
                f = _getframe(0)
            while f is not None and f.f_code.co_filename.startswith(_PKG_DIR):
                f = f.f_back
            loc = (f.f_code, f.f_lasti) if f is not None else None  # line found when printed
            if type(inputs) is not tuple:
                inputs = tuple(inputs)
            return Node(op, inputs, attrs, shape, dtype, out, True, loc, vbox, vbox[0])
        return Node(LEAF, (), EMPTY, shape, dtype, out, False, None, vbox, vbox[0])


_SHAPE_RULES: dict[tuple, tuple] = {}  # (op, default float, attrs, input types) -> (shape, dtype)


def _infer(op: Op, inputs: Sequence, attrs: dict) -> tuple:
    """``op.infer``, remembered: a shape rule's answer depends only on the key below (a
    literal only by its type), and eager mode pays for the rule at every op of every step
    (matmul's, permute's, a reduction's cost several times the lookup)."""
    key = (op, dt._default_float, tuple(attrs.items()) if attrs else None,
           *[(x.shape, x.dtype) if type(x) is Node else type(x) for x in inputs])
    try:
        return _SHAPE_RULES[key]
    except KeyError:  # the first time (errors are raised, and never remembered)
        if len(_SHAPE_RULES) >= 4096:
            _SHAPE_RULES.clear()
        out = _SHAPE_RULES[key] = op.infer(inputs, attrs)
        return out
    except TypeError:  # an unhashable attribute: a constant's array
        return op.infer(inputs, attrs)


class CheckedEagerHandler(EagerHandler):
    """The eager handler backward() runs VJP rules with: it first checks that no value it
    reads was modified in place since it was computed (PyTorch's saved-tensor check)."""

    checks_saved = True
    fuses = False


EAGER = EagerHandler()
CHECKED_EAGER = CheckedEagerHandler()
set_default_handler(EAGER)
keep_freed_memory()


def check_saved(node: Node) -> None:
    """Raise if ``node``'s value was modified in place after it was computed."""
    if node.vbox is not None and node.vbox[0] != node.ver:
        raise AutogradError(
            "one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [{node.dtype.short}{list(node.shape)}], produced by "
            f"{node.op.name if node.op is not LEAF else 'a leaf'} at {format_loc(node.loc)}, "
            f"is at version {node.vbox[0]}; expected version {node.ver} instead")


def evaluate(graph: Graph, env: dict[int, np.ndarray]) -> list[np.ndarray]:
    """Run ``graph`` with numpy; ``env`` maps input node ids to values."""
    for n in graph.nodes:
        env[id(n)] = run_op(n.op, n.attrs, [env[id(x)] if type(x) is Node else x
                                            for x in n.inputs], n.dtype)
    return [env[id(o)] for o in graph.outputs]


def rebind(graph: Graph, env: dict[int, Node]) -> list[Node]:
    """Re-bind every node of ``graph`` through the active handler (higher-order grads)."""
    for n in graph.nodes:
        env[id(n)] = _state.handler.bind(
            n.op, [env.get(id(x), x) if type(x) is Node else x for x in n.inputs], n.attrs)
    return [env.get(id(o), o) for o in graph.outputs]
