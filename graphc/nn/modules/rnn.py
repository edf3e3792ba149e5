"""Recurrent layers: ``RNN`` (tanh or relu), ``LSTM``, ``GRU`` and their cells, as PyTorch's.

Parameters, their names and order (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``,
``bias_hh_l0``, ``weight_hr_l0`` with ``proj_size``, then ``..._reverse``, then the next
layer), initialization (uniform in +-1/sqrt(hidden_size)), argument checks, input forms
(batched, unbatched, ``PackedSequence``) and return values are PyTorch's; the recurrence
itself is ``nn._rnn``, written with graphc ops.
"""
from __future__ import annotations

import math
import numbers
import warnings

from ... import creation
from ...ir import dtypes as dt
from ...ir.errors import ArgumentError, DTypeError, ShapeError, ValueArgumentError
from ...tensor import Tensor
from .. import _rnn, init
from .._errors import InvalidArgument
from ..functional import linear
from ..utils.rnn import PackedSequence, packed_like, packed_sizes
from .module import Module, Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


def _factory(dtype) -> dt.DType:
    return dt.get_default_dtype() if dtype is None else dtype


def _check_dtype(layer: Module, x: Tensor, what: str, error: type = DTypeError) -> None:
    want = layer.weight_ih_l0.dtype if isinstance(layer, RNNBase) else layer.weight_ih.dtype
    if x.dtype is not want:
        raise error(f"{layer!r}: {what} dtype ({x.dtype}) does not match weight dtype ({want})"
                    f". Convert {what}: {what}.to({want}), or convert model: "
                    f"model.to({x.dtype})")


class RNNBase(Module):
    """What RNN, LSTM and GRU share: parameters, checks, input forms. ``mode`` is
    ``'RNN_TANH'``, ``'RNN_RELU'``, ``'LSTM'`` or ``'GRU'``."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__()
        _check_options(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                       proj_size)
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size
        gates = _rnn.GATES[mode] * hidden_size
        out = proj_size or hidden_size
        d = _factory(dtype)
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            for suffix in ("", "_reverse") if bidirectional else ("",):
                layer_in = input_size if layer == 0 else out * (2 if bidirectional else 1)
                shapes = {"weight_ih": (gates, layer_in), "weight_hh": (gates, out)}
                if bias:
                    shapes.update(bias_ih=(gates,), bias_hh=(gates,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                names = []
                for kind, shape in shapes.items():
                    name = f"{kind}_l{layer}{suffix}"
                    setattr(self, name, Parameter(creation.empty(*shape, dtype=d)))
                    names.append(name)
                self._flat_weights_names += names
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """A no-op, as PyTorch's is off cuDNN: parameters are separate tensors here."""

    @property
    def _flat_weights(self) -> list[Parameter | None]:
        return [getattr(self, name, None) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ---- forward
    def _weights(self) -> list[tuple]:
        out = []
        for layer in range(self.num_layers):
            for suffix in ("", "_reverse") if self.bidirectional else ("",):
                out.append(tuple(getattr(self, f"{kind}_l{layer}{suffix}", None) for kind in
                                 ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")))
        return out

    def _state_sizes(self) -> tuple[int, ...]:
        out = self.proj_size or self.hidden_size
        return (out, self.hidden_size) if self.mode == "LSTM" else (out,)

    def _forward(self, input, hx):
        """``(output, states)`` with states a tuple (h_n,) or (h_n, c_n)."""
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        if not isinstance(input, Tensor):
            raise ArgumentError(f"{self!r}: expected a Tensor or a PackedSequence as input, "
                                f"got {type(input).__name__}")
        name = "RNN" if self.mode.startswith("RNN") else self.mode
        if input.ndim not in (2, 3):
            raise ValueArgumentError(f"{self!r}: {name}: Expected input to be 2D or 3D, got "
                                     f"{input.ndim}D instead (input of shape "
                                     f"{list(input.shape)})")
        batched = input.ndim == 3
        batch_dim = 0 if self.batch_first else 1
        x = input if batched else input.unsqueeze(batch_dim)
        if hx is not None:
            hx = self._check_state_ranks(hx, batched)
            if not batched:
                hx = tuple(h.unsqueeze(1) for h in hx)
        if self.batch_first:
            x = x.transpose(0, 1)
        steps, batch = x.shape[0], x.shape[1]
        self._check_input(x, 3, input)
        if steps == 0:
            raise ShapeError(f"{self!r}: Expected sequence length to be larger than 0 in RNN "
                             f"(input of shape {list(input.shape)})")
        if hx is not None:
            self._check_states(hx, batch, input)
        out2d, states = self._run(x.reshape(steps * batch, self.input_size), [batch] * steps,
                                  hx)
        out = out2d.reshape(steps, batch, out2d.shape[1])
        if self.batch_first:
            out = out.transpose(0, 1)
        if not batched:
            return out.squeeze(batch_dim), tuple(s.squeeze(1) for s in states)
        return out, states

    def _forward_packed(self, packed: PackedSequence, hx):
        data, sizes = packed.data, packed_sizes(packed)
        self._check_input(data, 2, data)
        if hx is not None:
            hx = self._check_state_ranks(hx, True)
            if packed.sorted_indices is not None:
                hx = tuple(h.index_select(1, packed.sorted_indices) for h in hx)
            self._check_states(hx, sizes[0], data)
        out, states = self._run(data, sizes, hx)
        if packed.unsorted_indices is not None:
            states = tuple(s.index_select(1, packed.unsorted_indices) for s in states)
        return packed_like(packed, out), states

    def _run(self, x2d: Tensor, sizes: list[int], hx):
        return _rnn.rnn(self.mode, x2d, sizes, hx, self._weights(), self.num_layers,
                        self.bidirectional, self.hidden_size, self.proj_size or self.hidden_size,
                        self.dropout, self.training)

    def _check_input(self, x: Tensor, rank: int, shown: Tensor) -> None:
        _check_dtype(self, x, "input", ValueArgumentError)
        if x.ndim != rank:  # packed data
            raise ShapeError(f"{self!r}: input must have {rank} dimensions, got {x.ndim} "
                             f"(input of shape {list(shown.shape)})")
        if x.shape[-1] != self.input_size:
            raise ShapeError(f"{self!r}: input.size(-1) must be equal to input_size. Expected "
                             f"{self.input_size}, got {x.shape[-1]} (input of shape "
                             f"{list(shown.shape)})")

    def _check_state_ranks(self, hx, batched: bool) -> tuple[Tensor, ...]:
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2 or \
                    not all(isinstance(h, Tensor) for h in hx):
                raise ArgumentError(f"{self!r}: hx must be a tuple (h_0, c_0) of two tensors, "
                                    f"got {type(hx).__name__}")
            hx = tuple(hx)
        elif not isinstance(hx, Tensor):
            raise ArgumentError(f"{self!r}: hx must be a Tensor, got {type(hx).__name__}")
        else:
            hx = (hx,)
        rank = 3 if batched else 2
        if any(h.ndim != rank for h in hx):
            kind = "batched 3-D" if batched else "unbatched 2-D"
            what = "hx and cx" if len(hx) == 2 else "hx"
            got = ", ".join(f"{h.ndim}-D" for h in hx)
            raise ShapeError(f"{self!r}: For {kind} input, {what} should also be {rank}-D but "
                             f"got ({got}) tensors of shape "
                             f"{', '.join(str(list(h.shape)) for h in hx)}")
        return hx

    def _check_states(self, hx: tuple[Tensor, ...], batch: int, shown: Tensor) -> None:
        layers = self.num_layers * (2 if self.bidirectional else 1)
        for i, (h, size) in enumerate(zip(hx, self._state_sizes())):
            want = (layers, batch, size)
            what = f"hidden[{i}]" if len(hx) == 2 else "hidden"
            if tuple(h.shape) != want:
                raise ShapeError(f"{self!r}: Expected {what} size {want}, got {list(h.shape)} "
                                 f"(input of shape {list(shown.shape)})")
            _check_dtype(self, h, what)


def _check_options(mode: str, input_size, hidden_size, num_layers, bias, batch_first,
                   dropout, proj_size) -> None:
    """PyTorch's checks of the constructor's arguments, with its exception types."""
    if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or \
            not 0 <= dropout <= 1:
        raise ValueError("dropout should be a number in range [0, 1] representing the "
                         "probability of an element being zeroed")
    if dropout > 0 and num_layers == 1:
        warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                      "non-zero dropout expects num_layers greater than 1, but got "
                      f"dropout={dropout} and num_layers={num_layers}", stacklevel=4)
    for name, value, kind in (("bias", bias, bool), ("batch_first", batch_first, bool),
                              ("input_size", input_size, int),
                              ("hidden_size", hidden_size, int)):
        if not isinstance(value, kind):
            raise TypeError(f"{name} should be of type {kind.__name__}, got: "
                            f"{type(value).__name__}")
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                        ("num_layers", num_layers)):
        if value <= 0:
            raise ValueError(f"{name} must be greater than zero")
    if proj_size < 0:
        raise ValueError("proj_size should be a positive integer or zero to disable "
                         "projections")
    if proj_size >= hidden_size:
        raise ValueError("proj_size has to be smaller than hidden_size")
    if mode not in _rnn.GATES:
        raise ValueError("Unrecognized RNN mode: " + mode)


def _no_proj(kwargs: dict) -> None:
    if "proj_size" in kwargs:
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")


class RNN(RNNBase):
    """``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None)``:
    h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh). Returns (output, h_n)."""

    def __init__(self, *args, **kwargs) -> None:
        _no_proj(kwargs)
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        modes = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}
        if self.nonlinearity not in modes:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' "
                             "or 'relu'.")
        super().__init__(modes[self.nonlinearity], *args, **kwargs)

    def forward(self, input, hx: Tensor | None = None):
        out, (h,) = self._forward(input, hx)
        return out, h


class LSTM(RNNBase):
    """``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None)``: gates
    i, f, g, o in that order. Returns (output, (h_n, c_n))."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__("LSTM", *args, **kwargs)

    def forward(self, input, hx: tuple[Tensor, Tensor] | None = None):
        out, (h, c) = self._forward(input, hx)
        return out, (h, c)


class GRU(RNNBase):
    """``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, device=None, dtype=None)``: gates r, z, n, the reset
    gate applied to (W_hn h + b_hn). Returns (output, h_n)."""

    def __init__(self, *args, **kwargs) -> None:
        _no_proj(kwargs)
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input, hx: Tensor | None = None):
        out, (h,) = self._forward(input, hx)
        return out, h


# ---------------------------------------------------------------- cells

class RNNCellBase(Module):
    """What the cells share: ``weight_ih`` (gates, input_size), ``weight_hh`` (gates,
    hidden_size), ``bias_ih`` and ``bias_hh`` (gates), uniform in +-1/sqrt(hidden_size)."""

    _name = "RNNCell"

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        d = _factory(dtype)
        gates = num_chunks * hidden_size
        self.weight_ih = Parameter(creation.empty(gates, input_size, dtype=d))
        self.weight_hh = Parameter(creation.empty(gates, hidden_size, dtype=d))
        if bias:
            self.bias_ih = Parameter(creation.empty(gates, dtype=d))
            self.bias_hh = Parameter(creation.empty(gates, dtype=d))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    reset_parameters = RNNBase.reset_parameters

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _inputs(self, input: Tensor, hx: tuple | None, states: int
                ) -> tuple[Tensor, tuple[Tensor, ...], bool]:
        """The input and states as 2-D batches (zeros for a missing state), and whether
        the input was batched; PyTorch's checks with its exception types."""
        if not isinstance(input, Tensor):
            raise ArgumentError(f"{self!r}: expected a Tensor as input, got "
                                f"{type(input).__name__}")
        if input.ndim not in (1, 2):
            raise ValueArgumentError(f"{self!r}: {self._name}: Expected input to be 1D or 2D, "
                                     f"got {input.ndim}D instead (input of shape "
                                     f"{list(input.shape)})")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        if hx is None:
            zero = creation.zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
            hx = (zero,) * states
        else:
            for i, h in enumerate(hx):
                if not isinstance(h, Tensor):
                    raise ArgumentError(f"{self!r}: expected hidden states as Tensors, got "
                                        f"{type(h).__name__}")
                if h.ndim not in (1, 2):
                    what = f"hx[{i}]" if states == 2 else "hidden"
                    raise ValueArgumentError(f"{self!r}: {self._name}: Expected {what} to be 1D "
                                             f"or 2D, got {h.ndim}D instead (shape "
                                             f"{list(h.shape)})")
            hx = tuple(h if batched else h.unsqueeze(0) for h in hx)
        _check_dtype(self, x, "input")
        if x.shape[1] != self.input_size:
            raise ShapeError(f"{self!r}: input has inconsistent input_size: got {x.shape[1]} "
                             f"expected {self.input_size} (input of shape {list(input.shape)})")
        for i, h in enumerate(hx):
            if h.ndim != 2 or h.shape[0] != x.shape[0]:
                raise ShapeError(f"{self!r}: Input batch size {x.shape[0]} doesn't match "
                                 f"hidden{i} batch size {h.shape[0] if h.ndim == 2 else 1} "
                                 f"(input of shape {list(input.shape)}, hidden{i} of shape "
                                 f"{list(h.shape)})")
            if h.shape[1] != self.hidden_size:
                raise ShapeError(f"{self!r}: hidden{i} has inconsistent hidden_size: got "
                                 f"{h.shape[1]}, expected {self.hidden_size}")
            _check_dtype(self, h, f"hidden{i}")
        return x, hx, batched

    def _projections(self, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        return linear(x, self.weight_ih, self.bias_ih), linear(h, self.weight_hh, self.bias_hh)


class RNNCell(RNNCellBase):
    """``RNNCell(input_size, hidden_size, bias=True, nonlinearity='tanh')``:
    h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        if self.nonlinearity not in ("tanh", "relu"):
            raise InvalidArgument(f"{self!r}: Unknown nonlinearity: {self.nonlinearity}")
        x, (h,), batched = self._inputs(input, None if hx is None else (hx,), 1)
        xw, hw = self._projections(x, h)
        out = _rnn.activation("RNN_RELU" if self.nonlinearity == "relu" else "RNN_TANH")(xw + hw)
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """``LSTMCell(input_size, hidden_size, bias=True)``: one LSTM step; returns (h', c')."""

    _name = "LSTMCell"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
                ) -> tuple[Tensor, Tensor]:
        x, (h, c), batched = self._inputs(input, hx, 2)
        xw, hw = self._projections(x, h)
        scale, offset = _rnn.gate_constants("LSTM", self.hidden_size, x)
        h, c = _rnn.lstm_update((xw + hw) * scale, c, scale, offset)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """``GRUCell(input_size, hidden_size, bias=True)``: one GRU step (gates r, z, n)."""

    _name = "GRUCell"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), batched = self._inputs(input, None if hx is None else (hx,), 1)
        xw, hw = self._projections(x, h)
        scale, _ = _rnn.gate_constants("GRU", self.hidden_size, x)
        out = _rnn.gru_update(xw * scale, hw * scale, h)
        return out if batched else out.squeeze(0)
