"""The Optimizer base class: param groups, per-parameter state and state dicts, as PyTorch's.

``step()`` also runs inside ``@graphc.compile``, traced once and replayed natively on every
call. Two things make that work:

* state tensors (momentum buffers, moments, step counts) are always concrete, even when a
  traced step creates them (:func:`concrete`), so the compiled program captures them and
  writes their updates back after each call;
* numeric hyperparameters are mirrored into 0-d float64 tensors that a traced step reads
  (:class:`ParamGroup`); setting ``group['lr']`` writes into their memory, so a compiled
  step uses the current learning rate at every call. Eager steps read the Python numbers.

Choices that change which ops a step runs (momentum on or off, nesterov, amsgrad, ...)
are fixed when a step is traced; changing one afterwards warns.
"""
from __future__ import annotations

import copy
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..autograd import enable_grad, no_grad
from ..creation import tensor
from ..ir import dtypes as dt
from ..ir import ops as P
from ..ir.core import EMPTY, _state, make_leaf, use_handler
from ..ir.reference import _call
from ..runtime.eager import EAGER
from ..tensor import Tensor


class _RequiredParameter:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def tracing() -> bool:
    """Whether ops are being traced by ``@graphc.compile`` (values are symbolic)."""
    return _state.handler.traces


def concrete(make: Callable[[], Tensor]) -> Tensor:
    """``make()`` run eagerly, even inside a trace: optimizer state must hold real memory
    for a compiled step to capture and write back to."""
    if not _state.handler.traces:
        with no_grad():
            return make()
    with use_handler(EAGER), no_grad():
        return make()


def sub_scaled_(p: Tensor, g: Tensor, lr: Any) -> None:
    """``p.sub_(g * lr)``, the update of SGD. Eagerly, on numpy arrays of one dtype and a
    Python number, it runs the two ops' numpy code without their nodes and shape rules (an
    eager step pays per op): the same bits, and ``_assign``'s bookkeeping."""
    pv, gv = p._node.value, g._node.value
    if type(pv) is np.ndarray and type(gv) is np.ndarray and pv.dtype == gv.dtype and \
            type(lr) in (int, float):
        d = p._node.dtype  # (no input casts: one dtype)
        new = _call(P.SUB, EMPTY, [pv, _call(P.MUL, EMPTY, [gv, lr], d.np)], d.np)
        p._assign(make_leaf(p._node.shape, d, new), "sub_")
    else:  # traced (values are symbolic), on a GPU, or mixed dtypes
        p.sub_(g * lr)


def decayed(g: Tensor, p: Tensor, weight_decay: Any) -> Tensor:
    """``g + weight_decay * p`` in ``g``'s dtype. Traced, a hyperparameter is a float64 0-d
    tensor, which would promote the gradient of a 0-d float32 parameter to float64 (eager
    multiplies by a Python float); then lerp_ refuses it, as PyTorch's does."""
    return (g + p * weight_decay).type(g.dtype)


def _scalar(value: Any) -> float:
    if isinstance(value, Tensor):
        return float(value.item())
    return float(value)


class ParamGroup(dict):
    """A parameter group: a plain dict to its users, plus 0-d float64 tensors mirroring the
    hyperparameters an optimizer reads in its update rule (``lr``, ``betas``, ...).

    The tensors are made the first time a traced step asks for them; setting an item
    afterwards writes the new number into their memory (the same storage, so a compiled
    program that captured them reads it at its next call)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._tensors: dict[str, Any] = {}  # key -> 0-d tensor, or tuple of them (betas)
        self._baked: dict[str, bool] = {}   # key -> truth value a traced step branched on

    def __setitem__(self, key: str, value: Any) -> None:
        dict.__setitem__(self, key, value)
        mirror = self.__dict__.get("_tensors", {}).get(key)
        if mirror is not None:
            if isinstance(mirror, tuple):
                for t, v in zip(mirror, value, strict=True):
                    t._node.value[()] = _scalar(v)
            else:
                mirror._node.value[()] = _scalar(value)
        baked = self.__dict__.get("_baked", {}).get(key)
        if baked is not None and bool(value) != baked:
            warnings.warn(f"optimizer param group {key!r} changed to {value!r} after a step "
                          f"was traced by @graphc.compile with {key} "
                          f"{'on' if baked else 'off'}: compiled functions already traced "
                          "keep the old behaviour; compile the training step anew",
                          stacklevel=2)

    def update(self, *args, **kwargs) -> None:
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def values_of(self, *keys: str) -> list[Any]:
        """The hyperparameters ``keys`` as an update rule reads them: Python numbers in
        eager mode, the mirroring 0-d tensors while tracing."""
        if not _state.handler.traces:
            return [self[k] for k in keys]
        return [self._tensor(k) for k in keys]

    def flag(self, key: str) -> bool:
        """``bool(self[key])`` for a choice that changes which ops a step runs; a traced step
        remembers it, so that changing it later warns."""
        on = bool(self[key])
        if _state.handler.traces:
            self._baked[key] = on
        return on

    def _tensor(self, key: str) -> Any:
        t = self._tensors.get(key)
        if t is None:
            value = self[key]
            if isinstance(value, (tuple, list)):
                t = tuple(concrete(lambda v=v: tensor(_scalar(v), dtype=dt.float64))
                          for v in value)
            else:
                t = concrete(lambda: tensor(_scalar(value), dtype=dt.float64))
            self._tensors[key] = t
        return t


# ---------------------------------------------------------------- the base class

class Optimizer:
    """Base class of all optimizers: ``param_groups``, ``state``, ``zero_grad``,
    ``state_dict`` and ``load_state_dict``; subclasses define ``step``."""

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {type(params).__name__}")
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[ParamGroup] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        group = ParamGroup(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        params = list(params)
        if params and all(isinstance(p, tuple) for p in params):  # named parameters
            group["param_names"] = [name for name, _ in params]
            params = [p for _, p in params]
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        if len(params) != len({id(p) for p in params}):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error", stacklevel=3)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        if self.__dict__.get("_traced"):
            warnings.warn("add_param_group() after a step was traced by @graphc.compile: "
                          "compiled functions already traced do not update the new group; "
                          "compile the training step anew", stacklevel=2)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:  # without reading .grad: a compiled step need not depend on it
                    p.grad = None
                    continue
                g = p.grad
                if g is None:
                    continue
                if g.grad_fn is not None:
                    g.detach_()
                else:
                    g.requires_grad_(False)
                g.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        raise NotImplementedError

    def _groups(self) -> list[ParamGroup]:
        """The groups a step updates; a traced step notes that it has seen them."""
        if _state.handler.traces:
            self._traced = True
        return self.param_groups

    def _closure_loss(self, closure: Callable[[], Any] | None) -> Any:
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ---- state dicts, in PyTorch's layout
    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``;
        state tensors are the optimizer's own (as in PyTorch), not copies."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)] if isinstance(p, Tensor) else p:
                 {k: v for k, v in s.items() if not k.startswith("_")}
                 for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load hyperparameters and state. Values are copied: into the optimizer's existing
        state tensors where shapes and dtypes match (so a compiled step that captured them
        keeps working), otherwise into new tensors."""
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"])
               for g, s in zip(self.param_groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        params = {i: p for s, g in zip(saved_groups, self.param_groups)
                  for i, p in zip(s["params"], g["params"])}
        state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for k, saved in state_dict["state"].items():
            p = params.get(k)
            if p is None:
                state[k] = saved
                continue
            old = self.state.get(p, {})
            new = {key: _load_value(p, key, v, old.get(key)) for key, v in saved.items()}
            new.update({key: v for key, v in old.items() if key.startswith("_")})
            self._after_load(p, new)
            state[p] = new
        self.state = state
        for group, saved in zip(self.param_groups, saved_groups):
            for key in [k for k in group if k not in saved and k not in ("params",
                                                                         "param_names")]:
                del group[key]
            for key, v in saved.items():
                if key != "params":
                    group[key] = v

    def _after_load(self, p: Tensor, state: dict[str, Any]) -> None:
        """Fix hidden per-parameter state after loading (subclasses)."""


def _load_value(p: Tensor, key: str, value: Any, old: Any) -> Any:
    if not isinstance(value, Tensor):
        return copy.deepcopy(value)
    dtype = value.dtype if key == "step" or not p.is_floating_point() else p.dtype
    if isinstance(old, Tensor) and old.shape == value.shape and old.dtype is dtype:
        with no_grad():
            old.copy_(value)
        return old
    return concrete(lambda: value.detach().to(dtype).clone())
