"""Activation modules: each is its ``nn.functional`` form with the arguments it was built
with; and ``MultiheadAttention``, which PyTorch keeps here too."""
from __future__ import annotations

from ... import creation
from ...tensor import Tensor
from .. import functional as F
from .. import init
from .._attention import _mha
from .._errors import AttentionAssertion
from .layers import Linear, _factory
from .module import Module, Parameter


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
           "LogSigmoid", "Tanhshrink", "Softmax", "LogSoftmax", "Softmin", "GLU",
           "MultiheadAttention"]


# ---------------------------------------------------------------- multi-head attention

class NonDynamicallyQuantizableLinear(Linear):
    """MultiheadAttention's out_proj: a Linear under PyTorch's name (its repr shows it)."""


class MultiheadAttention(Module):
    """PyTorch's ``nn.MultiheadAttention``: its parameters (``in_proj_weight`` and
    ``in_proj_bias``, or ``q/k/v_proj_weight`` when ``kdim``/``vdim`` differ from
    ``embed_dim``; ``out_proj``; ``bias_k``/``bias_v``), initialization and forward.
    Returns ``(attn_output, attn_weights)``, the weights None unless ``need_weights``."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device=None,
                 dtype=None) -> None:
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        super().__init__()
        d = _factory(dtype)
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.batch_first, self.head_dim = batch_first, embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AttentionAssertion(f"embed_dim must be divisible by num_heads (got "
                                     f"embed_dim={embed_dim} and num_heads={num_heads})")
        names = ("q_proj_weight", "k_proj_weight", "v_proj_weight")
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(creation.empty(3 * embed_dim, embed_dim, dtype=d))
            for name in names:
                self.register_parameter(name, None)
        else:
            for name, cols in zip(names, (embed_dim, self.kdim, self.vdim)):
                setattr(self, name, Parameter(creation.empty(embed_dim, cols, dtype=d)))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(creation.empty(3 * embed_dim, dtype=d))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias,
                                                        dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(creation.empty(1, 1, embed_dim, dtype=d))
            self.bias_v = Parameter(creation.empty(1, 1, embed_dim, dtype=d))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's: xavier_uniform_ projections, zero biases, xavier_normal_ bias_k/v."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        for b in (self.bias_k, self.bias_v):
            if b is not None:
                init.xavier_normal_(b)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        w = {name: getattr(self, name) for name in (
            "in_proj_weight", "in_proj_bias", "q_proj_weight", "k_proj_weight",
            "v_proj_weight", "bias_k", "bias_v")}
        w["out_proj_weight"], w["out_proj_bias"] = self.out_proj.weight, self.out_proj.bias
        return _mha(query, key, value, self.num_heads, w, embed_dim=self.embed_dim,
                    add_zero_attn=self.add_zero_attn, dropout_p=self.dropout,
                    training=self.training, key_padding_mask=key_padding_mask,
                    need_weights=need_weights, attn_mask=attn_mask,
                    average_attn_weights=average_attn_weights, is_causal=is_causal,
                    batch_first=self.batch_first, who=self._describe())

    def _describe(self) -> str:
        return (f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads}"
                f"{', batch_first=True' if self.batch_first else ''})")
