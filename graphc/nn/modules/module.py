"""``Module`` and ``Parameter``: PyTorch's registration of parameters, buffers and submodules.

Attribute assignment registers a ``Parameter``, a ``Module`` or (through ``register_buffer``)
a buffer; ``state_dict`` keys and their order are PyTorch's: a module's own parameters,
then its persistent buffers, then each child's, depth first.
"""
from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator

from ...autograd import no_grad
from ...ir import dtypes as dt
from ...ir.core import make_leaf
from ...ir.errors import ArgumentError
from ...tensor import Tensor, _new, cuda_device
from ...utils.hooks import RemovableHandle
from . import hooks as _hooks
from .hooks import (
    _global_backward_hooks,
    _global_backward_pre_hooks,
    _global_forward_hooks,
    _global_forward_pre_hooks,
    register_module_forward_hook,  # noqa: F401  (torch.nn.modules.module's)
    register_module_forward_pre_hook,  # noqa: F401
    register_module_full_backward_hook,  # noqa: F401
    register_module_full_backward_pre_hook,  # noqa: F401
)

_HOOK_TABLES = ("_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_forward_hooks",
                "_forward_hooks_with_kwargs", "_forward_hooks_always_called", "_backward_hooks",
                "_backward_pre_hooks")


class Parameter(Tensor):
    """A tensor that a ``Module`` registers as a parameter (``requires_grad`` by default).
    It shares memory and version counter with ``data``."""

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Parameter:
        if data is None:
            from ...creation import empty
            data = empty(0)
        if not isinstance(data, Tensor):
            raise ArgumentError(f"Parameter(): expected a Tensor, got {type(data).__name__}")
        src = data._value("make a Parameter of")
        p = _new(cls)
        leaf = make_leaf(data._node.shape, data._node.dtype, src)
        leaf.vbox, leaf.ver = data._node.vbox, data._node.ver
        p._node = leaf
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        pass  # all done in __new__ (Tensor.__init__ is the legacy constructor)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, proto):  # copy.deepcopy(model) keeps parameters Parameters
        from ...creation import tensor
        return (Parameter, (tensor(self.detach().numpy(), dtype=self.dtype), self.requires_grad))


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _addindent(s: str, spaces: int) -> str:
    lines = s.split("\n")
    return lines[0] if len(lines) == 1 else \
        "\n".join([lines[0]] + [" " * spaces + line for line in lines[1:]])


class Module:
    """Base class of every layer and model (PyTorch's ``nn.Module``)."""

    training: bool
    _version = 1

    def __init__(self, *args, **kwargs) -> None:
        if args or kwargs:
            raise ArgumentError(f"{type(self).__name__}.__init__() got unexpected arguments")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers"] = set()
        d["_modules"] = {}
        for table in _HOOK_TABLES:
            d[table] = OrderedDict()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  '"forward" function')

    def __call__(self, *args, **kwargs):
        d = self.__dict__
        if d["_forward_pre_hooks"] or d["_forward_hooks"] or d["_backward_hooks"] or \
                d["_backward_pre_hooks"] or _global_forward_pre_hooks or _global_forward_hooks \
                or _global_backward_hooks or _global_backward_pre_hooks:
            return _hooks.call(self, args, kwargs)
        return self.forward(*args, **kwargs)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        for table in _HOOK_TABLES:  # pickled by a version without hooks
            self.__dict__.setdefault(table, OrderedDict())

    # ---- hooks (see hooks.py)
    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args) -> None or new args`` (``with_kwargs``: ``hook(module, args,
        kwargs) -> None or (args, kwargs)``), called before ``forward``."""
        return _hooks.add_hook(self._forward_pre_hooks, hook, prepend,
                               ((self._forward_pre_hooks_with_kwargs, with_kwargs),))

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False,
                              with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """``hook(module, args, output) -> None or new output`` (``with_kwargs``: ``hook(module,
        args, kwargs, output)``), called after ``forward`` (``always_call``: even if it
        raised)."""
        return _hooks.add_hook(self._forward_hooks, hook, prepend,
                               ((self._forward_hooks_with_kwargs, with_kwargs),
                                (self._forward_hooks_always_called, always_call)))

    def register_full_backward_pre_hook(self, hook: Callable,
                                        prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_output) -> None or new grad_output``, called when the
        gradients of the module's outputs are known."""
        return _hooks.add_hook(self._backward_pre_hooks, hook, prepend)

    def register_full_backward_hook(self, hook: Callable,
                                    prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output) -> None or new grad_input``, called when
        the gradients of the module's inputs are known."""
        return _hooks.add_hook(self._backward_hooks, hook, prepend)

    # ---- registration
    def _state(self) -> dict:
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(f"cannot assign to {type(self).__name__} before "
                                 "Module.__init__() call")
        return d

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        d = self._state()
        _check_name(self, name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter "
                            f"'{name}' (graphc.nn.Parameter or None required)")
        d.pop(name, None)
        d["_parameters"][name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        d = self._state()
        _check_name(self, name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer "
                            f"'{name}' (graphc Tensor or None required)")
        d.pop(name, None)
        d["_buffers"][name] = tensor
        (d["_non_persistent_buffers"].discard if persistent
         else d["_non_persistent_buffers"].add)(name)

    def add_module(self, name: str, module: Module | None) -> None:
        d = self._state()
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        _check_name(self, name, "module", allow_dots=False)
        d.pop(name, None)
        d["_modules"][name] = module

    register_module = add_module

    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            self._state()
            _forget(d, name)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(graphc.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            self._state()
            _forget(d, name)
            d["_modules"][name] = value
        elif params is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                f"'{name}' (graphc.nn.Module or None expected)")
            d["_modules"][name] = None
        elif params is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(graphc Tensor or None expected)")
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        d = self.__dict__
        for kind in ("_parameters", "_buffers", "_modules"):
            table = d.get(kind)
            if table is not None and name in table:
                return table[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        for kind in ("_parameters", "_buffers", "_modules"):
            if name in d.get(kind, ()):
                del d[kind][name]
                d["_non_persistent_buffers"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) |
                      set(self._modules))

    # ---- traversal
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                           remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, kind: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for mprefix, m in mods:
            for name, v in m.__dict__[kind].items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield (f"{mprefix}.{name}" if mprefix else name), v

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        m = self
        for part in target.split(".") if target else ():
            if part not in m._modules:
                raise AttributeError(f"{type(m).__name__} has no attribute `{part}`")
            m = m._modules[part]
        return m

    def get_parameter(self, target: str) -> Parameter:
        mod, _, name = target.rpartition(".")
        m = self.get_submodule(mod)
        if name not in m._parameters:
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return m._parameters[name]

    # ---- state
    def state_dict(self, *args, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict:
        out = OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                out[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=out, prefix=f"{prefix}{name}.", keep_vars=keep_vars)
        return out

    def load_state_dict(self, state_dict, strict: bool = True,
                        assign: bool = False) -> _IncompatibleKeys:
        """Copy values in place (``assign=True`` takes the given tensors instead). Missing or
        unexpected keys raise when ``strict``, else are reported; a shape mismatch always
        raises, as in PyTorch."""
        if not hasattr(state_dict, "items"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing, mismatched, used = [], [], set()
        for mprefix, m in self.named_modules():
            own = itertools.chain(
                ((n, v, "_parameters") for n, v in m._parameters.items()),
                ((n, v, "_buffers") for n, v in m._buffers.items()
                 if n not in m._non_persistent_buffers))
            for name, cur, kind in own:
                if cur is None:
                    continue
                key = f"{mprefix}.{name}" if mprefix else name
                if key not in state_dict:
                    missing.append(key)
                    continue
                used.add(key)
                src = state_dict[key]
                if not isinstance(src, Tensor):
                    from ...creation import as_tensor
                    try:  # numpy arrays and numbers are taken, as values
                        src = as_tensor(src)
                    except Exception:  # noqa: BLE001
                        mismatched.append(f'While copying the parameter named "{key}", expected '
                                          f"a Tensor or array from the checkpoint but received "
                                          f"{type(src)}")
                        continue
                if tuple(src.shape) != tuple(cur.shape):
                    mismatched.append(
                        f"size mismatch for {key}: copying a param with shape {src.shape} from "
                        f"checkpoint, the shape in current model is {cur.shape}.")
                    continue
                if assign:
                    if kind == "_parameters" and not isinstance(src, Parameter):
                        src = Parameter(src, requires_grad=cur.requires_grad)
                    m.__dict__[kind][name] = src
                else:
                    with no_grad():
                        cur.copy_(src)
        unexpected = [k for k in state_dict if k not in used]
        errors = list(mismatched)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " +
                              ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " +
                              ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" +
                               "\n\t".join(errors))
        return _IncompatibleKeys(missing, unexpected)

    # ---- modes, gradients, conversion
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none:  # without reading .grad: a compiled step need not depend on it
                p.grad = None
            elif p.grad is not None:
                with no_grad():
                    p.grad = p.grad.detach().zero_()

    def apply(self, fn: Callable[[Module], None]) -> Module:
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply(self, fn: Callable[[Tensor], Tensor]) -> Module:
        """Convert every parameter (in place: the Parameter objects stay, as in PyTorch),
        its gradient and every buffer with ``fn``."""
        for m in self.modules():
            for p in m._parameters.values():
                if p is None:
                    continue
                new = fn(p.detach())
                if new._node.value is not p._node.value:  # converted: new memory
                    p.data = new
                    if p._grad is not None:
                        p._grad = fn(p._grad)
            for name, b in m._buffers.items():
                if b is not None:
                    m._buffers[name] = fn(b)
        return self

    def to(self, *args, **kwargs) -> Module:
        dtype, dev = kwargs.get("dtype"), kwargs.get("device")
        for a in args:
            if isinstance(a, dt.DType):
                dtype = a
            elif isinstance(a, Tensor):
                dtype, dev = a.dtype, a.device
            else:
                dev = a
        if dtype is not None and dtype.kind != dt.FLOAT:
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got "
                            f"desired dtype={dtype}")

        def convert(t: Tensor) -> Tensor:
            if dev is not None:
                t = t.to(dev)
            if dtype is not None and t.is_floating_point():
                t = t.to(dtype)
            return t
        return self._apply(convert)

    def float(self) -> Module:
        return self.to(dt.float32)

    def double(self) -> Module:
        return self.to(dt.float64)

    def half(self) -> Module:
        return self.to(dt.float16)

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device=None) -> Module:
        return self.to(cuda_device(device))

    # ---- printing
    def extra_repr(self) -> str:
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        lines = self.extra_repr().split("\n") if self.extra_repr() else []
        lines += [f"({name}): " + _addindent(repr(m), 2) for name, m in self._modules.items()]
        if not lines:
            return f"{self._get_name()}()"
        if len(lines) == 1 and not self._modules:
            return f"{self._get_name()}({lines[0]})"
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


def _check_name(m: Module, name: str, what: str, allow_dots: bool = False) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{what} name should be a string. Got {type(name).__name__}")
    if name == "":
        raise KeyError(f'{what} name can\'t be empty string ""')
    if "." in name and not allow_dots:
        raise KeyError(f'{what} name can\'t contain ".", got: {name}')
    if hasattr(type(m), name) and not isinstance(getattr(type(m), name, None), property):
        raise KeyError(f"attribute '{name}' already exists")


def _forget(d: dict, name: str) -> None:
    """Drop ``name`` from wherever it was registered, before it is registered anew."""
    d.pop(name, None)
    for kind in ("_parameters", "_buffers", "_modules"):
        d[kind].pop(name, None)
    d["_non_persistent_buffers"].discard(name)
