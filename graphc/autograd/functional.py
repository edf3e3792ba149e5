"""``autograd.functional``: jacobian, hessian, vjp, jvp, vhp and hvp of a function, with
PyTorch's signatures, argument checks and output structure (a Tensor for one input and
one output, tuples, or tuples of tuples ``[output][input]``).

Everything is reverse mode over graphc's autodiff: a Jacobian is one backward per output
element (seeded with a basis vector, so the gradient graphs share one structure and
replay), forward-mode products use the double-backward trick. ``vectorize=True`` and
``strategy="forward-mode"`` are accepted with PyTorch's checks and compute the same
values this way.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..creation import tensor, zeros, zeros_like
from ..ir.errors import ArgumentError, AutogradError
from ..tensor import Tensor
from . import enable_grad, grad, is_grad_enabled, set_grad_enabled

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


# ---------------------------------------------------------------- argument handling

def _as_tuple(x: Any, what: str, fn: str) -> tuple[bool, tuple]:
    """(whether ``x`` was a tuple, ``x`` as a tuple of tensors)."""
    is_tuple = isinstance(x, tuple)
    items = x if is_tuple else (x,)
    for i, el in enumerate(items):
        if not isinstance(el, Tensor):
            where = f"the value at index {i}" if is_tuple else f"the given {what}"
            raise ArgumentError(f"The {what} given to {fn} must be either a Tensor or a tuple "
                                f"of Tensors but {where} has type {type(el)}.")
    return is_tuple, items


def _prepare(inputs: tuple, create_graph: bool, need_graph: bool) -> tuple:
    """Inputs as leaves of a fresh graph (or, for create_graph, views that keep history)."""
    return tuple(x.view_as(x) if create_graph and x.requires_grad else
                 x.detach().requires_grad_(need_graph) for x in inputs)


def _finish(values: tuple, create_graph: bool) -> tuple:
    if values and isinstance(values[0], tuple):
        return tuple(_finish(v, create_graph) for v in values)
    return values if create_graph else tuple(v.detach() for v in values)


def _unpack(res: tuple, outer_tuple: bool, inner_tuple: bool | None = None):
    if inner_tuple is not None and not inner_tuple:
        res = tuple(el[0] for el in res)
    return res if outer_tuple else res[0]


def _validate_v(v: tuple, other: tuple, other_is_tuple: bool) -> None:
    if len(other) != len(v):
        if other_is_tuple:
            raise AutogradError(f"v is a tuple of invalid length: should be {len(other)} but "
                                f"got {len(v)}.")
        raise AutogradError("The given v should contain a single Tensor.")
    for i, (a, b) in enumerate(zip(v, other)):
        if a.shape != b.shape:
            prefix = f"Entry {i} in " if other_is_tuple else ""
            raise AutogradError(f"{prefix}v has invalid size: should be {b.shape} but got "
                                f"{a.shape}.")


_NOT_REQUIRING = {
    "outputs": "Output {i} of the user-provided function does not require gradients. The "
               "outputs must be computed in a differentiable manner from the input when "
               "running in strict mode.",
    "grad_inputs": "The gradient with respect to input {i} is independent of the inputs of "
                   "the user-provided function. This is not allowed in strict mode.",
    "jacobian": "While computing the hessian, found that the jacobian of the user-provided "
                "function with respect to input {i} is independent of the input. This is not "
                "allowed in strict mode. You should ensure that your function is twice "
                "differentiable and that the jacobian depends on the inputs (this would be "
                "violated by a linear function for example).",
}


def _check_requires_grad(values: tuple, kind: str, strict: bool) -> None:
    if not strict:
        return
    for i, v in enumerate(values):
        if v is None:
            raise AutogradError(f"The output of the user-provided function is independent of "
                                f"input {i}. This is not allowed in strict mode.")
        if not v.requires_grad:
            raise AutogradError(_NOT_REQUIRING[kind].format(i=i))


def _grads(outputs: tuple, inputs: tuple, grad_outputs: tuple | None = None,
           create_graph: bool = False, retain_graph: bool | None = None) -> tuple:
    """autograd.grad over the outputs that require grad; None where no path exists."""
    grad_outputs = grad_outputs or (None,) * len(outputs)
    kept = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not kept:
        return (None,) * len(inputs)
    return grad([o for o, _ in kept], list(inputs), [g for _, g in kept],
                retain_graph=retain_graph, create_graph=create_graph, allow_unused=True)


_INDEPENDENT = {
    "back": "The output of the user-provided function is independent of input {i}. This is "
            "not allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the "
                  "grad_outputs when using the double backward trick to compute forward mode "
                  "gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. "
                   "This is not allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry "
                         "{i} in the grad_jacobian. This is not allowed in strict mode as it "
                         "prevents from using the double backward trick to replace forward "
                         "mode AD.",
}


def _fill_in_zeros(grads: tuple, refs: tuple, strict: bool, create_graph: bool,
                   stage: str) -> tuple:
    out = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise AutogradError(_INDEPENDENT[stage].format(i=i))
            g = zeros_like(ref)
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise AutogradError(f"The {what} of the user-provided function is independent of "
                                f"input {i}. This is not allowed in strict mode when "
                                "create_graph=True.")
        out.append(g)
    return tuple(out)


def _call(func: Callable, inputs: tuple, fn: str, strict: bool) -> tuple[bool, tuple]:
    is_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", fn)
    _check_requires_grad(outputs, "outputs", strict)
    return is_tuple, outputs


def _vector(v, refs: tuple, refs_tuple: bool, create_graph: bool, fn: str, message: str):
    if v is None:
        if len(refs) != 1 or refs[0].numel() != 1:
            raise AutogradError(message)
        return None
    _, v = _as_tuple(v, "v", fn)
    v = _prepare(v, create_graph, need_graph=False)
    _validate_v(v, refs, refs_tuple)
    return v


# ---------------------------------------------------------------- products

def vjp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product at ``inputs``."""
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        outputs_tuple, outputs = _call(func, inputs, "vjp", strict)
        v = _vector(v, outputs, outputs_tuple, create_graph, "vjp",
                    "The vector v can only be None if the user-provided function returns a "
                    "single Tensor with a single element.")
    with set_grad_enabled(create_graph or is_grad_enabled()):
        res = _fill_in_zeros(_grads(outputs, inputs, v, create_graph), inputs, strict,
                             create_graph, "back")
    return (_unpack(_finish(outputs, create_graph), outputs_tuple),
            _unpack(_finish(res, create_graph), inputs_tuple))


def jvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), J v)``: the Jacobian-vector product, by the double-backward trick."""
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        v = _vector(v, inputs, inputs_tuple, create_graph, "jvp",
                    "The vector v can only be None if the input to the user-provided function "
                    "is a single Tensor with a single element.")
        outputs_tuple, outputs = _call(func, inputs, "jvp", strict)
        dummies = tuple(zeros_like(o).requires_grad_(True) for o in outputs)
        grad_inputs = _grads(outputs, inputs, dummies, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict)
    with set_grad_enabled(create_graph or is_grad_enabled()):
        res = _fill_in_zeros(_grads(grad_inputs, dummies, v, create_graph), outputs, strict,
                             create_graph, "back_trick")
    return (_unpack(_finish(outputs, create_graph), outputs_tuple),
            _unpack(_finish(res, create_graph), outputs_tuple))


def _scalar_output(func: Callable, fn: str, strict: bool) -> Callable:
    def single(*inputs):
        out = func(*inputs)
        is_tuple, outs = _as_tuple(out, "outputs of the user-provided function", fn)
        _check_requires_grad(outs, "outputs", strict)
        if is_tuple:
            raise AutogradError(f"The function given to {fn} should return a single Tensor")
        if out.numel() != 1:
            raise AutogradError(f"The Tensor returned by the function given to {fn} should "
                                "contain a single element")
        return out
    return single


def _hessian_product(func: Callable, inputs, v, create_graph: bool, strict: bool, fn: str):
    """vhp and hvp: ``(func(inputs), v^T H)`` or ``H v`` (equal for a symmetric Hessian)."""
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn)
        inputs = _prepare(inputs, create_graph, need_graph=True)
        v = _vector(v, inputs, inputs_tuple, create_graph, fn,
                    "The vector v can only be None if the input to the user-provided function "
                    "is a single Tensor with a single element.")
        out = _scalar_output(func, fn, strict)(*inputs)
        jac = _grads((out,), inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        if fn == "hvp":  # H v as the gradient of (d jac . u) / du, u a dummy
            dummies = tuple(zeros_like(x).requires_grad_(True) for x in inputs)
            double = _fill_in_zeros(_grads(jac, inputs, dummies, create_graph=True), inputs,
                                    strict, create_graph, "double_back")
    with set_grad_enabled(create_graph or is_grad_enabled()):
        if fn == "hvp":
            res = _fill_in_zeros(_grads(double, dummies, v, create_graph), inputs, strict,
                                 create_graph, "double_back_trick")
        else:
            res = _fill_in_zeros(_grads(jac, inputs, v, create_graph), inputs, strict,
                                 create_graph, "double_back")
    return (_finish((out,), create_graph)[0], _unpack(_finish(res, create_graph), inputs_tuple))


def vhp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T H)`` for a scalar ``func``."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), H v)`` for a scalar ``func``."""
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


# ---------------------------------------------------------------- jacobian and hessian

def _check_strategy(strategy: str, create_graph: bool, strict: bool, vectorize: bool) -> None:
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AutogradError('Expected strategy to be either "forward-mode" or "reverse-mode". '
                            'Hint: If your function has more outputs than inputs, '
                            '"forward-mode" tends to be more performant. Otherwise, prefer to '
                            'use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError("graphc.autograd.functional.jacobian: `create_graph=True` "
                                      'and `strategy="forward-mode"` are not supported '
                                      "together (yet). Please either set `create_graph=False` "
                                      'or `strategy="reverse-mode"`.')
        if strict:
            raise AutogradError("graphc.autograd.functional.jacobian: `strict=True` and "
                                '`strategy="forward-mode"` are not supported together (yet). '
                                "Please either set `strict=False` or "
                                '`strategy="reverse-mode"`.')
        if not vectorize:
            raise NotImplementedError("Computing Jacobian using forward-AD or "
                                      "forward-over-reverse Hessian is only implemented for "
                                      "`vectorize=True`.")
    if vectorize and strict:
        raise AutogradError("graphc.autograd.functional.jacobian: `strict=True` and "
                            "`vectorized=True` are not supported together. Please either set "
                            "`strict=False` or `vectorize=False`.")


def _basis(out: Tensor, j: int) -> Tensor:
    """The j-th standard basis vector in ``out``'s shape and dtype."""
    e = np.zeros(out.numel(), dtype=out.dtype.np)
    e[j] = 1
    return tensor(e.reshape(out.shape), dtype=out.dtype)


def _rows(out: Tensor, inputs: tuple, out_index: int, create_graph: bool,
          strict: bool) -> tuple:
    """d out / d input for each input: out.shape + input.shape, one backward per element."""
    from ..composite import stack
    rows: list[list[Tensor]] = [[] for _ in inputs]
    for j in range(out.numel()):
        grads = _grads((out,), inputs, (_basis(out, j),), create_graph, retain_graph=True)
        for k, (g, x) in enumerate(zip(grads, inputs)):
            if g is None:
                if strict:
                    raise AutogradError(f"Output {out_index} of the user-provided function is "
                                        f"independent of input {k}. This is not allowed in "
                                        "strict mode.")
                g = zeros_like(x)
            elif strict and create_graph and not g.requires_grad:
                raise AutogradError(f"The jacobian of the user-provided function is "
                                    f"independent of input {out_index}. This is not allowed in "
                                    "strict mode when create_graph=True.")
            rows[k].append(g)
    return tuple(stack(r, 0).reshape(tuple(out.shape) + tuple(x.shape)) if r else
                 zeros(tuple(out.shape) + tuple(x.shape), dtype=x.dtype)  # an empty output
                 for r, x in zip(rows, inputs))


def jacobian(func: Callable, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: ``out.shape + input.shape`` per pair."""
    _check_strategy(strategy, create_graph, strict, vectorize)
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        outputs_tuple, outputs = _call(func, inputs, "jacobian", strict)
        jac = tuple(_rows(out, inputs, i, create_graph, strict) for i, out in enumerate(outputs))
    return _unpack(_finish(jac, create_graph), outputs_tuple, inputs_tuple)


def hessian(func: Callable, inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a scalar ``func`` at ``inputs``: ``input_i.shape + input_j.shape``
    per pair (a tuple of tuples for several inputs)."""
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AutogradError('Expected strategy to be either "forward-mode" or "reverse-mode".')
    single = _scalar_output(func, "hessian", strict)

    def jac_func(*inp):
        if outer_jacobian_strategy == "forward-mode":
            inp = tuple(t.requires_grad_(True) for t in inp)
        jac = jacobian(lambda *x: single(*x).reshape(()), inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        return jac

    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict,
                   vectorize=vectorize, strategy=outer_jacobian_strategy)
    return _unpack(res, inputs_tuple, inputs_tuple)
