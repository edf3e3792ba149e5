"""graphc: a deep-learning framework with one IR underneath eager mode, autodiff and compilation.

PyTorch code ports by changing the import: ``import graphc as torch``.
"""
from __future__ import annotations

from . import composite as _composite
from . import indexing as _indexing  # noqa: F401  (installs Tensor.__getitem__/__setitem__)
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .autograd import grad_transform as grad
from .autograd import value_and_grad
from .creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like,
                       linspace, ones, ones_like, tensor, zeros, zeros_like)
from .compiler import CompileError, compile
from .runtime.cpu import get_num_threads, set_num_threads
from .debug import dump_ir, to_dot
from .ir import dtypes as _dtypes
from .ir.dtypes import (DType, bool_, float16, float32, float64, get_default_dtype, int8, int16,
                        int32, int64, promote_types, set_default_dtype, uint8)
from .ir.errors import GraphcError
from .random import (Generator, bernoulli, default_generator, get_rng_state, initial_seed,
                     manual_seed, multinomial, normal, rand, rand_like, randint, randint_like,
                     randn, randn_like, randperm, seed, set_rng_state)
from .tensor import Size, Tensor, device
from . import autograd, cuda, nn  # noqa: I001  (after the names they import from us)
from . import utils  # noqa: I001
from .serialization import load, save  # noqa: I001
from . import optim  # noqa: I001

dtype = DType
bool = bool_  # noqa: A001  (graphc.bool, as torch.bool)
half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001

# the composite operations as functions: graphc.softmax(x, 1), graphc.cat([a, b]), ...
_FUNCTIONS = _composite._METHODS + """
floor_divide remainder add sub mul div pow neg abs einsum cat concat concatenate stack hstack
vstack broadcast_tensors one_hot nonzero detach clone numel var_mean std_mean
""".split()
globals().update({name: getattr(_composite, name) for name in _FUNCTIONS})
multiply, subtract, true_divide, absolute = (_composite.mul, _composite.sub, _composite.div,
                                             _composite.abs)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def is_floating_point(t: Tensor) -> bool:
    return t.is_floating_point()


def result_type(a, b) -> DType:
    from .tensor import _n
    return _dtypes.result_type([_n(a), _n(b)])


__version__ = "0.1.0"
