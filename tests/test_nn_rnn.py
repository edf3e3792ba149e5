"""Recurrent layers against PyTorch: RNN (tanh, relu), LSTM (proj_size too), GRU and the
cells, over batched, unbatched and packed input, with and without initial states (outputs,
final states, gradients of the input, the states and every parameter, state_dict keys,
repr); parameter names and initialization; the padding and packing utilities; bad input;
compiled inference, compiled training steps, and one native program for a compiled LSTM."""
from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import graphc
from graphc import nn, optim
from graphc.nn.utils import rnn as rnn_utils
from tests.test_nn import (
    NP,
    _close,
    _compare_models,
    _pair,
    _train_both,
    _uniform_stats,
    needs_torch,
)

try:
    import torch
except ImportError:  # the oracle is optional; CI installs it
    torch = None


@dataclass
class R:
    """One case: ``make(lib)`` builds the layer; ``x`` is the input's shape, ``hx`` the
    shapes of the initial states (None: none passed). With ``lengths``, ``x`` is a padded
    batch (T, B, F) packed with those lengths before the call."""
    id: str
    make: Callable
    x: tuple
    hx: tuple | None = None
    f64: bool = False
    random: bool = False  # dropout between layers: compared in eval mode only
    lengths: tuple | None = None
    enforce_sorted: bool = True

    def __repr__(self) -> str:
        return self.id


CASES = [
    R("RNN", lambda t: t.nn.RNN(4, 3), (5, 2, 4), f64=True),
    R("RNN-relu-2layers", lambda t: t.nn.RNN(4, 3, 2, nonlinearity="relu"), (4, 3, 4)),
    R("RNN-bidir-batch_first-nobias-h0", lambda t: t.nn.RNN(
        4, 3, bidirectional=True, batch_first=True, bias=False), (2, 5, 4), ((2, 2, 3),)),
    R("RNN-unbatched-h0", lambda t: t.nn.RNN(4, 3, 2), (5, 4), ((2, 3),)),
    R("LSTM", lambda t: t.nn.LSTM(4, 3), (5, 2, 4), f64=True),
    R("LSTM-2layers-bidir-batch_first-h0c0", lambda t: t.nn.LSTM(
        4, 3, 2, batch_first=True, bidirectional=True), (2, 4, 4), ((4, 2, 3), (4, 2, 3)),
      f64=True),
    R("LSTM-nobias", lambda t: t.nn.LSTM(4, 3, bias=False), (3, 2, 4)),
    R("LSTM-proj", lambda t: t.nn.LSTM(4, 5, 2, proj_size=2, bidirectional=True), (4, 2, 4),
      ((4, 2, 2), (4, 2, 5))),
    R("LSTM-unbatched-batch_first", lambda t: t.nn.LSTM(4, 3, batch_first=True), (5, 4)),
    R("LSTM-unbatched-h0c0", lambda t: t.nn.LSTM(4, 3, 2), (5, 4), ((2, 3), (2, 3))),
    R("LSTM-dropout", lambda t: t.nn.LSTM(4, 3, 3, dropout=0.4), (3, 2, 4), random=True),
    R("GRU", lambda t: t.nn.GRU(4, 3), (5, 2, 4), f64=True),
    R("GRU-3layers-bidir", lambda t: t.nn.GRU(4, 3, 3, bidirectional=True), (3, 2, 4)),
    R("GRU-nobias-batch_first-h0", lambda t: t.nn.GRU(4, 3, bias=False, batch_first=True),
      (2, 4, 4), ((1, 2, 3),)),
    R("GRU-unbatched", lambda t: t.nn.GRU(4, 3), (5, 4)),
    # packed: sorted lengths, unsorted ones (enforce_sorted=False), states in and out
    R("LSTM-packed", lambda t: t.nn.LSTM(4, 3), (5, 3, 4), lengths=(5, 3, 2), f64=True),
    R("LSTM-packed-unsorted-bidir-h0c0", lambda t: t.nn.LSTM(4, 3, 2, bidirectional=True),
      (5, 4, 4), ((4, 4, 3), (4, 4, 3)), lengths=(2, 5, 1, 3), enforce_sorted=False),
    R("GRU-packed-unsorted-bidir", lambda t: t.nn.GRU(4, 3, bidirectional=True), (4, 3, 4),
      lengths=(1, 4, 4), enforce_sorted=False),
    R("RNN-packed-h0", lambda t: t.nn.RNN(4, 3, 2, nonlinearity="relu"), (4, 3, 4),
      ((2, 3, 3),), lengths=(4, 2, 2)),
    R("LSTM-proj-packed", lambda t: t.nn.LSTM(4, 5, proj_size=3, bidirectional=True),
      (4, 3, 4), lengths=(3, 4, 1), enforce_sorted=False),
    # cells
    R("RNNCell", lambda t: t.nn.RNNCell(4, 3), (2, 4), ((2, 3),), f64=True),
    R("RNNCell-relu-nobias", lambda t: t.nn.RNNCell(4, 3, bias=False, nonlinearity="relu"),
      (2, 4)),
    R("LSTMCell", lambda t: t.nn.LSTMCell(4, 3), (2, 4), ((2, 3), (2, 3)), f64=True),
    R("LSTMCell-nohx", lambda t: t.nn.LSTMCell(4, 3), (3, 4)),
    R("LSTMCell-unbatched", lambda t: t.nn.LSTMCell(4, 3, bias=False), (4,), ((3,), (3,))),
    R("GRUCell", lambda t: t.nn.GRUCell(4, 3), (2, 4), ((2, 3),), f64=True),
    R("GRUCell-unbatched", lambda t: t.nn.GRUCell(4, 3), (4,)),
]


def _params():
    out = []
    for c in CASES:
        for dtype in ("float32", "float64") if c.f64 else ("float32",):
            for mode in ("eval",) if c.random else ("train", "eval"):
                out.append(pytest.param(c, dtype, mode, id=f"{c.id}-{dtype}-{mode}"))
    return out


def _flat(out) -> list:
    """Every tensor of a layer's result, in order (a packed output as its data)."""
    if isinstance(out, (tuple, list)) and not hasattr(out, "batch_sizes"):
        return [t for o in out for t in _flat(o)]
    return [out.data] if hasattr(out, "batch_sizes") else [out]


def _run(lib, m, case: R, arrays: list[np.ndarray]):
    """The layer's outputs (a packed output also unpacked) and the leaves that need grad."""
    leaves = [lib.tensor(a, requires_grad=True) for a in arrays]
    x, states = leaves[0], leaves[1:]
    hx = None if not states else tuple(states) if len(states) == 2 else states[0]
    if case.lengths is None:
        return _flat(m(x) if hx is None else m(x, hx)), leaves
    utils = lib.nn.utils.rnn
    packed = utils.pack_padded_sequence(x, list(case.lengths),
                                        enforce_sorted=case.enforce_sorted)
    out, h = m(packed, hx)
    padded, lengths = utils.pad_packed_sequence(out, padding_value=-0.5)
    assert list(lengths.tolist()) == list(case.lengths)
    return [*_flat(out), padded, *_flat(h)], leaves


def _step(tm, gm, case: R, rng: np.random.Generator, dtype: str) -> None:
    shapes = (case.x, *(case.hx or ()))
    arrays = [(rng.standard_normal(s) * 1.5).astype(NP[dtype]) for s in shapes]
    touts, tleaves = _run(torch, tm, case, arrays)
    gouts, gleaves = _run(graphc, gm, case, arrays)
    assert len(gouts) == len(touts)
    loss_t, loss_g = 0, 0
    for i, (g, t) in enumerate(zip(gouts, touts)):
        _close(g.detach().numpy(), t.detach().numpy(), dtype, f"output {i}")
        assert g.dtype.name == str(t.dtype).removeprefix("torch.")
        cot = rng.standard_normal(tuple(t.shape)).astype(NP[dtype])
        loss_t = loss_t + (t * torch.from_numpy(cot)).sum()
        loss_g = loss_g + (g * graphc.tensor(cot)).sum()
    loss_t.backward()
    loss_g.backward()
    for i, (g, t) in enumerate(zip(gleaves, tleaves)):
        _close(g.grad.numpy(), t.grad.numpy(), dtype, f"grad of input {i}")
    tnamed, gnamed = dict(tm.named_parameters()), dict(gm.named_parameters())
    assert list(gnamed) == list(tnamed)
    for name, tp in tnamed.items():
        _close(gnamed[name].grad.numpy(), tp.grad.numpy(), dtype, f"{name}.grad")
    tm.zero_grad()
    gm.zero_grad()


@needs_torch
@pytest.mark.parametrize("case,dtype,mode", _params())
def test_recurrent_layer_matches_torch(case: R, dtype: str, mode: str):
    tm, gm = _pair(case, dtype)
    assert repr(gm) == repr(tm).replace("torch", "graphc")
    assert list(gm.state_dict()) == list(tm.state_dict())
    if mode == "eval":
        assert gm.eval() is gm
        tm.eval()
    rng = np.random.default_rng(zlib.crc32(f"{case.id}/{mode}".encode()))
    for _ in range(2):
        _step(tm, gm, case, rng, dtype)


# ---------------------------------------------------------------- parameters

CONFIGS = [("RNN", dict(num_layers=3, bidirectional=True, nonlinearity="relu")),
           ("LSTM", dict(num_layers=2, bidirectional=True, proj_size=2)),
           ("LSTM", dict(num_layers=2, bias=False, batch_first=True)),
           ("GRU", dict(num_layers=2, bidirectional=True, bias=False))]


@needs_torch
@pytest.mark.parametrize("kind,kwargs", CONFIGS, ids=lambda v: v if isinstance(v, str) else
                         "-".join(f"{k}={w}" for k, w in v.items()))
def test_parameter_names_order_and_shapes_match_torch(kind: str, kwargs: dict):
    tm, gm = getattr(torch.nn, kind)(6, 4, **kwargs), getattr(nn, kind)(6, 4, **kwargs)
    assert [(n, tuple(p.shape)) for n, p in gm.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
    assert gm._flat_weights_names == tm._flat_weights_names
    assert gm._all_weights == tm._all_weights
    assert [[tuple(p.shape) for p in ws] for ws in gm.all_weights] == \
        [[tuple(p.shape) for p in ws] for ws in tm.all_weights]
    assert all(a is b for a, b in zip(gm._flat_weights, gm.parameters()))
    assert gm.flatten_parameters() is None
    for attr in ("mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first",
                 "dropout", "bidirectional", "proj_size"):
        assert getattr(gm, attr) == getattr(tm, attr), attr


def test_default_initialization_is_uniform_in_one_over_sqrt_hidden():
    graphc.manual_seed(0)
    for m in (nn.LSTM(50, 64, 2, bidirectional=True), nn.GRU(30, 100), nn.RNN(20, 36),
              nn.LSTMCell(30, 49), nn.GRUCell(10, 81)):
        bound = 1 / np.sqrt(m.hidden_size)
        for name, p in m.named_parameters():
            assert np.abs(p.detach().numpy()).max() <= bound + 1e-7, name
            assert p.dtype == graphc.float32, name
        _uniform_stats(graphc.cat([p.detach().reshape(-1) for p in m.parameters()]), bound)
    assert nn.GRU(3, 4, dtype=graphc.float64).weight_hh_l0.dtype == graphc.float64


@needs_torch
def test_constructor_checks_match_torch():
    bad = [dict(dropout=1.5), dict(dropout=True), dict(input_size=0), dict(hidden_size=-1),
           dict(num_layers=0), dict(bias=1), dict(batch_first="yes"), dict(proj_size=-1),
           dict(proj_size=5), dict(input_size=2.0)]
    for kwargs in bad:
        args = {"input_size": 3, "hidden_size": 5, **kwargs}
        with pytest.raises(Exception) as want:
            torch.nn.LSTM(**args)
        with pytest.raises(type(want.value), match=str(want.value)[:30].replace("(", ".")):
            nn.LSTM(**args)
    for lib in (torch, graphc):
        with pytest.raises(ValueError, match="only supported for LSTM"):
            lib.nn.GRU(3, 5, proj_size=2)
        with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
            lib.nn.RNN(3, 5, nonlinearity="sigmoid")
        with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater"):
            lib.nn.GRU(3, 5, dropout=0.2)
    assert nn.RNN(3, 5, 2, "relu").nonlinearity == "relu"  # positional, as PyTorch


def test_gradients_match_finite_differences_in_float64():
    """Without the oracle: an LSTM and a GRU cell against central differences."""
    rng = np.random.default_rng(3)
    graphc.manual_seed(3)
    for m in (nn.LSTM(3, 2, 2, bidirectional=True).double(), nn.GRUCell(3, 2).double()):
        xv = rng.standard_normal((4, 2, 3) if isinstance(m, nn.LSTM) else (2, 3))

        def loss(v: np.ndarray) -> float:
            out = m(graphc.tensor(v))
            out = out[0] if isinstance(out, tuple) else out
            return float((out * out).sum().item())
        x = graphc.tensor(xv, requires_grad=True)
        out = m(x)
        out = out[0] if isinstance(out, tuple) else out
        (out * out).sum().backward()
        fd = np.zeros_like(xv)
        for i in np.ndindex(xv.shape):
            up, down = xv.copy(), xv.copy()
            up[i] += 1e-6
            down[i] -= 1e-6
            fd[i] = (loss(up) - loss(down)) / 2e-6
        np.testing.assert_allclose(x.grad.numpy(), fd, rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------- padding and packing

def _seqs(lib, lengths, rng, features=(2,)):
    return [lib.tensor(rng.standard_normal((n, *features)), requires_grad=True)
            for n in lengths]


@needs_torch
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first: bool, side: str):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((n, 2, 3)) for n in (3, 5, 1)]
    outs = {}
    for lib in (torch, graphc):
        seqs = [lib.tensor(a, requires_grad=True) for a in arrays]
        out = lib.nn.utils.rnn.pad_sequence(seqs, batch_first, -1.0, side)
        (out * lib.tensor(np.arange(out.numel()).reshape(tuple(out.shape)))).sum().backward()
        outs[lib] = out.detach().numpy(), [s.grad.numpy() for s in seqs]
    _close(outs[graphc][0], outs[torch][0], "float64", "padded")
    for g, t in zip(outs[graphc][1], outs[torch][1]):
        _close(g, t, "float64", "grad")


def _packed_fields(p) -> list:
    return [None if v is None else v.detach().numpy() for v in p]


@needs_torch
@pytest.mark.parametrize("enforce_sorted,lengths", [(True, (4, 4, 2, 1)),
                                                    (False, (2, 4, 1, 4)),
                                                    (False, (3, 1, 2, 3))])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_unpack_match_torch(enforce_sorted: bool, lengths: tuple, batch_first: bool):
    """Distinct lengths sort the same either way; equal ones in input order (stable), which
    PyTorch does too for so few."""
    rng = np.random.default_rng(1)
    xv = rng.standard_normal((4, 4, 3))
    res = {}
    for lib in (torch, graphc):
        x = lib.tensor(xv, requires_grad=True)
        lens = lib.tensor(lengths) if lib is torch else list(lengths)
        packed = lib.nn.utils.rnn.pack_padded_sequence(x, lens, batch_first, enforce_sorted)
        assert isinstance(packed, tuple) and packed._fields == ("data", "batch_sizes",
                                                                "sorted_indices",
                                                                "unsorted_indices")
        padded, out_lengths = lib.nn.utils.rnn.pad_packed_sequence(
            packed, batch_first, padding_value=7.0, total_length=6)
        (padded * padded).sum().backward()
        res[lib] = (_packed_fields(packed), padded.detach().numpy(), out_lengths.numpy(),
                    x.grad.numpy(), [s.detach().numpy() for s in
                                     lib.nn.utils.rnn.unpack_sequence(packed)])
    (gp, gpad, glen, ggrad, gseqs), (tp, tpad, tlen, tgrad, tseqs) = res[graphc], res[torch]
    for g, t, name in zip(gp, tp, ("data", "batch_sizes", "sorted_indices",
                                   "unsorted_indices")):
        assert (g is None) == (t is None), name
        if t is not None:
            _close(g, t, "float64", name)
    _close(gpad, tpad, "float64", "padded")
    np.testing.assert_array_equal(glen, tlen)
    _close(ggrad, tgrad, "float64", "input grad")
    assert len(gseqs) == len(tseqs)
    for g, t in zip(gseqs, tseqs):
        _close(g, t, "float64", "unpacked")


@needs_torch
def test_pack_sequence_and_unpad_sequence_match_torch():
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((n, 3)) for n in (2, 4, 3)]
    for lib in (torch, graphc):
        with pytest.raises(RuntimeError, match="sorted in decreasing order"):
            lib.nn.utils.rnn.pack_sequence([lib.tensor(a) for a in arrays])
    got = rnn_utils.pack_sequence([graphc.tensor(a) for a in arrays], enforce_sorted=False)
    want = torch.nn.utils.rnn.pack_sequence([torch.tensor(a) for a in arrays],
                                            enforce_sorted=False)
    for g, t in zip(_packed_fields(got), _packed_fields(want)):
        _close(g, t, "float64")
    padded = graphc.tensor(rng.standard_normal((4, 3, 2)))
    for g, t in zip(rnn_utils.unpad_sequence(padded, graphc.tensor([4, 1, 3])),
                    torch.nn.utils.rnn.unpad_sequence(torch.tensor(padded.numpy()),
                                                      torch.tensor([4, 1, 3]))):
        _close(g.numpy(), t.numpy(), "float64")
    assert got.double() is got and got.to(graphc.float32).data.dtype == graphc.float32
    assert not got.is_cuda and rnn_utils.invert_permutation(None) is None


@needs_torch
def test_packing_errors_match_torch():
    x = np.zeros((4, 3, 2))
    calls = [
        lambda lib: lib.nn.utils.rnn.pack_padded_sequence(lib.tensor(x), [3, 2]),
        lambda lib: lib.nn.utils.rnn.pack_padded_sequence(lib.tensor(x), [3, 0, 1]),
        lambda lib: lib.nn.utils.rnn.pack_padded_sequence(lib.tensor(x), [1, 2, 1]),
        lambda lib: lib.nn.utils.rnn.pad_packed_sequence(
            lib.nn.utils.rnn.pack_padded_sequence(lib.tensor(x), [3, 2, 1]), total_length=2),
        lambda lib: lib.nn.utils.rnn.pad_sequence([]),
        lambda lib: lib.nn.utils.rnn.pad_sequence([lib.ones(2, 3)], padding_side="mid"),
    ]
    for call in calls:
        with pytest.raises(Exception) as want:
            call(torch)
        with pytest.raises(type(want.value)) as got:
            call(graphc)
        assert str(want.value).split(".")[0][:40] in str(got.value)
        assert "test_nn_rnn.py" in str(got.value)  # the user's line
    with pytest.raises(RuntimeError, match="a length of 5 exceeds the 4 steps"):  # torch
        rnn_utils.pack_padded_sequence(graphc.tensor(x), [5, 2, 1])  # reads out of bounds
    with pytest.raises(RuntimeError, match=r"shape \(L, 3\).*\[\[2, 3\], \[2, 2\]\]"):
        rnn_utils.pad_sequence([graphc.ones(2, 3), graphc.ones(2, 2)])
    with pytest.raises(RuntimeError, match="Expected `len.lengths.` to be equal"):
        rnn_utils.pack_padded_sequence(graphc.tensor(x), [2, 1], enforce_sorted=False)


# ---------------------------------------------------------------- bad input

def _f(lib, *shape, dtype="float32"):
    return lib.zeros(*shape, dtype=getattr(lib, dtype))


BAD = [  # (id, make, call(lib, layer), substrings of graphc's message)
    ("LSTM-rank1", lambda t: t.nn.LSTM(4, 3), lambda t, m: m(_f(t, 4)),
     ("2D or 3D, got 1D", "[4]")),
    ("LSTM-rank4", lambda t: t.nn.LSTM(4, 3), lambda t, m: m(_f(t, 1, 2, 5, 4)),
     ("got 4D", "[1, 2, 5, 4]")),
    ("LSTM-features", lambda t: t.nn.LSTM(4, 3, batch_first=True),
     lambda t, m: m(_f(t, 2, 5, 3)), ("Expected 4, got 3", "[2, 5, 3]")),
    ("LSTM-unbatched-features", lambda t: t.nn.LSTM(4, 3, batch_first=True),
     lambda t, m: m(_f(t, 5, 3)), ("Expected 4, got 3", "[5, 3]")),
    ("LSTM-int-input", lambda t: t.nn.LSTM(4, 3), lambda t, m: m(_f(t, 5, 2, 4, dtype="int64")),
     ("input dtype", "int64", "float32")),
    ("LSTM-float64-input", lambda t: t.nn.LSTM(4, 3),
     lambda t, m: m(_f(t, 5, 2, 4, dtype="float64")), ("float64", "model.to")),
    ("LSTM-h0-batch", lambda t: t.nn.LSTM(4, 3),
     lambda t, m: m(_f(t, 5, 2, 4), (_f(t, 1, 3, 3), _f(t, 1, 2, 3))),
     ("Expected hidden[0] size (1, 2, 3), got [1, 3, 3]",)),
    ("LSTM-c0-size", lambda t: t.nn.LSTM(4, 3, 2, bidirectional=True),
     lambda t, m: m(_f(t, 5, 2, 4), (_f(t, 4, 2, 3), _f(t, 4, 2, 4))),
     ("Expected hidden[1] size (4, 2, 3), got [4, 2, 4]",)),
    ("LSTM-proj-h0-size", lambda t: t.nn.LSTM(4, 3, proj_size=2),
     lambda t, m: m(_f(t, 5, 2, 4), (_f(t, 1, 2, 3), _f(t, 1, 2, 3))),
     ("Expected hidden[0] size (1, 2, 2), got [1, 2, 3]",)),
    ("LSTM-h0-rank", lambda t: t.nn.LSTM(4, 3),
     lambda t, m: m(_f(t, 5, 2, 4), (_f(t, 2, 3), _f(t, 2, 3))),
     ("For batched 3-D input, hx and cx should also be 3-D", "[2, 3]")),
    ("LSTM-h0-dtype", lambda t: t.nn.LSTM(4, 3),
     lambda t, m: m(_f(t, 5, 2, 4), (_f(t, 1, 2, 3, dtype="float64"), _f(t, 1, 2, 3))),
     ("hidden[0] dtype", "float64")),
    ("LSTM-no-steps", lambda t: t.nn.LSTM(4, 3), lambda t, m: m(_f(t, 0, 2, 4)),
     ("sequence length to be larger than 0", "[0, 2, 4]")),
    ("GRU-h0-shape", lambda t: t.nn.GRU(4, 3),
     lambda t, m: m(_f(t, 5, 2, 4), _f(t, 1, 3, 3)),
     ("Expected hidden size (1, 2, 3), got [1, 3, 3]",)),
    ("GRU-h0-int", lambda t: t.nn.GRU(4, 3),
     lambda t, m: m(_f(t, 5, 2, 4), _f(t, 1, 2, 3, dtype="int64")), ("int64",)),
    ("RNN-unbatched-h0-rank", lambda t: t.nn.RNN(4, 3),
     lambda t, m: m(_f(t, 5, 4), _f(t, 1, 2, 3)),
     ("For unbatched 2-D input, hx should also be 2-D", "[1, 2, 3]")),
    ("GRU-packed-features", lambda t: t.nn.GRU(4, 3), lambda t, m: m(
        t.nn.utils.rnn.pack_padded_sequence(_f(t, 3, 2, 5), [3, 1])), ("Expected 4, got 5",)),
    ("LSTMCell-features", lambda t: t.nn.LSTMCell(4, 3), lambda t, m: m(_f(t, 2, 3)),
     ("inconsistent input_size: got 3 expected 4", "[2, 3]")),
    ("LSTMCell-rank3", lambda t: t.nn.LSTMCell(4, 3), lambda t, m: m(_f(t, 1, 2, 4)),
     ("Expected input to be 1D or 2D, got 3D", "[1, 2, 4]")),
    ("LSTMCell-hx-batch", lambda t: t.nn.LSTMCell(4, 3),
     lambda t, m: m(_f(t, 2, 4), (_f(t, 3, 3), _f(t, 3, 3))),
     ("Input batch size 2 doesn't match hidden0 batch size 3", "[3, 3]")),
    ("LSTMCell-cx-size", lambda t: t.nn.LSTMCell(4, 3),
     lambda t, m: m(_f(t, 2, 4), (_f(t, 2, 3), _f(t, 2, 4))),
     ("hidden1 has inconsistent hidden_size: got 4, expected 3",)),
    ("LSTMCell-hx-rank", lambda t: t.nn.LSTMCell(4, 3),
     lambda t, m: m(_f(t, 2, 4), (_f(t, 1, 2, 3), _f(t, 2, 3))),
     ("Expected hx[0] to be 1D or 2D, got 3D",)),
    ("LSTMCell-int-input", lambda t: t.nn.LSTMCell(4, 3),
     lambda t, m: m(_f(t, 2, 4, dtype="int64")), ("input dtype", "int64")),
    ("GRUCell-hidden-size", lambda t: t.nn.GRUCell(4, 3),
     lambda t, m: m(_f(t, 2, 4), _f(t, 2, 4)), ("hidden0 has inconsistent hidden_size",)),
    ("GRUCell-unbatched-hidden-2d", lambda t: t.nn.GRUCell(4, 3),
     lambda t, m: m(_f(t, 4), _f(t, 1, 3)), ("hidden",)),
    ("RNNCell-rank3", lambda t: t.nn.RNNCell(4, 3), lambda t, m: m(_f(t, 2, 4, 1)),
     ("RNNCell: Expected input to be 1D or 2D, got 3D",)),
    ("RNNCell-float64-hidden", lambda t: t.nn.RNNCell(4, 3),
     lambda t, m: m(_f(t, 2, 4), _f(t, 2, 3, dtype="float64")), ("float64",)),
]


@needs_torch
@pytest.mark.parametrize("make,call,expect", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_raises_torchs_exception_naming_layer_shapes_and_line(make, call, expect):
    tm, gm = make(torch), make(graphc)
    with pytest.raises(Exception) as want:
        call(torch, tm)
    with pytest.raises(type(want.value)) as got:
        call(graphc, gm)
    msg = str(got.value)
    assert repr(gm) in msg and "test_nn_rnn.py" in msg, msg
    for part in expect:
        assert part in msg, (part, msg)


def test_bad_input_raises_when_compiled_too():
    m = nn.LSTM(4, 3, batch_first=True)
    with graphc.no_grad():
        with pytest.raises(RuntimeError, match=r"Expected 4, got 3 \(input of shape \[2, 5, 3"):
            graphc.compile(m)(graphc.zeros(2, 5, 3))


def test_lstm_state_must_be_a_pair():
    """PyTorch indexes whatever it gets (a (1, 2, 3) tensor fails as IndexError: 'index 1 is
    out of bounds'); graphc says what it wanted."""
    m = nn.LSTM(4, 3)
    for hx in (graphc.zeros(1, 2, 3), (graphc.zeros(1, 2, 3),), [1, 2]):
        with pytest.raises(TypeError, match=r"LSTM\(4, 3\): hx must be a tuple \(h_0, c_0\)"):
            m(graphc.zeros(5, 2, 4), hx)
    with pytest.raises(TypeError, match="hx must be a Tensor, got tuple"):
        nn.GRU(4, 3)(graphc.zeros(5, 2, 4), (graphc.zeros(1, 2, 3),))
    out, (h, c) = m(graphc.zeros(5, 2, 4), [graphc.zeros(1, 2, 3), graphc.zeros(1, 2, 3)])
    assert out.shape == (5, 2, 3) and h.shape == c.shape == (1, 2, 3)


# ---------------------------------------------------------------- compiled

def _forward_fn(case: R, m):
    def fwd(*xs):
        x, states = xs[0], xs[1:]
        hx = None if not states else tuple(states) if len(states) == 2 else states[0]
        if case.lengths is None:
            return m(x) if hx is None else m(x, hx)
        packed = rnn_utils.pack_padded_sequence(x, list(case.lengths),
                                                enforce_sorted=case.enforce_sorted)
        out, h = m(packed, hx)
        return rnn_utils.pad_packed_sequence(out)[0], h
    return fwd


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_compiled_inference_equals_eager_in_one_native_program(case: R):
    """In train mode (dropout's draws are eager's, bit for bit), under no_grad."""
    graphc.manual_seed(0)
    m = case.make(graphc)
    fwd = _forward_fn(case, m)
    compiled = graphc.compile(fwd)
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    for _ in range(2):
        xs = [graphc.tensor(rng.standard_normal(s).astype(np.float32))
              for s in (case.x, *(case.hx or ()))]
        with graphc.no_grad():
            graphc.manual_seed(5)
            want = _flat(fwd(*xs))
            graphc.manual_seed(5)
            got = _flat(compiled(*xs))
        for i, (g, w) in enumerate(zip(got, want)):
            _close(g.numpy(), w.numpy(), what=f"output {i}")
    head = compiled.last.native.describe().splitlines()[0]
    assert "in 1 native segment(s), 0 interpreted nodes" in head, head
    assert len(compiled.cache) == 1


def _char_model(kind: str, **kwargs):
    class CharModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(11, 6)
            self.rnn = getattr(nn, kind)(6, 8, batch_first=True, **kwargs)
            self.head = nn.Linear(8 * (2 if kwargs.get("bidirectional") else 1), 11)

        def forward(self, tokens):
            out, _ = self.rnn(self.embed(tokens))
            return self.head(out).reshape(-1, 11)
    return CharModel()


@pytest.mark.parametrize("kind,kwargs,make_opt", [
    ("LSTM", dict(num_layers=2), lambda ps: optim.Adam(ps, lr=0.02)),
    ("GRU", dict(bidirectional=True), lambda ps: optim.SGD(ps, lr=0.5, momentum=0.9)),
    ("RNN", dict(nonlinearity="relu", dropout=0.3, num_layers=2),
     lambda ps: optim.SGD(ps, lr=0.1)),
], ids=["LSTM-Adam", "GRU-bidir-SGD", "RNN-relu-dropout-SGD"])
def test_compiled_training_step_equals_eager(kind: str, kwargs: dict, make_opt):
    """Embedding -> recurrent layer -> Linear, cross-entropy on every step; the whole step
    (zero_grad, forward, backward, optimizer step) compiled, against the same steps eagerly,
    from one state_dict, with the same dropout draws."""
    rng = np.random.default_rng(0)
    tokens = [graphc.tensor(rng.integers(0, 11, (3, 5)))] * 4  # one batch: the loss falls
    targets = [graphc.tensor(rng.integers(0, 11, 15))] * 4
    (eager, _, elosses, _), (cmodel, _, closses, run) = _train_both(
        lambda: _char_model(kind, **kwargs), make_opt, tokens, targets, seed_steps=True)
    _close(closses, elosses, what="losses")
    assert elosses[-1] < elosses[0]
    _compare_models(cmodel, eager)
    assert len(run.cache) == 1 and run.retraces == 0
    head = run.last.native.describe().splitlines()[0]
    assert "in 1 native segment(s), 0 interpreted nodes" in head, head


def test_compiled_lstm_over_a_fixed_length_is_one_native_program():
    """The time loop unrolls into the trace: one hidden-projection matmul kernel per step
    and layer, all in one native segment, nothing interpreted (lowered, not run)."""
    m = nn.LSTM(4, 6, num_layers=2)
    x = graphc.randn(7, 3, 4)
    with graphc.no_grad():
        kernels = graphc.compile(lambda x: m(x)[0]).lower(x).ir("kernels")
    head = kernels.splitlines()[0]
    assert "in 1 native segment(s), 0 interpreted nodes" in head, head
    assert kernels.count("matmul [3, 24]") == 7 * 2  # (batch, 4 * hidden) per step
    assert kernels.count("matmul [21, 24]") == 2  # the input projection of each layer


def test_packing_inside_a_compiled_function_works_a_packed_argument_says_why_not():
    m = nn.GRU(4, 3)
    x = graphc.randn(5, 3, 4)

    def run(x):
        out, h = m(rnn_utils.pack_padded_sequence(x, [2, 5, 3], enforce_sorted=False))
        return rnn_utils.pad_packed_sequence(out)[0], h
    with graphc.no_grad():
        for got, want in zip(graphc.compile(run)(x), run(x)):
            _close(got.numpy(), want.numpy())
        packed = rnn_utils.pack_padded_sequence(x, [5, 3, 2])
        with pytest.raises(RuntimeError, match="PackedSequence that is an argument of a "
                                               "compiled function"):
            graphc.compile(lambda p: m(p)[1])(packed)


def test_empty_batch_gives_empty_outputs_as_torch():
    for m in (nn.LSTM(4, 3, 2), nn.GRU(4, 3, bidirectional=True), nn.LSTM(4, 3, proj_size=2)):
        out, h = m(graphc.randn(3, 0, 4))
        h = h[0] if isinstance(h, tuple) else h
        assert out.shape == (3, 0, m.proj_size or 3 * (2 if m.bidirectional else 1))
        assert h.shape == (m.num_layers * (2 if m.bidirectional else 1), 0,
                           m.proj_size or m.hidden_size)
