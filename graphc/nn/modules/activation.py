"""Activation modules: each is its ``nn.functional`` form with the arguments it was built with."""
from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from .module import Module


def _activation(name: str, fn, params: tuple = (), defaults: tuple = ()) -> type:
    """A module class calling ``fn(x, *params)``; its repr lists ``params`` as PyTorch's."""

    def __init__(self, *args, **kwargs) -> None:
        Module.__init__(self)
        values = dict(zip(params, defaults))
        values.update(zip(params, args))
        for k, v in kwargs.items():
            if k not in params and k != "inplace":
                raise TypeError(f"{name}.__init__() got an unexpected keyword argument '{k}'")
            values[k] = v
        for k in params:
            object.__setattr__(self, k, values[k])

    def forward(self, x: Tensor) -> Tensor:
        return fn(x, *[getattr(self, k) for k in params]) if params else fn(x)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={getattr(self, k)!r}" for k in params if k != "inplace")

    return type(name, (Module,), {"__init__": __init__, "forward": forward,
                                  "extra_repr": extra_repr, "__module__": __name__})


ReLU = _activation("ReLU", lambda x: F.relu(x))
ReLU6 = _activation("ReLU6", lambda x: F.relu6(x))
LeakyReLU = _activation("LeakyReLU", F.leaky_relu, ("negative_slope",), (0.01,))
ELU = _activation("ELU", F.elu, ("alpha",), (1.0,))
SELU = _activation("SELU", lambda x: F.selu(x))
CELU = _activation("CELU", F.celu, ("alpha",), (1.0,))
GELU = _activation("GELU", F.gelu, ("approximate",), ("none",))
SiLU = _activation("SiLU", lambda x: F.silu(x))
Mish = _activation("Mish", lambda x: F.mish(x))
Sigmoid = _activation("Sigmoid", lambda x: F.sigmoid(x))
Tanh = _activation("Tanh", lambda x: F.tanh(x))
Softplus = _activation("Softplus", F.softplus, ("beta", "threshold"), (1.0, 20.0))
Softsign = _activation("Softsign", lambda x: F.softsign(x))
Hardtanh = _activation("Hardtanh", F.hardtanh, ("min_val", "max_val"), (-1.0, 1.0))
Hardsigmoid = _activation("Hardsigmoid", lambda x: F.hardsigmoid(x))
Hardswish = _activation("Hardswish", lambda x: F.hardswish(x))
LogSigmoid = _activation("LogSigmoid", lambda x: F.logsigmoid(x))
Tanhshrink = _activation("Tanhshrink", lambda x: F.tanhshrink(x))
Softmax = _activation("Softmax", F.softmax, ("dim",), (None,))
LogSoftmax = _activation("LogSoftmax", F.log_softmax, ("dim",), (None,))
Softmin = _activation("Softmin", F.softmin, ("dim",), (None,))
GLU = _activation("GLU", F.glu, ("dim",), (-1,))

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
           "Sigmoid", "Tanh", "Softplus", "Softsign", "Hardtanh", "Hardsigmoid", "Hardswish",
           "LogSigmoid", "Tanhshrink", "Softmax", "LogSoftmax", "Softmin", "GLU"]
