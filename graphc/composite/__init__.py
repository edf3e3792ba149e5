"""Composite operations: PyTorch's functions written with the primitives.

Nothing here has gradient code: autodiff differentiates the primitives each
composite expands to. Each function is also attached as a Tensor method
(below) where PyTorch has one.
"""
from __future__ import annotations

from ..tensor import Tensor, _t
from ._util import _label  # noqa: F401
from .elementwise import *  # noqa: F403
from .elementwise import (  # noqa: A004
    abs,
    clamp,
    div,
    exp,
    floor_divide,
    lerp,
    mul,
    relu,
    remainder,
    sigmoid,
    sqrt,
    sub,
    tanh,
)
from .linalg import *  # noqa: F403
from .reduce import *  # noqa: F403
from .shape import *  # noqa: F403
from .shape import permute, transpose
from .sorting import *  # noqa: F403

# ---------------------------------------------------------------- Tensor methods

_METHODS = """
exp log sin cos sqrt tanh sign reciprocal logical_not floor ceil trunc frac round exp2 expm1
log2 log10 log1p erf erfc rsqrt square tan sigmoid relu maximum minimum clamp clip where lerp isnan
isinf isfinite isclose allclose equal eq ne lt le gt ge greater greater_equal less less_equal
not_equal logical_and logical_or logical_xor sum mean amax amin max min argmax argmin prod var
std norm logsumexp softmax log_softmax all any count_nonzero cumsum matmul mm bmm dot outer
reshape view view_as reshape_as permute transpose swapaxes swapdims t movedim squeeze
unsqueeze flatten unflatten expand expand_as broadcast_to repeat tile narrow split chunk
unbind tril triu diagonal diag trace flip gather scatter_add scatter_add_ index_select take
sort argsort topk kthvalue median msort masked_fill masked_fill_ clamp_ nonzero add sub mul div
floor_divide remainder pow neg abs
""".split()
for _name in _METHODS:
    if not hasattr(Tensor, _name) or _name in ("abs", "pow", "neg"):
        setattr(Tensor, _name, globals()[_name])
Tensor.true_divide = div
Tensor.multiply = mul
Tensor.subtract = sub
Tensor.absolute = abs
Tensor.__floordiv__ = floor_divide
Tensor.__rfloordiv__ = lambda self, other: floor_divide(other, self)
Tensor.__mod__ = remainder
Tensor.__rmod__ = lambda self, other: remainder(other, self)
Tensor.T = property(lambda self: permute(self, tuple(reversed(range(self.ndim)))))
Tensor.mT = property(lambda self: transpose(self, -2, -1))
Tensor.clamp_min = lambda self, m: clamp(self, min=m)
Tensor.clamp_max = lambda self, m: clamp(self, max=m)
Tensor.sigmoid_ = lambda self: self._assign(sigmoid(self)._node, "sigmoid_")
Tensor.relu_ = lambda self: self._assign(relu(self)._node, "relu_")
Tensor.exp_ = lambda self: self._assign(exp(self)._node, "exp_")
Tensor.sqrt_ = lambda self: self._assign(sqrt(self)._node, "sqrt_")
Tensor.abs_ = lambda self: self._assign(abs(self)._node, "abs_")
Tensor.tanh_ = lambda self: self._assign(tanh(self)._node, "tanh_")
Tensor.addcmul_ = lambda self, a, b, value=1: self.add_(_t(a) * b * value)
Tensor.addcdiv_ = lambda self, a, b, value=1: self.add_(_t(a) / b * value)
Tensor.lerp_ = lambda self, end, weight: self._assign(lerp(self, end, weight)._node, "lerp_")
Tensor.__abs__ = abs
