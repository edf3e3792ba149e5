"""graphc.nn modules against PyTorch: every layer, activation and loss (outputs, input and
parameter gradients, running stats, in train and eval modes), the Module API (state_dict
keys and order, traversal, load_state_dict errors, modes, conversion, repr, deepcopy),
shape errors, and compiled training steps against eager ones."""
from __future__ import annotations

import copy
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import graphc
from graphc import nn, optim

try:
    import torch
except ImportError:  # the oracle is optional; CI installs it
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch (the oracle extra) is not "
                                                       "installed")
NP = {"float32": np.float32, "float64": np.float64}


def _close(got, want, dtype: str = "float32", what: str = "", rtol: float | None = None):
    """Close elementwise; ``atol`` is relative to the largest magnitude (values near zero
    come from cancellation)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if want.dtype.kind not in "fc":
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    scale = max(1.0, float(np.abs(want).max())) if want.size else 1.0
    rtol = rtol or (1e-4 if dtype == "float32" else 1e-10)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 0.1 * scale, err_msg=what)


def _to_graphc(tm, gm) -> None:
    gm.load_state_dict({k: graphc.tensor(v.numpy()) for k, v in tm.state_dict().items()})


# ---------------------------------------------------------------- every module against torch

@dataclass
class Case:
    id: str
    make: Callable  # make(lib) -> the module, with lib torch or graphc
    inputs: tuple   # specs (kind, shape[, extra]), see _make_inputs
    f64: bool = False
    random: bool = False  # draws in train mode (Dropout): compared in eval mode only

    def __repr__(self) -> str:
        return self.id


def _make_inputs(specs: tuple, rng: np.random.Generator, dtype: str) -> list[np.ndarray]:
    out = []
    for kind, shape, *extra in specs:
        if kind == "f":
            a = rng.standard_normal(shape) * 1.5
        elif kind == "pos":  # probabilities, for BCELoss
            a = rng.uniform(0.05, 0.95, shape)
        elif kind == "cls":  # class indices below extra[0]
            a = rng.integers(0, extra[0], shape)
        elif kind == "fixed":  # given integers (targets hitting ignore_index, padding_idx)
            a = np.array(extra[0], dtype=np.int64)
        elif kind == "prob":  # class probabilities along dim 1
            e = np.exp(rng.standard_normal(shape))
            a = e / e.sum(1, keepdims=True)
        elif kind == "mask":  # a given boolean mask (attention's key_padding_mask)
            a = np.array(extra[0], dtype=bool)
        elif kind == "causal":  # (L, S) float: -inf above the diagonal, 0 elsewhere
            a = np.triu(np.full(shape, -np.inf), 1)
        elif kind == "above":  # (L, S) bool: True above the diagonal (masked out, for MHA)
            a = np.triu(np.ones(shape, dtype=bool), 1)
        else:
            raise ValueError(kind)
        out.append(a.astype(NP[dtype]) if a.dtype.kind == "f" else a)
    return out


def C(id: str, make: Callable, *inputs, f64: bool = False,  # noqa: A002, N802
      random: bool = False):
    return Case(id, make, inputs, f64, random)


F45, F34 = ("f", (4, 5)), ("f", (3, 4))
LAYERS = [
    C("Linear", lambda t: t.nn.Linear(5, 3), F45, f64=True),
    C("Linear-nobias-3d", lambda t: t.nn.Linear(5, 3, bias=False), ("f", (2, 3, 5))),
    C("Conv1d", lambda t: t.nn.Conv1d(2, 3, 3), ("f", (2, 2, 7))),
    C("Conv1d-options", lambda t: t.nn.Conv1d(2, 4, 3, stride=2, padding=1, dilation=2,
                                              groups=2, bias=False), ("f", (2, 2, 9))),
    C("Conv1d-unbatched", lambda t: t.nn.Conv1d(2, 3, 2), ("f", (2, 6))),
    C("Conv2d", lambda t: t.nn.Conv2d(2, 3, 3, padding=1), ("f", (2, 2, 5, 5)), f64=True),
    C("Conv2d-options", lambda t: t.nn.Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(1, 0),
                                              dilation=(1, 2), groups=2), ("f", (2, 2, 6, 7))),
    C("Conv2d-same", lambda t: t.nn.Conv2d(2, 3, 3, padding="same", bias=False),
      ("f", (1, 2, 5, 4))),
    C("Conv2d-unbatched", lambda t: t.nn.Conv2d(2, 3, 2, stride=2), ("f", (2, 5, 5))),
    C("MaxPool2d", lambda t: t.nn.MaxPool2d(2), ("f", (2, 3, 4, 4))),
    C("MaxPool2d-pad", lambda t: t.nn.MaxPool2d(3, stride=2, padding=1), ("f", (1, 2, 5, 5))),
    C("MaxPool2d-ceil", lambda t: t.nn.MaxPool2d(2, ceil_mode=True), ("f", (1, 2, 5, 5))),
    C("MaxPool2d-dilation", lambda t: t.nn.MaxPool2d(2, stride=1, dilation=2),
      ("f", (1, 2, 5, 5))),
    C("AvgPool2d", lambda t: t.nn.AvgPool2d(2), ("f", (2, 3, 4, 4))),
    C("AvgPool2d-nopad", lambda t: t.nn.AvgPool2d(3, stride=2, padding=1,
                                                  count_include_pad=False),
      ("f", (1, 2, 5, 5))),
    C("AvgPool2d-ceil", lambda t: t.nn.AvgPool2d(2, ceil_mode=True), ("f", (1, 2, 5, 5))),
    C("AvgPool2d-divisor", lambda t: t.nn.AvgPool2d(2, divisor_override=3),
      ("f", (1, 2, 4, 4))),
    C("AdaptiveAvgPool2d", lambda t: t.nn.AdaptiveAvgPool2d((2, 3)), ("f", (2, 3, 5, 7))),
    C("AdaptiveAvgPool2d-1", lambda t: t.nn.AdaptiveAvgPool2d(1), ("f", (2, 3, 4, 4))),
    C("BatchNorm1d", lambda t: t.nn.BatchNorm1d(3), ("f", (6, 3))),
    C("BatchNorm1d-3d", lambda t: t.nn.BatchNorm1d(3), ("f", (4, 3, 5))),
    C("BatchNorm1d-untracked", lambda t: t.nn.BatchNorm1d(3, track_running_stats=False),
      ("f", (5, 3))),
    C("BatchNorm2d", lambda t: t.nn.BatchNorm2d(3), ("f", (4, 3, 2, 2)), f64=True),
    C("BatchNorm2d-cumulative", lambda t: t.nn.BatchNorm2d(3, momentum=None),
      ("f", (4, 3, 2, 2))),
    C("BatchNorm2d-noaffine", lambda t: t.nn.BatchNorm2d(3, affine=False, eps=1e-3,
                                                         momentum=0.5), ("f", (2, 3, 3, 2))),
    C("BatchNorm2d-nobias", lambda t: t.nn.BatchNorm2d(3, bias=False), ("f", (2, 3, 2, 2))),
    C("BatchNorm2d-untracked", lambda t: t.nn.BatchNorm2d(3, track_running_stats=False),
      ("f", (2, 3, 2, 2))),
    C("LayerNorm", lambda t: t.nn.LayerNorm(4), F34),
    C("LayerNorm-2d", lambda t: t.nn.LayerNorm((3, 4), eps=1e-3), ("f", (2, 3, 4)), f64=True),
    C("LayerNorm-noaffine", lambda t: t.nn.LayerNorm(4, elementwise_affine=False), F34),
    C("LayerNorm-nobias", lambda t: t.nn.LayerNorm(4, bias=False), F34),
    C("GroupNorm", lambda t: t.nn.GroupNorm(2, 4), ("f", (3, 4, 5))),
    C("GroupNorm-nobias", lambda t: t.nn.GroupNorm(2, 4, bias=False), ("f", (3, 4, 2))),
    C("GroupNorm-noaffine", lambda t: t.nn.GroupNorm(4, 4, affine=False),
      ("f", (2, 4, 2, 3))),
    C("Embedding", lambda t: t.nn.Embedding(6, 3), ("cls", (2, 4), 6)),
    C("Embedding-padding", lambda t: t.nn.Embedding(6, 3, padding_idx=-1),
      ("fixed", (), [[0, 5, 2, 5], [1, 0, 3, 5]])),
    C("Flatten", lambda t: t.nn.Flatten(), ("f", (2, 3, 2))),
    C("Flatten-0-1", lambda t: t.nn.Flatten(0, 1), ("f", (2, 3, 2))),
    C("Unflatten", lambda t: t.nn.Unflatten(1, (2, 3)), ("f", (2, 6))),
    C("Identity", lambda t: t.nn.Identity(3, unused=True), F34),
    C("Dropout", lambda t: t.nn.Dropout(0.3), F34, random=True),
]

ACTIVATIONS = [
    C("ReLU", lambda t: t.nn.ReLU(), F34),
    C("ReLU6", lambda t: t.nn.ReLU6(), ("f", (5, 6))),
    C("LeakyReLU", lambda t: t.nn.LeakyReLU(0.2), F34),
    C("ELU", lambda t: t.nn.ELU(alpha=0.5), F34, f64=True),
    C("SELU", lambda t: t.nn.SELU(), F34),
    C("CELU", lambda t: t.nn.CELU(0.7), F34),
    C("GELU", lambda t: t.nn.GELU(), F34, f64=True),
    C("GELU-tanh", lambda t: t.nn.GELU(approximate="tanh"), F34),
    C("SiLU", lambda t: t.nn.SiLU(), F34),
    C("Mish", lambda t: t.nn.Mish(), F34),
    C("Sigmoid", lambda t: t.nn.Sigmoid(), F34),
    C("Tanh", lambda t: t.nn.Tanh(), F34),
    C("Softplus", lambda t: t.nn.Softplus(beta=2.0, threshold=1.5), F34),
    C("Softsign", lambda t: t.nn.Softsign(), F34),
    C("Hardtanh", lambda t: t.nn.Hardtanh(-0.5, 0.7), F34),
    C("Hardsigmoid", lambda t: t.nn.Hardsigmoid(), ("f", (5, 6))),
    C("Hardswish", lambda t: t.nn.Hardswish(), ("f", (5, 6))),
    C("LogSigmoid", lambda t: t.nn.LogSigmoid(), F34),
    C("Tanhshrink", lambda t: t.nn.Tanhshrink(), F34),
    C("Softmax", lambda t: t.nn.Softmax(dim=1), F34, f64=True),
    C("LogSoftmax", lambda t: t.nn.LogSoftmax(dim=-1), F34),
    C("Softmin", lambda t: t.nn.Softmin(dim=0), F34),
    C("GLU", lambda t: t.nn.GLU(), F34),
    C("GLU-dim0", lambda t: t.nn.GLU(dim=0), ("f", (4, 3))),
]

CLS = ("cls", (4,), 5)
LOSSES = [
    C("MSELoss", lambda t: t.nn.MSELoss(), F34, F34, f64=True),
    C("MSELoss-sum", lambda t: t.nn.MSELoss(reduction="sum"), F34, F34),
    C("MSELoss-none", lambda t: t.nn.MSELoss(reduction="none"), F34, F34),
    C("L1Loss", lambda t: t.nn.L1Loss(), F34, F34),
    C("L1Loss-none", lambda t: t.nn.L1Loss(reduction="none"), F34, F34),
    C("SmoothL1Loss", lambda t: t.nn.SmoothL1Loss(beta=0.5), F34, F34),
    C("SmoothL1Loss-sum", lambda t: t.nn.SmoothL1Loss(reduction="sum"), F34, F34),
    C("HuberLoss", lambda t: t.nn.HuberLoss(delta=0.7), F34, F34),
    C("HuberLoss-none", lambda t: t.nn.HuberLoss(reduction="none", delta=2.0), F34, F34),
    C("CrossEntropyLoss", lambda t: t.nn.CrossEntropyLoss(), F45, CLS, f64=True),
    C("CrossEntropyLoss-smoothing", lambda t: t.nn.CrossEntropyLoss(label_smoothing=0.1),
      F45, CLS),
    C("CrossEntropyLoss-weight-sum", lambda t: t.nn.CrossEntropyLoss(
        weight=t.tensor([1.0, 2.0, 0.5, 1.5, 0.2]), reduction="sum"), F45, CLS),
    C("CrossEntropyLoss-weight-smoothing", lambda t: t.nn.CrossEntropyLoss(
        weight=t.tensor([1.0, 2.0, 0.5, 1.5, 0.2]), label_smoothing=0.2), F45, CLS),
    C("CrossEntropyLoss-ignore", lambda t: t.nn.CrossEntropyLoss(ignore_index=1), F45,
      ("fixed", (), [1, 0, 1, 4])),
    C("CrossEntropyLoss-none", lambda t: t.nn.CrossEntropyLoss(reduction="none"), F45, CLS),
    C("CrossEntropyLoss-probs", lambda t: t.nn.CrossEntropyLoss(label_smoothing=0.2), F45,
      ("prob", (4, 5)), f64=True),
    C("CrossEntropyLoss-spatial", lambda t: t.nn.CrossEntropyLoss(), ("f", (2, 3, 4)),
      ("cls", (2, 4), 3)),
    C("NLLLoss", lambda t: t.nn.NLLLoss(), F45, CLS),
    C("NLLLoss-weight-ignore", lambda t: t.nn.NLLLoss(weight=t.tensor([1.0, 2.0, 0.5, 1.5,
                                                                      0.2]), ignore_index=0),
      F45, ("fixed", (), [0, 3, 1, 0])),
    C("BCELoss", lambda t: t.nn.BCELoss(), ("pos", (3, 4)), ("pos", (3, 4)), f64=True),
    C("BCELoss-weight-sum", lambda t: t.nn.BCELoss(weight=t.tensor([1.0, 2.0, 0.5, 0.1]),
                                                   reduction="sum"),
      ("pos", (3, 4)), ("pos", (3, 4))),
    C("BCEWithLogitsLoss", lambda t: t.nn.BCEWithLogitsLoss(), F34, ("pos", (3, 4))),
    C("BCEWithLogitsLoss-pos-weight", lambda t: t.nn.BCEWithLogitsLoss(
        weight=t.tensor([1.0, 2.0, 0.5, 0.1]), pos_weight=t.tensor([3.0, 0.5, 1.0, 2.0]),
        reduction="none"), F34, ("pos", (3, 4))),
]




def _called(make: Callable, call: Callable) -> Callable:
    """A ``make`` for the table: a module holding make(lib) as ``m`` whose forward is
    call(m, *inputs), its tensor outputs flattened into one (attention layers take masks by
    keyword and return (output, weights))."""
    def build(lib):
        class Called(lib.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.m = make(lib)

            def forward(self, *xs):
                out = call(self.m, *xs)
                outs = out if isinstance(out, tuple) else (out,)
                return lib.cat([o.reshape(-1) for o in outs if o is not None])
        return Called()
    return build


def _mha(**kw) -> Callable:
    return lambda t: t.nn.MultiheadAttention(8, 2, **kw)


def _enc(**kw) -> Callable:
    return lambda t: t.nn.TransformerEncoderLayer(8, 2, 16, **{"dropout": 0.0, **kw})


def _dec(**kw) -> Callable:
    return lambda t: t.nn.TransformerDecoderLayer(8, 2, 16, **{"dropout": 0.0, **kw})


SEQ, BF, TGT = ("f", (5, 2, 8)), ("f", (2, 5, 8)), ("f", (4, 2, 8))
KPM = ("mask", (), [[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]])  # True: a padded key, masked out
ATTENTION = [  # attention and transformer layers, dropout 0 unless marked random
    C("MHA-self", _called(_mha(), lambda m, x: m(x, x, x)), SEQ, f64=True),
    C("MHA-cross", _called(_mha(), lambda m, q, kv: m(q, kv, kv)), TGT, SEQ),
    C("MHA-qkv", _called(_mha(), lambda m, q, k, v: m(q, k, v)), TGT, SEQ, SEQ),
    C("MHA-batch-first-kpm", _called(_mha(batch_first=True), lambda m, x, kpm: m(
        x, x, x, key_padding_mask=kpm, need_weights=False)), BF, KPM),
    C("MHA-bool-mask-per-head", _called(_mha(), lambda m, x, am: m(
        x, x, x, attn_mask=am, average_attn_weights=False)), SEQ, ("above", (5, 5))),
    C("MHA-float-masks-3d", _called(_mha(batch_first=True), lambda m, x, am, kpm: m(
        x, x, x, attn_mask=am, key_padding_mask=kpm)), BF, ("f", (4, 5, 5)), ("f", (2, 5))),
    C("MHA-kdim-vdim", _called(_mha(kdim=3, vdim=6, batch_first=True), lambda m, q, k, v: m(
        q, k, v)), BF, ("f", (2, 7, 3)), ("f", (2, 7, 6)), f64=True),
    C("MHA-bias-kv-zero-attn", _called(_mha(add_bias_kv=True, add_zero_attn=True),
                                       lambda m, x, am, kpm: m(x, x, x, attn_mask=am,
                                                               key_padding_mask=kpm)),
      SEQ, ("above", (5, 5)), KPM),
    C("MHA-nobias", _called(_mha(bias=False), lambda m, x: m(x, x, x)), SEQ),
    C("MHA-unbatched", _called(_mha(), lambda m, q, kv, kpm: m(q, kv, kv,
                                                                key_padding_mask=kpm)),
      ("f", (4, 8)), ("f", (5, 8)), ("mask", (), [0, 1, 0, 0, 1])),
    C("MHA-is-causal-hint", _called(_mha(batch_first=True), lambda m, x, am: m(
        x, x, x, attn_mask=am, is_causal=True, need_weights=False)), BF, ("causal", (5, 5))),
    C("MHA-dropout", _called(_mha(dropout=0.5), lambda m, x: m(x, x, x)), SEQ, random=True),
    C("TransformerEncoderLayer", _enc(), SEQ, f64=True),
    C("TransformerEncoderLayer-masks-norm-first-gelu", _called(
        _enc(batch_first=True, norm_first=True, activation="gelu"),
        lambda m, x, am, kpm: m(x, src_mask=am, src_key_padding_mask=kpm)),
      BF, ("causal", (5, 5)), KPM),
    C("TransformerEncoderLayer-module-activation-eps-nobias", lambda t: t.nn.
      TransformerEncoderLayer(8, 2, 16, 0.0, t.nn.GELU(approximate="tanh"), 1e-3, bias=False),
      SEQ),
    C("TransformerEncoderLayer-function-activation", _enc(activation=lambda x: x * 0.5), SEQ),
    C("TransformerDecoderLayer", _called(_dec(), lambda m, t, mem, am, kpm: m(
        t, mem, tgt_mask=am, memory_key_padding_mask=kpm)), TGT, SEQ, ("causal", (4, 4)),
      KPM, f64=True),
    C("TransformerDecoderLayer-norm-first-gelu", _called(
        _dec(batch_first=True, norm_first=True, activation="gelu"),
        lambda m, t, mem: m(t, mem)), ("f", (2, 4, 8)), BF),
    C("TransformerEncoder-norm-causal", _called(
        lambda t: t.nn.TransformerEncoder(_enc()(t), 2, t.nn.LayerNorm(8)),
        lambda m, x, am: m(x, mask=am, is_causal=True)), SEQ, ("causal", (5, 5))),
    C("TransformerEncoder-kpm", _called(
        lambda t: t.nn.TransformerEncoder(_enc(batch_first=True)(t), 2,
                                          enable_nested_tensor=False),
        lambda m, x, kpm: m(x, src_key_padding_mask=kpm)), BF, KPM),
    C("TransformerDecoder-norm", _called(
        lambda t: t.nn.TransformerDecoder(_dec()(t), 2, t.nn.LayerNorm(8)),
        lambda m, t, mem: m(t, mem)), TGT, SEQ),
    C("Transformer", _called(
        lambda t: t.nn.Transformer(8, 2, 2, 1, 16, 0.0, batch_first=True),
        lambda m, src, tgt, am, kpm: m(src, tgt, tgt_mask=am, src_key_padding_mask=kpm)),
      BF, ("f", (2, 4, 8)), ("causal", (4, 4)), KPM, f64=True),
    C("Transformer-norm-first-gelu", _called(
        lambda t: t.nn.Transformer(8, 2, 1, 2, 16, 0.0, "gelu", norm_first=True),
        lambda m, src, tgt: m(src, tgt)), SEQ, TGT),
    C("TransformerEncoderLayer-dropout", _enc(dropout=0.2), SEQ, random=True),
]


def _module_params():
    out = []
    for c in LAYERS + ACTIVATIONS + LOSSES + ATTENTION:
        for dtype in ("float32", "float64") if c.f64 else ("float32",):
            for mode in ("eval",) if c.random else ("train", "eval"):
                out.append(pytest.param(c, dtype, mode, id=f"{c.id}-{dtype}-{mode}"))
    return out


def _pair(case: Case, dtype: str):
    """The torch module (parameters moved off their ones/zeros init) and the graphc one
    with its state_dict."""
    torch.manual_seed(zlib.crc32(case.id.encode()))
    tm = case.make(torch)
    with torch.no_grad():
        for p in tm.parameters():
            p.add_(0.3 * torch.randn_like(p))
    gm = case.make(graphc)
    _to_graphc(tm, gm)
    if dtype == "float64":
        assert gm.double() is gm
        tm.double()
    return tm, gm


def _step(tm, gm, case: Case, rng: np.random.Generator, dtype: str) -> None:
    """One forward (output compared) and backward of a random cotangent (gradients of the
    first input and of every parameter compared)."""
    xs = _make_inputs(case.inputs, rng, dtype)
    txs, gxs = [torch.from_numpy(a.copy()) for a in xs], [graphc.tensor(a) for a in xs]
    if xs[0].dtype.kind == "f":
        txs[0].requires_grad_(True)
        gxs[0].requires_grad_(True)
    tout, gout = tm(*txs), gm(*gxs)
    _close(gout.detach().numpy(), tout.detach().numpy(), dtype, "output")
    assert gout.dtype.name == str(tout.dtype).removeprefix("torch.")
    if not tout.requires_grad:
        assert not gout.requires_grad
        return
    cot = np.asarray(rng.standard_normal(tuple(tout.shape)), dtype=NP[dtype])
    tout.backward(torch.from_numpy(cot))
    gout.backward(graphc.tensor(cot))
    if txs[0].requires_grad:
        _close(gxs[0].grad.numpy(), txs[0].grad.numpy(), dtype, "input grad")
    tnamed, gnamed = dict(tm.named_parameters()), dict(gm.named_parameters())
    assert list(gnamed) == list(tnamed)
    for name, tp in tnamed.items():
        gp = gnamed[name]
        assert gp.requires_grad == tp.requires_grad, name
        if tp.grad is None:
            assert gp.grad is None, name
        else:
            _close(gp.grad.numpy(), tp.grad.numpy(), dtype, f"{name}.grad")
    tm.zero_grad()
    gm.zero_grad()


def _assert_state_equal(gm, tm, dtype: str) -> None:
    gsd, tsd = gm.state_dict(), tm.state_dict()
    assert list(gsd) == list(tsd)
    for k, v in tsd.items():
        assert gsd[k].dtype.name == str(v.dtype).removeprefix("torch."), k
        _close(gsd[k].numpy(), v.numpy(), dtype, k)


@needs_torch
@pytest.mark.parametrize("case,dtype,mode", _module_params())
def test_module_matches_torch(case: Case, dtype: str, mode: str):
    """Outputs, gradients and state after each step; in eval mode after two training steps
    (BatchNorm's running stats are real by then, and must stay put in eval)."""
    tm, gm = _pair(case, dtype)
    assert repr(gm) == repr(tm).replace("torch", "graphc")
    rng = np.random.default_rng(zlib.crc32(f"{case.id}/{mode}".encode()))
    if mode == "eval":
        for _ in range(0 if case.random else 2):
            _step(tm, gm, case, rng, dtype)
        assert gm.eval() is gm
        tm.eval()
    assert gm.training == tm.training
    for _ in range(3 if mode == "train" else 2):
        _step(tm, gm, case, rng, dtype)
        _assert_state_equal(gm, tm, dtype)


@needs_torch
def test_batchnorm_state_after_training_then_eval():
    """num_batches_tracked counts training steps only; momentum=None is the cumulative
    average; eval leaves every buffer alone."""
    tm, gm = torch.nn.BatchNorm1d(2, momentum=None), nn.BatchNorm1d(2, momentum=None)
    rng = np.random.default_rng(1)
    for i in range(4):
        if i == 3:
            tm.eval()
            gm.eval()
        x = rng.standard_normal((5, 2)).astype(np.float32) * (i + 1) + i
        _close(gm(graphc.tensor(x)).detach().numpy(), tm(torch.from_numpy(x)).detach().numpy())
    assert int(gm.num_batches_tracked) == 3 and gm.num_batches_tracked.dtype == graphc.int64
    _assert_state_equal(gm, tm, "float32")
    gm.reset_running_stats()
    assert gm.running_mean.numpy().tolist() == [0, 0] and int(gm.num_batches_tracked) == 0


def test_dropout_train_zeroes_about_p_and_scales():
    graphc.manual_seed(0)
    x = graphc.ones(40, 50, requires_grad=True)
    d = nn.Dropout(0.3)
    out = d(x)
    v = out.detach().numpy()
    kept = v != 0
    assert abs(1 - kept.mean() - 0.3) < 0.03
    np.testing.assert_allclose(v[kept], 1 / 0.7, rtol=1e-6)
    out.backward(graphc.ones(40, 50))
    np.testing.assert_allclose(x.grad.numpy(), np.where(kept, 1 / 0.7, 0), rtol=1e-6)
    assert not np.array_equal(d(x).detach().numpy(), v)  # a fresh mask per call
    d.eval()
    np.testing.assert_array_equal(d(x).detach().numpy(), np.ones((40, 50)))
    assert (nn.Dropout(1.0)(x).detach().numpy() == 0).all()
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).detach().numpy(), np.ones((40, 50)))
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


# ---------------------------------------------------------------- the Module API

def _net(lib):
    """A custom Module with a Sequential, a ModuleList, a ModuleDict, its own parameter and
    persistent and non-persistent buffers, built the same way with torch or graphc."""
    tnn = lib.nn

    class Net(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = tnn.Parameter(lib.ones(3))
            self.features = tnn.Sequential(tnn.Conv2d(1, 2, 3, padding=1), tnn.BatchNorm2d(2),
                                           tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
                                           tnn.Linear(8, 4))
            self.register_buffer("mask", lib.ones(3), persistent=False)
            self.heads = tnn.ModuleList([tnn.Linear(4, 3), tnn.Linear(4, 3, bias=False)])
            self.register_buffer("offset", lib.zeros(3))
            self.post = tnn.ModuleDict({"norm": tnn.LayerNorm(3), "act": tnn.Tanh()})

        def forward(self, x):
            h = self.features(x)
            y = (self.heads[0](h) + self.heads[1](h)) * self.scale * self.mask + self.offset
            return self.post["act"](self.post["norm"](y))

    return Net()


@pytest.fixture
def nets():
    if torch is None:
        pytest.skip("PyTorch (the oracle extra) is not installed")
    torch.manual_seed(0)
    tm, gm = _net(torch), _net(graphc)
    _to_graphc(tm, gm)
    return tm, gm


def _names(it) -> list[str]:
    return [n for n, _ in it]


def test_state_dict_and_traversal_order_match_torch(nets):
    tm, gm = nets
    assert list(gm.state_dict()) == list(tm.state_dict())
    assert "mask" not in gm.state_dict() and "offset" in gm.state_dict()
    assert [tuple(v.shape) for v in gm.state_dict().values()] == \
        [tuple(v.shape) for v in tm.state_dict().values()]
    assert _names(gm.named_parameters()) == _names(tm.named_parameters())
    assert _names(gm.named_buffers()) == _names(tm.named_buffers())
    assert _names(gm.named_modules()) == _names(tm.named_modules())
    assert _names(gm.named_children()) == _names(tm.named_children())
    assert [type(m).__name__ for m in gm.children()] == \
        [type(m).__name__ for m in tm.children()]
    assert [type(m).__name__ for m in gm.modules()] == [type(m).__name__ for m in tm.modules()]
    assert _names(gm.named_parameters(recurse=False)) == ["scale"]
    assert _names(gm.heads.named_parameters(prefix="heads")) == \
        _names(tm.heads.named_parameters(prefix="heads"))
    assert all(isinstance(p, nn.Parameter) for p in gm.parameters())
    assert isinstance(gm.state_dict(keep_vars=True)["scale"], nn.Parameter)
    assert not gm.state_dict()["scale"].requires_grad  # detached, as torch's
    gm.eval()
    tm.eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 4)).astype(np.float32)
    _close(gm(graphc.tensor(x)).detach().numpy(), tm(torch.from_numpy(x)).detach().numpy())


def test_repr_of_a_nested_model_matches_torch(nets):
    tm, gm = nets
    assert repr(gm) == repr(tm).replace("torch", "graphc")
    assert repr(gm.heads) == repr(tm.heads)
    assert repr(nn.Sequential()) == repr(torch.nn.Sequential())


def _load_error(model, sd) -> str:
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(sd)
    return str(info.value)


def test_load_state_dict_strict_errors_match_torch(nets):
    tm, gm = nets
    tsd = tm.state_dict()
    del tsd["features.1.running_var"], tsd["heads.0.bias"]
    tsd["heads.2.weight"] = torch.zeros(3)
    tsd["features.5.weight"] = torch.zeros(4, 9)
    gsd = {k: graphc.tensor(v.numpy()) for k, v in tsd.items()}
    want = _load_error(tm, tsd)
    got = _load_error(gm, gsd)
    assert got == want.replace("torch", "graphc")
    assert "Missing key(s)" in got and '"heads.2.weight"' in got and "size mismatch" in got
    # strict=False reports the keys and still raises for a size mismatch
    assert _load_error_nonstrict(gm, gsd) == \
        _load_error_nonstrict(tm, tsd).replace("torch", "graphc")
    tsd["features.5.weight"] = torch.zeros(4, 8)
    gsd["features.5.weight"] = graphc.zeros(4, 8)
    want, got = tm.load_state_dict(tsd, strict=False), gm.load_state_dict(gsd, strict=False)
    assert got.missing_keys == want.missing_keys == ["features.1.running_var", "heads.0.bias"]
    assert got.unexpected_keys == want.unexpected_keys == ["heads.2.weight"]
    assert repr(got) == repr(want)
    assert (gm.features[5].weight.detach().numpy() == 0).all()  # copied in place
    assert repr(gm.load_state_dict(gm.state_dict())) == "<All keys matched successfully>"


def _load_error_nonstrict(model, sd) -> str:
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(sd, strict=False)
    return str(info.value)


def test_load_state_dict_copies_in_place_and_assign_replaces(nets):
    _, gm = nets
    lin = gm.heads[0]
    w = lin.weight
    lin.load_state_dict({"weight": graphc.full((3, 4), 2.0), "bias": graphc.zeros(3)})
    assert lin.weight is w and (w.detach().numpy() == 2).all() and w.requires_grad
    new = graphc.full((3, 4), 3.0)
    lin.load_state_dict({"weight": new, "bias": graphc.zeros(3)}, assign=True)
    assert lin.weight is not w and isinstance(lin.weight, nn.Parameter)
    assert lin.weight.requires_grad and (lin.weight.detach().numpy() == 3).all()


def test_train_eval_propagate_like_torch(nets):
    tm, gm = nets
    for g, _ in ((gm.eval(), tm.eval()), (gm.features.train(), tm.features.train()),
                 (gm.train(), tm.train()), (gm.heads.train(False), tm.heads.train(False))):
        assert isinstance(g, nn.Module)
        assert [m.training for m in gm.modules()] == [m.training for m in tm.modules()]


def test_zero_grad(nets):
    _, gm = nets
    x = graphc.randn(2, 1, 4, 4)
    gm(x).sum().backward()
    assert all(p.grad is not None for p in gm.parameters())
    gm.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in gm.parameters())
    gm(x).sum().backward()
    gm.zero_grad()
    assert all(p.grad is None for p in gm.parameters())


def test_apply_with_init_matches_torch(nets):
    tm, gm = nets
    order = {"graphc": [], "torch": []}

    def init_fn(lib, key):
        def fn(m):
            order[key].append(type(m).__name__)
            if isinstance(m, lib.nn.Linear):
                lib.nn.init.constant_(m.weight, 0.25)
                if m.bias is not None:
                    lib.nn.init.zeros_(m.bias)
            elif isinstance(m, lib.nn.Conv2d):
                lib.nn.init.ones_(m.weight)
        return fn
    assert gm.apply(init_fn(graphc, "graphc")) is gm
    tm.apply(init_fn(torch, "torch"))
    assert order["graphc"] == order["torch"]
    _assert_state_equal(gm, tm, "float32")
    lin = nn.Linear(30, 20)
    nn.init.xavier_uniform_(lin.weight)
    assert np.abs(lin.weight.detach().numpy()).max() <= np.sqrt(6 / 50) + 1e-7


def test_to_float64_converts_in_place(nets):
    tm, gm = nets
    params = list(gm.parameters())
    assert gm.to(graphc.float64) is gm
    tm.to(torch.float64)
    assert [p is q for p, q in zip(gm.parameters(), params)] == [True] * len(params)
    assert all(p.dtype == graphc.float64 and p.requires_grad and p.is_leaf for p in params)
    for (name, b), (_, tb) in zip(gm.named_buffers(), tm.named_buffers()):
        assert b.dtype.name == str(tb.dtype).removeprefix("torch."), name
    assert gm.features[1].num_batches_tracked.dtype == graphc.int64
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 4))
    out = gm(graphc.tensor(x))
    assert out.dtype == graphc.float64
    _close(out.detach().numpy(), tm(torch.from_numpy(x)).detach().numpy(), "float64")
    with pytest.raises(TypeError):
        gm.to(graphc.int64)
    assert gm.float() is gm and params[0].dtype == graphc.float32


def _containers(lib):
    tnn = lib.nn
    seq = tnn.Sequential(tnn.Linear(2, 3), tnn.ReLU(), tnn.Linear(3, 3), tnn.Tanh())
    del seq[1]
    seq.append(tnn.Sigmoid())
    mlist = tnn.ModuleList([tnn.Linear(3, 3), tnn.Identity()])
    mlist.insert(1, tnn.ReLU())
    mlist.append(tnn.Linear(3, 2, bias=False))
    del mlist[0]
    mdict = tnn.ModuleDict({"z": tnn.Linear(2, 2)})
    mdict["a"] = tnn.Tanh()
    mdict.update([("m", tnn.Linear(2, 1))])
    plist = tnn.ParameterList([tnn.Parameter(lib.ones(3)), tnn.Parameter(lib.zeros(2, 2))])
    return tnn.ModuleDict({"seq": seq, "head": seq[1:], "mlist": mlist, "mdict": mdict,
                           "plist": plist})


@needs_torch
def test_container_edits_match_torch():
    """Deleting from a Sequential renumbers it, a slice is a Sequential of the same modules,
    ModuleList insert/del renumber, ModuleDict keeps insertion order, ParameterList
    registers '0', '1', ...; keys, names and repr as PyTorch's."""
    tm, gm = _containers(torch), _containers(graphc)
    assert repr(gm) == repr(tm).replace("torch", "graphc")
    assert list(gm.state_dict()) == list(tm.state_dict())
    assert _names(gm.named_modules()) == _names(tm.named_modules())
    assert _names(gm.named_parameters()) == _names(tm.named_parameters())
    assert gm["head"][0] is gm["seq"][1] and len(gm["seq"]) == 4
    assert list(gm["mdict"].keys()) == list(tm["mdict"].keys()) == ["z", "a", "m"]
    with pytest.raises(IndexError):
        gm["seq"][4]


def _shared(lib):
    a, c = lib.nn.Linear(3, 3), lib.nn.Linear(3, 3, bias=False)
    c.weight = a.weight  # tied across two modules
    return lib.nn.Sequential(a, lib.nn.ReLU(), a, c)


@needs_torch
def test_shared_parameters_are_counted_once_like_torch():
    tm, gm = _shared(torch), _shared(graphc)
    assert len(list(gm.parameters())) == len(list(tm.parameters())) == 2
    assert _names(gm.named_parameters()) == _names(tm.named_parameters())
    assert _names(gm.named_modules()) == _names(tm.named_modules())
    assert list(gm.state_dict()) == list(tm.state_dict())  # every path, as torch's
    assert _names(gm.named_parameters(remove_duplicate=False)) == \
        _names(tm.named_parameters(remove_duplicate=False))
    opt = optim.SGD(gm.parameters(), lr=0.1)  # one update per shared parameter
    gm(graphc.ones(2, 3)).sum().backward()
    before, g = gm[0].weight.detach().numpy().copy(), gm[0].weight.grad.numpy()
    opt.step()
    np.testing.assert_allclose(gm[3].weight.detach().numpy(), before - 0.1 * g, rtol=1e-6)


def test_deepcopy_copies_parameters_and_keeps_sharing():
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 4))
    m[2].weight.requires_grad_(False)
    m[1].num_batches_tracked.add_(5)
    m2 = copy.deepcopy(m)
    for (k, a), (k2, b) in zip(m.state_dict(keep_vars=True).items(),
                               m2.state_dict(keep_vars=True).items()):
        assert k == k2 and a is not b and type(a) is type(b), k
        assert a.requires_grad == b.requires_grad and a.dtype == b.dtype, k
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    with graphc.no_grad():
        m2[0].weight.add_(1.0)
    assert not np.array_equal(m[0].weight.detach().numpy(), m2[0].weight.detach().numpy())
    s = copy.deepcopy(_shared(graphc))
    assert s[0] is s[2] and s[3].weight is s[0].weight
    assert repr(m2) == repr(m)


@needs_torch
def test_parameter_repr_and_type():
    p = nn.Parameter(graphc.tensor([1.0, 2.0]))
    assert isinstance(p, nn.Parameter) and isinstance(p, graphc.Tensor)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    assert repr(p) == repr(torch.nn.Parameter(torch.tensor([1.0, 2.0])))
    q = nn.Parameter(graphc.zeros(2), requires_grad=False)
    assert repr(q) == repr(torch.nn.Parameter(torch.zeros(2), requires_grad=False))
    assert not isinstance(p * 2, nn.Parameter)


@needs_torch
def test_assigning_a_plain_tensor_to_a_parameter_raises_type_error():
    g, t = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    with pytest.raises(TypeError) as gi:
        g.weight = graphc.zeros(2, 2)
    with pytest.raises(TypeError) as ti:
        t.weight = torch.zeros(2, 2)
    assert "cannot assign" in str(gi.value) and "parameter 'weight'" in str(gi.value)
    assert "Parameter or None" in str(gi.value) and "Parameter or None" in str(ti.value)
    g.bias = None  # None is allowed, and drops it from state_dict and parameters
    assert list(g.state_dict()) == ["weight"] and len(list(g.parameters())) == 1
    g.bias = nn.Parameter(graphc.zeros(2))
    assert list(g.state_dict()) == ["weight", "bias"]
    g.extra = graphc.zeros(1)  # a plain tensor under a new name is a plain attribute
    assert "extra" not in g.state_dict()


def _uniform_stats(t: graphc.Tensor, bound: float) -> None:
    v = t.detach().numpy().ravel()
    assert np.abs(v).max() <= bound + 1e-7 and np.abs(v).max() > 0.9 * bound
    assert abs(v.mean()) < 4 * bound / np.sqrt(3 * v.size)  # 4 standard errors
    np.testing.assert_allclose(v.std(), bound / np.sqrt(3), rtol=0.1)


def test_default_initialization_statistics_are_torchs():
    graphc.manual_seed(0)
    lin = nn.Linear(100, 200)
    _uniform_stats(lin.weight, 1 / np.sqrt(100))  # kaiming_uniform with a=sqrt(5)
    _uniform_stats(lin.bias, 1 / np.sqrt(100))
    conv = nn.Conv2d(4, 60, 3)
    _uniform_stats(conv.weight, 1 / np.sqrt(36))
    _uniform_stats(conv.bias, 1 / np.sqrt(36))
    conv1 = nn.Conv1d(6, 300, 2, groups=2)
    _uniform_stats(conv1.weight, 1 / np.sqrt(6))
    emb = nn.Embedding(100, 30, padding_idx=3).weight.detach().numpy()
    assert (emb[3] == 0).all()
    assert abs(emb.mean()) < 0.05 and abs(emb.std() - 1) < 0.05
    for m in (nn.BatchNorm2d(5), nn.LayerNorm(5), nn.GroupNorm(1, 5)):
        assert (m.weight.detach().numpy() == 1).all() and not m.bias.detach().numpy().any()
    bn = nn.BatchNorm1d(5)
    assert (bn.running_var.numpy() == 1).all() and not bn.running_mean.numpy().any()
    assert all(p.dtype == graphc.float32 for p in lin.parameters())
    assert nn.Linear(2, 3, dtype=graphc.float64).weight.dtype == graphc.float64


# ---------------------------------------------------------------- bad input

def test_linear_in_features_mismatch_names_layer_and_shapes():
    lin = nn.Linear(5, 3)
    with pytest.raises(RuntimeError) as info:
        lin(graphc.ones(2, 4))
    msg = str(info.value)
    assert "Linear(in_features=5, out_features=3" in msg
    assert "[2, 4]" in msg and "(*, 5)" in msg


def test_conv2d_channel_mismatch_names_layer_and_shapes():
    conv = nn.Conv2d(3, 4, 3)
    for compiled in (False, True):  # the check runs at trace time too: no code is generated
        run = graphc.compile(conv) if compiled else conv
        with pytest.raises(RuntimeError) as info:
            run(graphc.ones(1, 2, 5, 5))
        msg = str(info.value)
        assert "Conv2d(3, 4, kernel_size=(3, 3)" in msg
        assert "[1, 2, 5, 5]" in msg and "(N, 3, *, *)" in msg


def test_cross_entropy_class_out_of_range_raises_index_error_eager_and_compiled():
    loss_fn = nn.CrossEntropyLoss()
    x = graphc.tensor(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32))
    good, bad = graphc.tensor([0, 3, 1]), graphc.tensor([0, 4, 1])
    with pytest.raises(IndexError):
        loss_fn(x, bad)
    with pytest.raises(IndexError):
        loss_fn(x, graphc.tensor([0, -2, 1]))

    @graphc.compile
    def compiled(x, y):
        return loss_fn(x, y)
    np.testing.assert_allclose(compiled(x, good).item(), loss_fn(x, good).item(), rtol=1e-6)
    with pytest.raises(IndexError):
        compiled(x, bad)
    assert len(compiled.cache) == 1


# ---------------------------------------------------------------- compiled against eager

def _train_both(make_model, make_opt, xs, ys, seed_steps: bool = False):
    """The same training step eager and compiled (optimizer inside), on two models with
    one state_dict (``seed_steps``: the default generator seeded before each step, so both
    draw the same dropout masks). Returns both models, optimizers, per-step losses and the
    step."""
    runs = []
    graphc.manual_seed(0)
    first = make_model()
    for compiled in (False, True):
        model = make_model()
        model.load_state_dict(first.state_dict())
        opt = make_opt(model.parameters())
        loss_fn = nn.CrossEntropyLoss()

        def step(x, y):
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            return loss
        run = graphc.compile(step) if compiled else step
        losses = []
        for i, (x, y) in enumerate(zip(xs, ys)):
            if seed_steps:
                graphc.manual_seed(100 + i)
            losses.append(run(x, y).item())
        runs.append((model, opt, losses, run))
    return runs


def _data(shape, classes, steps=20, seed=0):
    rng = np.random.default_rng(seed)
    return ([graphc.tensor(rng.standard_normal(shape).astype(np.float32))
             for _ in range(steps)],
            [graphc.tensor(rng.integers(0, classes, shape[0])) for _ in range(steps)])


def _compare_models(got, want) -> None:
    gsd, wsd = got.state_dict(), want.state_dict()
    assert list(gsd) == list(wsd)
    for k in wsd:
        _close(gsd[k].numpy(), wsd[k].numpy(), what=k)
    for (name, p), (_, q) in zip(got.named_parameters(), want.named_parameters()):
        assert isinstance(p, nn.Parameter) and p.is_leaf and p.requires_grad, name
        _close(p.grad.numpy(), q.grad.numpy(), what=f"{name}.grad")


def test_compiled_mlp_sgd_momentum_training_equals_eager():
    xs, ys = _data((16, 64), 10)
    (em, eopt, elosses, _), (cm, copt, closses, run) = _train_both(
        lambda: nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)),
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), xs, ys)
    _close(closses, elosses, what="losses")
    assert elosses[-1] < elosses[0]
    _compare_models(cm, em)
    for pc, pe in zip(cm.parameters(), em.parameters()):
        _close(copt.state[pc]["momentum_buffer"].numpy(),
               eopt.state[pe]["momentum_buffer"].numpy(), what="momentum_buffer")
    # zero_grad() sets .grad without reading it: the step compiles once
    assert len(run.cache) == 1 and run.retraces == 0


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10))


def test_compiled_cnn_adam_training_equals_eager():
    """In train mode: BatchNorm's running stats and num_batches_tracked are compared too.
    The conv bias feeds BatchNorm, so its true gradient is 0 and eager's and compiled's
    are rounding noise; Adam's default eps (1e-8) would turn that noise into steps of
    +-lr, so eps is 1e-3 here to keep the comparison about the program, not the noise."""
    xs, ys = _data((8, 1, 8, 8), 10, seed=1)
    (em, _, elosses, _), (cm, _, closses, run) = _train_both(
        _cnn, lambda ps: optim.Adam(ps, lr=0.01, eps=1e-3), xs, ys)
    assert em.training and cm.training
    _close(closses, elosses, what="losses")
    assert elosses[-1] < elosses[0]
    _compare_models(cm, em)
    assert int(cm[1].num_batches_tracked) == 20
    assert len(run.cache) == 1 and run.retraces == 0


def test_compiled_module_inference_respects_train_and_eval():
    graphc.manual_seed(0)
    make = lambda: nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(),  # noqa: E731
                                 nn.Dropout(0.5), nn.Linear(8, 3))
    eager, model = make(), make()
    model.load_state_dict(eager.state_dict())
    compiled = graphc.compile(model)
    assert [p is q for p, q in zip(compiled.parameters(), model.parameters())] == [True] * 6
    assert list(compiled.state_dict()) == list(model.state_dict())
    rng = np.random.default_rng(0)
    x = graphc.tensor(rng.standard_normal((5, 6)).astype(np.float32))
    # under no_grad: outputs that need no gradients run natively (with grad mode on, a
    # compiled module runs eagerly; see test_compiler)
    with graphc.no_grad():
        for _ in range(2):  # train mode: batch stats, running stats written back, dropout
            graphc.manual_seed(7)
            want = eager(x)
            graphc.manual_seed(7)
            got = compiled(x)
            assert not compiled.last.needs_autograd
            _close(got.numpy(), want.numpy(), what="train output")
        _compare_state(model, eager)
        assert int(model[1].num_batches_tracked) == 2
        assert compiled.eval() is model and not model[3].training
        eager.eval()
        want = eager(x).numpy()
        for _ in range(2):  # deterministic, and the running stats stay put
            _close(compiled(x).numpy(), want, what="eval output")
        _compare_state(model, eager)
        model[4].bias.add_(1.0)  # the compiled module reads its parameters at every call
        eager[4].bias.add_(1.0)
        _close(compiled(x).numpy(), eager(x).numpy(), what="after update")
    assert len(compiled.cache) == 2 and compiled.retraces == 1  # one program per mode


def _compare_state(got, want) -> None:
    for (k, a), (_, b) in zip(got.state_dict().items(), want.state_dict().items()):
        _close(a.numpy(), b.numpy(), what=k)


def test_compiled_batchnorm_cumulative_average_equals_eager():
    """momentum=None averages over num_batches_tracked, a buffer the compiled step updates:
    the factor must come from the buffer at each call, not from the value seen when
    tracing."""
    rng = np.random.default_rng(2)
    xs = [graphc.tensor(rng.standard_normal((6, 3)).astype(np.float32) + i) for i in range(4)]
    eager, model = nn.BatchNorm1d(3, momentum=None), nn.BatchNorm1d(3, momentum=None)
    compiled = graphc.compile(model)
    with graphc.no_grad():  # natively (see test_compiled_module_inference_respects_...)
        for x in xs:
            _close(compiled(x).numpy(), eager(x).numpy(), what="output")
            assert not compiled.last.needs_autograd
    _compare_state(model, eager)
    assert int(model.num_batches_tracked) == 4
    assert len(compiled.cache) == 1 and compiled.retraces == 0


def test_class_targets_must_be_int64_or_uint8_like_pytorch():
    x = graphc.tensor(np.arange(12, dtype=np.float32).reshape(4, 3) / 7)
    idx = [0, 1, 2, 0]
    torch_ce = None
    if torch is not None:
        torch_ce = torch.nn.functional.cross_entropy(torch.tensor(x.numpy()), torch.tensor(idx))
    want = float(nn.functional.cross_entropy(x, graphc.tensor(idx)))
    if torch_ce is not None:
        assert abs(want - float(torch_ce)) < 1e-6
    got = nn.functional.cross_entropy(x, graphc.tensor(idx, dtype=graphc.uint8))
    assert abs(float(got) - want) < 1e-6
    with pytest.raises(RuntimeError, match="int64 or uint8.*got int32"):
        nn.functional.cross_entropy(x, graphc.tensor(idx, dtype=graphc.int32))


def test_load_state_dict_names_a_value_that_is_not_a_tensor():
    m = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match='parameter named "weight".*<class \'str\'>'):
        m.load_state_dict({"weight": "x", "bias": graphc.ones(2)})
    m.load_state_dict({"weight": np.eye(2, dtype=np.float32), "bias": [1.0, 2.0]})  # values
    np.testing.assert_array_equal(m.weight.detach().numpy(), np.eye(2))
    np.testing.assert_array_equal(m.bias.detach().numpy(), [1.0, 2.0])


def test_container_indices_out_of_range_raise():
    pl = nn.ParameterList([graphc.ones(1), graphc.ones(2)])
    assert pl[-1].shape == (2,) and pl[0].shape == (1,)
    for c in (pl, nn.Sequential(nn.ReLU(), nn.Tanh()), nn.ModuleList([nn.ReLU(), nn.Tanh()])):
        with pytest.raises(IndexError, match="index 5 is out of range"):
            c[5]  # ParameterList used to wrap around to c[1]
