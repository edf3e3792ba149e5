"""Module hooks: forward pre-hooks, forward hooks and full backward (pre-)hooks, per module
and global, called as PyTorch's ``Module._call_impl`` calls them.

Backward hooks are two identity ``autograd.Function`` s, one around the module's tensor
inputs and one around its outputs (PyTorch's ``BackwardHook``): the outputs' backward
hands the gradients of the outputs to the pre-hooks, the inputs' backward hands both to
the hooks, and what a hook returns replaces those gradients. So they run in eager
backward, record under ``create_graph`` and are traced under ``@graphc.compile``.

``utils.hooks.module_hook_changes`` counts registrations and removals: a compiled program
traced with other module hooks than there are now retraces.
"""
from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ...autograd.function import Function
from ...ir.core import _state
from ...ir.errors import AutogradError
from ...tensor import Tensor
from ...utils import hooks as handles
from ...utils.hooks import RemovableHandle

_global_forward_pre_hooks: OrderedDict = OrderedDict()
_global_forward_hooks: OrderedDict = OrderedDict()
_global_forward_hooks_with_kwargs: OrderedDict = OrderedDict()
_global_forward_hooks_always_called: OrderedDict = OrderedDict()
_global_backward_pre_hooks: OrderedDict = OrderedDict()
_global_backward_hooks: OrderedDict = OrderedDict()


class HookHandle(RemovableHandle):
    """A module hook's handle: removing it counts as a change of the hooks."""

    def remove(self) -> None:
        handles.module_hook_changes += 1
        super().remove()


def add_hook(table: OrderedDict, hook: Callable, prepend: bool = False,
             flags: tuple[tuple[OrderedDict, bool], ...] = ()) -> HookHandle:
    """Register ``hook`` in ``table`` (first if ``prepend``), marked in each flag table
    whose flag is set; the handle removes it from all of them."""
    handles.module_hook_changes += 1
    handle = HookHandle(table, extra_dict=[t for t, _ in flags])
    table[handle.id] = hook
    for flag_table, on in flags:
        if on:
            flag_table[handle.id] = True
    if prepend:
        table.move_to_end(handle.id, last=False)
    return handle


# ---------------------------------------------------------------- global hooks

def register_module_forward_pre_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, args)`` before every module's forward."""
    return add_hook(_global_forward_pre_hooks, hook)


def register_module_forward_hook(hook: Callable, *, with_kwargs: bool = False,
                                 always_call: bool = False) -> RemovableHandle:
    """``hook(module, args, output)`` after every module's forward."""
    return add_hook(_global_forward_hooks, hook, flags=(
        (_global_forward_hooks_with_kwargs, with_kwargs),
        (_global_forward_hooks_always_called, always_call)))


def register_module_full_backward_pre_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, grad_output)`` for every module, when its outputs' gradients are
    known."""
    return add_hook(_global_backward_pre_hooks, hook)


def register_module_full_backward_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, grad_input, grad_output)`` for every module."""
    return add_hook(_global_backward_hooks, hook)


# ---------------------------------------------------------------- backward hooks

class _HookedIdentity(Function):
    """The identity on some tensors; its backward gives their gradients to a callback,
    which may replace them."""

    @staticmethod
    def forward(ctx, callback, *tensors):
        ctx.callback = callback
        ctx.set_materialize_grads(False)  # hooks see None for gradients that never came
        ctx.mark_non_differentiable(*[t for t in tensors if not t.requires_grad])
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        new = ctx.callback(grads)
        return (None, *(grads if new is None else new))


class BackwardHook:
    """One call's backward hooks: wraps the inputs and the outputs of the module."""

    def __init__(self, module, hooks: list, pre_hooks: list) -> None:
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.grad_outputs: tuple | None = None
        self.input_index: list[int] | None = None
        self.n_inputs = 0
        self.output_index: list[int] | None = None
        self.n_outputs = 0

    @staticmethod
    def _wrap(callback: Callable, args: tuple) -> tuple[tuple, list[int] | None]:
        index = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        if not (_state.grad_enabled and any(args[i].requires_grad for i in index)):
            return args, None
        new = _HookedIdentity.apply(callback, *[args[i] for i in index])
        out = list(args)
        for i, t in zip(index, new):
            out[i] = t
        return tuple(out), index

    def _pack(self, index: list[int], values, size: int) -> tuple:
        out = [None] * size
        for i, v in zip(index, values):
            out[i] = v
        return tuple(out)

    def setup_inputs(self, args: tuple) -> tuple:
        self.n_inputs = len(args)
        args, self.input_index = self._wrap(self._on_input_grads, args)
        return args

    def setup_outputs(self, result: Any) -> Any:
        if not isinstance(result, (Tensor, tuple)):
            warnings.warn("For backward hooks to be called, module output should be a Tensor or "
                          f"a tuple of Tensors but received {type(result)}", stacklevel=4)
            return result
        single = not isinstance(result, tuple)
        outs = (result,) if single else result
        self.n_outputs = len(outs)
        outs, self.output_index = self._wrap(self._on_output_grads, outs)
        return outs[0] if single else outs

    def _on_output_grads(self, grads: tuple) -> tuple | None:
        self.grad_outputs = self._pack(self.output_index, grads, self.n_outputs)
        for hook in self.pre_hooks:
            new = hook(self.module, self.grad_outputs)
            if new is None:
                continue
            new = new if isinstance(new, tuple) else (new,)
            if len(new) != len(self.grad_outputs):
                raise AutogradError(f"Backward pre hook returned an invalid number of "
                                    f"grad_output, got {len(new)}, but expected "
                                    f"{len(self.grad_outputs)}")
            self.grad_outputs = new
        local = self.grad_outputs
        if self.input_index is None:  # no input needs a gradient: the hooks run now
            warnings.warn("Full backward hook is firing when gradients are computed with respect "
                          "to module outputs since no inputs require gradients.", stacklevel=5)
            grad_inputs = (None,) * self.n_inputs
            for hook in self.hooks:
                res = hook(self.module, grad_inputs, self.grad_outputs)
                if res is not None and not (isinstance(res, tuple) and
                                            all(r is None for r in res)):
                    raise AutogradError("Backward hook for Modules where no input requires "
                                        "gradient should always return None or None for all "
                                        "gradients.")
            self.grad_outputs = None
        return tuple(local[i] for i in self.output_index)

    def _on_input_grads(self, grads: tuple) -> tuple | None:
        if self.grad_outputs is None:  # reached the inputs without the outputs (double
            return None                # backward): nothing for the hooks
        res = self._pack(self.input_index, grads, self.n_inputs)
        for hook in self.hooks:
            out = hook(self.module, res, self.grad_outputs)
            if out is None:
                continue
            out = out if isinstance(out, tuple) else (out,)
            if len(out) != len(res):
                raise AutogradError(f"Backward hook returned an invalid number of grad_input, "
                                    f"got {len(out)}, but expected {len(res)}")
            res = out
        self.grad_outputs = None
        return tuple(res[i] for i in self.input_index)


# ---------------------------------------------------------------- the hooked call

def call(module, args: tuple, kwargs: dict) -> Any:
    """``module(*args, **kwargs)`` with its hooks and the global ones."""
    d = module.__dict__
    called: set[int] = set()
    result = None
    try:
        args, kwargs = _pre_hooks(module, d, args, kwargs)
        backward_hooks = [*_global_backward_hooks.values(), *d["_backward_hooks"].values()]
        backward_pre = [*_global_backward_pre_hooks.values(),
                        *d["_backward_pre_hooks"].values()]
        bw = BackwardHook(module, backward_hooks, backward_pre) \
            if backward_hooks or backward_pre else None
        if bw is not None:
            args = bw.setup_inputs(args)
        result = module.forward(*args, **kwargs)
        for hook_id, hook in (*_global_forward_hooks.items(), *d["_forward_hooks"].items()):
            if hook_id in d["_forward_hooks_always_called"] or \
                    hook_id in _global_forward_hooks_always_called:
                called.add(hook_id)
            result = _forward_hook(module, d, hook_id, hook, args, kwargs, result)
        return bw.setup_outputs(result) if bw is not None else result
    except Exception:
        _always_called(module, d, called, args, kwargs, result)
        raise


def _pre_hooks(module, d: dict, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    for hook_id, hook in (*_global_forward_pre_hooks.items(), *d["_forward_pre_hooks"].items()):
        if hook_id in d["_forward_pre_hooks_with_kwargs"]:
            res = hook(module, args, kwargs)
            if res is not None:
                if not (isinstance(res, tuple) and len(res) == 2):
                    raise AutogradError("forward pre-hook must return None or a tuple of "
                                        f"(new_args, new_kwargs), but got {res}.")
                args, kwargs = res
        else:
            res = hook(module, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
    return args, kwargs


def _forward_hook(module, d: dict, hook_id: int, hook: Callable, args, kwargs, result):
    if hook_id in d["_forward_hooks_with_kwargs"] or \
            hook_id in _global_forward_hooks_with_kwargs:
        res = hook(module, args, kwargs, result)
    else:
        res = hook(module, args, result)
    return result if res is None else res


def _always_called(module, d: dict, called: set, args, kwargs, result) -> None:
    """forward raised: the ``always_call`` forward hooks not run yet run now (their own
    errors are warnings: the first error is the one the caller sees)."""
    for hook_id, hook in (*_global_forward_hooks.items(), *d["_forward_hooks"].items()):
        if hook_id in called or not (hook_id in d["_forward_hooks_always_called"] or
                                     hook_id in _global_forward_hooks_always_called):
            continue
        try:
            result = _forward_hook(module, d, hook_id, hook, args, kwargs, result)
        except Exception as e:  # noqa: BLE001  (silenced: another error is being raised)
            warnings.warn("module forward hook with ``always_call=True`` raised an exception "
                          f"that was silenced as another error was raised in forward: {e}",
                          stacklevel=3)
