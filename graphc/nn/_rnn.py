"""The recurrence behind ``nn.RNN``, ``nn.LSTM``, ``nn.GRU`` and their cells, in graphc ops.

Composite, so it runs eagerly, traces (the time loop unrolls into the trace) and
differentiates with no gradient code of its own. The per-step op count is what eager mode
pays for, so a layer projects the inputs of every step with one matmul over the whole
sequence; a step is then one matmul (the hidden projection) and a few elementwise ops on
the gate block, sliced into gates. Sequences are time-major rows: step t owns
``sizes[t]`` rows of a 2-D tensor (``sizes`` is a packed sequence's ``batch_sizes``, or
the batch size at every step), so padded and packed input share one code path.

Sigmoid gates are ``0.5 + 0.5 * tanh(x / 2)``: one tanh over the whole gate block
(the tanh gates have scale 1) instead of a stable sigmoid's several ops per gate. A layer
folds the halving into the gate rows of its weights and biases; that is exact (a power of
two), so the pre-activations are PyTorch's halved to the last bit.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from ..composite import relu, tanh
from ..creation import tensor, zeros
from ..fused import fused
from ..ir import ops as P
from ..tensor import Tensor, _bind
from .functional import dropout, linear

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ---------------------------------------------------------------- slicing without indexing's
# Python layers (a step slices several times; Tensor indexing costs several times the op)

def _cols(x: Tensor, start: int, stop: int) -> Tensor:
    return _bind(P.SLICE, x._node, starts=(0, start), stops=(x.shape[0], stop), steps=(1, 1))


def _rows(x: Tensor, start: int, stop: int) -> Tensor:
    return _bind(P.SLICE, x._node, starts=(start, 0), stops=(stop, x.shape[1]), steps=(1, 1))


def _mm(x: Tensor, w_t: Tensor) -> Tensor:
    return _bind(P.MATMUL, x._node, w_t._node)


def _t(w: Tensor) -> Tensor:
    return _bind(P.PERMUTE, w._node, perm=(1, 0))


def _cat(xs: Sequence[Tensor], axis: int) -> Tensor:
    return xs[0] if len(xs) == 1 else _bind(P.CONCAT, *[x._node for x in xs], axis=axis)


# ---------------------------------------------------------------- gates

def gate_constants(mode: str, hidden: int, like: Tensor) -> tuple[Tensor | None, Tensor | None]:
    """Per row of the gate block, ``scale``: 0.5 for a sigmoid gate, 1 for a tanh one, and
    ``offset``: 0.5 and 0 (so ``tanh(x * scale) * scale + offset`` is each gate's
    activation). (None, None) where there are no sigmoid gates."""
    if mode not in ("LSTM", "GRU"):
        return None, None
    tanh_gate = 2  # LSTM: i, f, g, o; GRU: r, z, n (n is computed apart)
    s = np.full((GATES[mode], hidden), 0.5)
    s[tanh_gate] = 1.0
    s = s.reshape(-1)
    return (tensor(s, dtype=like.dtype, device=like.device),
            tensor(np.where(s < 1, 0.5, 0.0), dtype=like.dtype, device=like.device))


def lstm_update(pre_half: Tensor, c: Tensor, scale: Tensor, offset: Tensor
                ) -> tuple[Tensor, Tensor]:
    """(o * tanh(c'), c') with c' = f * c + i * g, from the gate block with its sigmoid
    rows halved; ``scale`` and ``offset`` turn tanh into sigmoid on those rows."""
    size = c.shape[1]
    both = _lstm_state(pre_half, c, scale, offset)
    return _cols(both, 0, size), _cols(both, size, 2 * size)


@fused(grad_name="LstmCell")
def _lstm_state(pre_half: Tensor, c: Tensor, scale: Tensor, offset: Tensor) -> Tensor:
    """[o * tanh(c') | c'] side by side: one tensor, so that eagerly the gate arithmetic
    is one fused program (the matmul stays outside: the gradient recomputes this part)."""
    act = tanh(pre_half) * scale + offset
    h = c.shape[1]
    i, f, g, o = (_cols(act, k * h, (k + 1) * h) for k in range(4))
    c = f * c + i * g
    return _cat([o * tanh(c), c], 1)


@fused(grad_name="GruCell")
def gru_update(gi_half: Tensor, gh_half: Tensor, h: Tensor) -> Tensor:
    """PyTorch's GRU: r, z = sigmoid(...), n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),
    h' = (1 - z) * n + z * h, from input and hidden projections with r, z rows halved."""
    size = h.shape[1]
    rz = tanh(_cols(gi_half, 0, 2 * size) + _cols(gh_half, 0, 2 * size)) * 0.5 + 0.5
    r, z = _cols(rz, 0, size), _cols(rz, size, 2 * size)
    n = tanh(_cols(gi_half, 2 * size, 3 * size) + r * _cols(gh_half, 2 * size, 3 * size))
    return n + z * (h - n)


def activation(mode: str) -> Callable[[Tensor], Tensor]:
    return relu if mode == "RNN_RELU" else tanh


# ---------------------------------------------------------------- one layer, one direction

class Direction(NamedTuple):
    """One direction of one layer, ready to step: hidden weights transposed and, like the
    input projection, with sigmoid rows halved."""
    mode: str
    w_hh_t: Tensor
    b_hh: Tensor | None  # GRU only (the others fold it into the input projection)
    w_hr_t: Tensor | None  # LSTM with proj_size
    scale: Tensor | None
    offset: Tensor | None


def prepare(mode: str, x2d: Tensor, weights: Sequence[Tensor | None], hidden: int
            ) -> tuple[Tensor, Direction]:
    """The input projection of every step (rows as ``x2d``'s) and the stepping weights."""
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    scale, offset = gate_constants(mode, hidden, w_ih)
    if scale is not None:
        column = scale.reshape(-1, 1)
        w_ih, w_hh = w_ih * column, w_hh * column
        if b_ih is not None:
            b_ih, b_hh = b_ih * scale, b_hh * scale
    if mode == "GRU" or b_ih is None:
        bias, step_bias = b_ih, b_hh
    else:
        bias, step_bias = b_ih + b_hh, None
    return linear(x2d, w_ih, bias), Direction(mode, _t(w_hh), step_bias,
                                              None if w_hr is None else _t(w_hr), scale, offset)


def step(d: Direction, x_t: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """The next state from this step's input projection; its first entry is the output."""
    h = state[0]
    if d.mode == "LSTM":
        out, c = lstm_update(x_t + _mm(h, d.w_hh_t), state[1], d.scale, d.offset)
        return (out if d.w_hr_t is None else _mm(out, d.w_hr_t)), c
    if d.mode == "GRU":
        gh = _mm(h, d.w_hh_t)
        return (gru_update(x_t, gh if d.b_hh is None else gh + d.b_hh, h),)
    return (activation(d.mode)(x_t + _mm(h, d.w_hh_t)),)


def run_direction(d: Direction, xw: Tensor, sizes: Sequence[int],
                  state0: tuple[Tensor, ...], reverse: bool
                  ) -> tuple[list[Tensor], tuple[Tensor, ...]]:
    """Outputs of every step in time order, and the final state of every sequence.

    Step t updates the first ``sizes[t]`` rows of the state (sequences are sorted longest
    first): going forward, rows whose sequence has ended are set aside as its final
    state; going backward, rows whose sequence starts join with their initial state."""
    offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    steps = range(len(sizes) - 1, -1, -1) if reverse else range(len(sizes))
    batch = state0[0].shape[0]
    first = sizes[steps[0]]
    state = state0 if first == batch else tuple(_rows(s, 0, first) for s in state0)
    ended: list[tuple[Tensor, ...]] = []
    outs = []
    for t in steps:
        n, have = sizes[t], state[0].shape[0]
        if n < have:
            ended.append(tuple(_rows(s, n, have) for s in state))
            state = tuple(_rows(s, 0, n) for s in state)
        elif n > have:
            state = tuple(_cat([s, _rows(s0, have, n)], 0) for s, s0 in zip(state, state0))
        state = step(d, _rows(xw, offsets[t], offsets[t] + n), state)
        outs.append(state[0])
    if reverse:
        outs.reverse()
    if ended:
        state = tuple(_cat([s, *[e[i] for e in reversed(ended)]], 0) for i, s in enumerate(state))
    return outs, state


# ---------------------------------------------------------------- the stack of layers

def rnn(mode: str, x2d: Tensor, sizes: Sequence[int], hx: tuple[Tensor, ...] | None,
        weights: Sequence[Sequence[Tensor | None]], num_layers: int, bidirectional: bool,
        hidden: int, out_size: int, dropout_p: float, training: bool
        ) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Every layer over time-major rows ``x2d`` (``sizes[t]`` rows per step).

    ``hx`` holds the initial states, each (layers * directions, batch, size), or None for
    zeros; ``weights`` one (w_ih, w_hh, b_ih, b_hh, w_hr) per layer and direction (None
    where absent). Returns the last layer's output rows and the final states, shaped as
    ``hx``."""
    dirs = 2 if bidirectional else 1
    batch = sizes[0]
    sizes_of_state = (out_size, hidden) if mode == "LSTM" else (out_size,)
    x = x2d
    finals: list[tuple[Tensor, ...]] = []
    for layer in range(num_layers):
        outs = []
        for direction in range(dirs):
            k = layer * dirs + direction
            state0 = tuple(zeros(batch, s, dtype=x.dtype, device=x.device) for s in
                           sizes_of_state) if hx is None else tuple(h[k] for h in hx)
            xw, d = prepare(mode, x, weights[k], hidden)
            steps, final = run_direction(d, xw, sizes, state0, reverse=direction == 1)
            outs.append(_cat(steps, 0))
            finals.append(final)
        x = _cat(outs, 1)
        if dropout_p and training and layer < num_layers - 1:
            x = dropout(x, dropout_p, True)
    states = tuple(_cat([f[i] for f in finals], 0).reshape(len(finals), batch, size)
                   for i, size in enumerate(sizes_of_state))
    return x, states
