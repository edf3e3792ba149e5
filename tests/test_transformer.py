"""Attention and transformer layers beyond the module table (tests/test_nn.py, ATTENTION):
mask conventions and fully masked rows, weight tying, PyTorch's initialization, dropout by
statistics and train/eval, bad input (PyTorch's exception types, the layer, the shapes and
the user's line), and compiled against eager (inference and a GPT-like training step)."""
from __future__ import annotations

import math
import warnings

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
F = nn.functional


def _arr(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _same_weights(gm, tm) -> None:
    gm.load_state_dict({k: graphc.tensor(v.detach().numpy()) for k, v in
                        tm.state_dict().items()})


# ---------------------------------------------------------------- masks

def test_sdpa_bool_mask_keeps_true_and_mha_masks_true():
    """SDPA's True attends, MultiheadAttention's True is masked out: the same attention
    through both conventions, and against the float mask that adds -inf."""
    graphc.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    x = graphc.tensor(_arr(2, 5, 8))
    padded = np.array([[0, 0, 1, 0, 1], [0, 0, 0, 0, 0]], bool)
    out, weights = mha(x, x, x, key_padding_mask=graphc.tensor(padded))
    w = weights.detach().numpy()
    assert (w[0][:, padded[0]] == 0).all() and (w[0][:, ~padded[0]] > 0).all()
    np.testing.assert_allclose(w.sum(-1), 1, rtol=1e-6)
    floats = np.where(padded, -np.inf, 0).astype(np.float32)
    out2, w2 = mha(x, x, x, key_padding_mask=graphc.tensor(floats))
    np.testing.assert_allclose(out2.detach().numpy(), out.detach().numpy(), rtol=1e-6)
    q, k, v = (graphc.tensor(_arr(2, 3, 4, 6, seed=i)) for i in range(3))
    keep = graphc.tensor(np.array([True, False, True, True]))
    want = F.scaled_dot_product_attention(q[..., [0, 2, 3], :], k[..., [0, 2, 3], :],
                                          v[..., [0, 2, 3], :]).numpy()
    got = F.scaled_dot_product_attention(q[..., [0, 2, 3], :], k, v, attn_mask=keep).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@needs_torch
def test_fully_masked_rows_are_zero_in_sdpa_and_nan_in_mha_weights_like_torch():
    """A query that may attend to nothing: SDPA (and MultiheadAttention without weights)
    gives zeros and a zero gradient; the weights path's softmax gives NaN, as PyTorch."""
    q, k, v = _arr(1, 2, 3, 4), _arr(1, 2, 5, 4, seed=1), _arr(1, 2, 5, 4, seed=2)
    keep = np.ones((3, 5), bool)
    keep[1] = False
    gq = graphc.tensor(q, requires_grad=True)
    out = F.scaled_dot_product_attention(gq, graphc.tensor(k), graphc.tensor(v),
                                         attn_mask=graphc.tensor(keep))
    assert (out.detach().numpy()[:, :, 1] == 0).all()
    out.sum().backward()
    assert (gq.grad.numpy()[:, :, 1] == 0).all() and np.isfinite(gq.grad.numpy()).all()
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(4, 2, batch_first=True)
    gm = nn.MultiheadAttention(4, 2, batch_first=True)
    _same_weights(gm, tm)
    x, kpm = _arr(2, 3, 4), np.array([[1, 1, 1], [0, 1, 0]], bool)
    for need in (True, False):
        t = tm(*(torch.tensor(x),) * 3, key_padding_mask=torch.tensor(kpm),
               need_weights=need)[0].detach().numpy()
        g = gm(*(graphc.tensor(x),) * 3, key_padding_mask=graphc.tensor(kpm),
               need_weights=need)[0].detach().numpy()
        assert np.array_equal(np.isnan(g), np.isnan(t)) and np.isnan(g).any() == need
        np.testing.assert_allclose(g, t, rtol=1e-5, atol=1e-6)


def test_sdpa_kernel_accepts_backends_like_torch():
    from graphc.nn.attention import SDPBackend, sdpa_kernel
    q = graphc.tensor(_arr(1, 2, 3, 4))
    want = F.scaled_dot_product_attention(q, q, q, is_causal=True).numpy()
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.MATH]):
        got = F.scaled_dot_product_attention(q, q, q, is_causal=True).numpy()
    np.testing.assert_array_equal(got, want)
    if torch is not None:
        assert {m.name: m.value for m in SDPBackend} == \
            {m: v.value for m, v in torch.nn.attention.SDPBackend.__members__.items()}
    with pytest.raises(TypeError):
        with sdpa_kernel(["flash"]):
            pass


@needs_torch
def test_generate_square_subsequent_mask_is_torchs():
    for dtype in (None, "float64"):
        g = nn.Transformer.generate_square_subsequent_mask(
            4, dtype=None if dtype is None else getattr(graphc, dtype))
        t = torch.nn.Transformer.generate_square_subsequent_mask(
            4, dtype=None if dtype is None else getattr(torch, dtype))
        assert g.dtype.name == str(t.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(g.numpy(), t.numpy())


@needs_torch
def test_small_integer_powers_are_torchs_numbers_bit_for_bit():
    """x ** 3 (the tanh GELU's cube) is x * x * x in PyTorch; numpy's powf rounds
    differently (and is 100x slower on float32)."""
    x = _arr(1000) * 3
    for e in (2, 2.0, 3, 3.0, -2.0):
        for d in (np.float32, np.float64):
            got = graphc.pow(graphc.tensor(x.astype(d)), e).numpy()
            want = torch.pow(torch.tensor(x.astype(d)), e).numpy()
            np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------- weight tying

def _tied_lm(lib):
    class TinyLM(lib.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = lib.nn.ModuleDict({"wte": lib.nn.Embedding(11, 8)})
            self.lm_head = lib.nn.Linear(8, 11, bias=False)
            self.transformer.wte.weight = self.lm_head.weight  # nanoGPT's line

        def forward(self, idx):
            return self.lm_head(lib.tanh(self.transformer.wte(idx)))
    return TinyLM()


@needs_torch
def test_tied_weight_is_one_parameter_like_torch():
    torch.manual_seed(0)
    tm, gm = _tied_lm(torch), _tied_lm(graphc)
    _same_weights(gm, tm)
    assert gm.transformer.wte.weight is gm.lm_head.weight
    names = [n for n, _ in gm.named_parameters()]
    assert names == [n for n, _ in tm.named_parameters()] == ["transformer.wte.weight"]
    assert len(list(gm.parameters())) == 1
    assert list(gm.state_dict()) == list(tm.state_dict()) == ["transformer.wte.weight",
                                                              "lm_head.weight"]
    idx = np.array([[1, 4, 4, 10], [0, 2, 3, 1]])
    tl, gl = tm(torch.tensor(idx)).square().sum(), gm(graphc.tensor(idx)).square().sum()
    tl.backward()
    gl.backward()
    w = gm.lm_head.weight
    # both uses' gradients accumulate in the one tensor, as torch's
    np.testing.assert_allclose(w.grad.numpy(), tm.lm_head.weight.grad.numpy(), rtol=1e-5,
                               atol=1e-6)
    before = w.detach().numpy().copy()
    opt = optim.SGD(gm.parameters(), lr=0.1)
    opt.step()  # one update, not one per name
    np.testing.assert_allclose(w.detach().numpy(), before - 0.1 * w.grad.numpy(), rtol=1e-6)
    assert gm.transformer.wte.weight is w


def _gpt(vocab=11, block=6, embed=16, heads=2, layers=1):
    """A nanoGPT-like model on the transformer layers: tied embedding and head, causal
    encoder layers (pre-norm, GELU), cross-entropy."""
    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte, self.wpe = nn.Embedding(vocab, embed), nn.Embedding(block, embed)
            layer = nn.TransformerEncoderLayer(embed, heads, 2 * embed, dropout=0.0,
                                               activation="gelu", batch_first=True,
                                               norm_first=True)
            self.blocks = nn.TransformerEncoder(layer, layers, nn.LayerNorm(embed),
                                                enable_nested_tensor=False)
            self.head = nn.Linear(embed, vocab, bias=False)
            self.wte.weight = self.head.weight
            self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(
                block))

        def forward(self, idx, targets):
            x = self.wte(idx) + self.wpe(graphc.arange(idx.shape[1]))
            x = self.blocks(x, mask=self.mask, is_causal=True)
            return F.cross_entropy(self.head(x).reshape(-1, vocab), targets.reshape(-1))
    return GPT()


def test_compiled_gpt_training_step_equals_eager():
    """The whole step (zero_grad, forward, backward, AdamW) compiled equals eager over
    several steps; the tied weight is one captured tensor. (Adam's eps is 1e-3, as in
    test_nn's CNN test: it keeps the comparison about the program, not rounding noise.)"""
    rng = np.random.default_rng(0)
    data = [(graphc.tensor(rng.integers(0, 11, (3, 6))), graphc.tensor(rng.integers(0, 11,
                                                                                   (3, 6))))
            for _ in range(4)]
    graphc.manual_seed(0)
    first = _gpt()
    runs = []
    for compiled in (False, True):
        model = _gpt()
        model.load_state_dict(first.state_dict())
        opt = optim.AdamW(model.parameters(), lr=1e-2, eps=1e-3)

        def step(x, y, model=model, opt=opt):
            opt.zero_grad()
            loss = model(x, y)
            loss.backward()
            opt.step()
            return loss
        run = graphc.compile(step) if compiled else step
        tied = model.head.weight._node  # as traced (write-back gives the tensor new nodes)
        runs.append((model, [run(x, y).item() for x, y in data], run, tied))
    (em, elosses, _, _), (cm, closses, run, tied) = runs
    np.testing.assert_allclose(closses, elosses, rtol=1e-4)
    assert elosses[-1] < elosses[0]
    for (k, a), (_, b) in zip(cm.state_dict().items(), em.state_dict().items()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=k)
    assert len(run.cache) == 1 and run.retraces == 0
    assert sum(c is tied for c, _ in run.last.captured) == 1
    assert cm.wte.weight is cm.head.weight


def test_compiled_transformer_inference_equals_eager():
    """Under no_grad a compiled Transformer runs natively and equals eager, with masks;
    eval mode's dropout is the identity in both."""
    graphc.manual_seed(0)
    model = nn.Transformer(16, 4, 1, 1, 32, dropout=0.1, batch_first=True).eval()
    compiled = graphc.compile(model)
    src, tgt = graphc.tensor(_arr(2, 7, 16)), graphc.tensor(_arr(2, 5, 16, seed=1))
    kpm = graphc.tensor(np.array([[0] * 5 + [1, 1], [0] * 7], bool))
    mask = nn.Transformer.generate_square_subsequent_mask(5)
    with graphc.no_grad():
        for kw in ({}, {"tgt_mask": mask, "src_key_padding_mask": kpm,
                        "memory_key_padding_mask": kpm, "tgt_is_causal": True}):
            got = compiled(src, tgt, **kw)
            assert not compiled.last.needs_autograd
            np.testing.assert_allclose(got.numpy(), model(src, tgt, **kw).numpy(), rtol=1e-4,
                                       atol=1e-5)


def test_compiled_multihead_attention_with_weights_equals_eager():
    """The need_weights path (plain softmax, weights per head) with bias_k/bias_v, a zero
    key and both masks, compiled under no_grad."""
    graphc.manual_seed(0)
    m = nn.MultiheadAttention(8, 2, batch_first=True, add_bias_kv=True,
                              add_zero_attn=True).eval()
    x = graphc.tensor(_arr(2, 5, 8))
    kw = dict(key_padding_mask=graphc.tensor(np.array([[0, 0, 0, 1, 1], [0] * 5], bool)),
              attn_mask=graphc.tensor(np.triu(np.ones((5, 5), bool), 1)),
              average_attn_weights=False)
    compiled = graphc.compile(m)
    with graphc.no_grad():
        (got, got_w), (want, want_w) = compiled(x, x, x, **kw), m(x, x, x, **kw)
    assert not compiled.last.needs_autograd
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_w.numpy(), want_w.numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- initialization

def _bound_and_mean(t: graphc.Tensor, bound: float) -> None:
    v = t.detach().numpy().ravel()
    assert np.abs(v).max() <= bound + 1e-7 and np.abs(v).max() > 0.9 * bound
    assert abs(v.mean()) < 4 * bound / np.sqrt(3 * v.size)


def test_default_initialization_is_torchs():
    graphc.manual_seed(0)
    m = nn.MultiheadAttention(64, 4, add_bias_kv=True)
    _bound_and_mean(m.in_proj_weight, math.sqrt(6 / (64 + 192)))  # xavier_uniform_
    _bound_and_mean(m.out_proj.weight, 1 / math.sqrt(64))  # Linear's kaiming_uniform_
    assert not m.in_proj_bias.detach().numpy().any()
    assert not m.out_proj.bias.detach().numpy().any()
    bk = m.bias_k.detach().numpy()  # xavier_normal_ of (1, 1, 64): fan_in 64, fan_out 64
    assert abs(bk.std() - math.sqrt(2 / 128)) < 0.05
    sep = nn.MultiheadAttention(64, 4, kdim=32, vdim=16)
    _bound_and_mean(sep.k_proj_weight, math.sqrt(6 / (64 + 32)))
    assert sep.in_proj_weight is None
    t = nn.Transformer(32, 2, 1, 1, 96)
    lin = t.encoder.layers[0].linear1
    _bound_and_mean(lin.weight, math.sqrt(6 / (32 + 96)))  # every dim > 1: xavier_uniform_
    _bound_and_mean(lin.bias, 1 / math.sqrt(32))  # biases keep Linear's
    norm = t.decoder.norm
    assert (norm.weight.detach().numpy() == 1).all() and norm.eps == 1e-5


@needs_torch
def test_nested_tensor_warning_and_attributes_are_torchs():
    for kw in ({}, {"batch_first": True}, {"batch_first": True, "norm_first": True}):
        with warnings.catch_warnings(record=True) as gw:
            warnings.simplefilter("always")
            g = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, **kw), 2)
        with warnings.catch_warnings(record=True) as tw:
            warnings.simplefilter("always")
            t = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16, **kw), 2)
        assert [str(w.message) for w in gw] == [str(w.message) for w in tw]
        assert g.use_nested_tensor == t.use_nested_tensor and g.mask_check == t.mask_check
        assert g.layers[0].activation_relu_or_gelu == t.layers[0].activation_relu_or_gelu


# ---------------------------------------------------------------- dropout

def test_attention_dropout_by_statistics_and_train_eval():
    """Dropped attention weights are 0 with probability p, the rest scaled by 1/(1-p),
    fresh at every call in train mode; eval mode equals the same layer without dropout."""
    graphc.manual_seed(0)
    q = graphc.zeros(4, 2, 50, 8)  # equal scores: every weight is 1/50
    v = graphc.eye(50).expand(4, 2, 50, 50)  # so the output is the weights
    w = F.scaled_dot_product_attention(q, q[..., :50, :], v, dropout_p=0.3).numpy()
    kept = w != 0
    assert abs(1 - kept.mean() - 0.3) < 0.02
    np.testing.assert_allclose(w[kept], 1 / 50 / 0.7, rtol=1e-5)
    assert not np.array_equal(F.scaled_dot_product_attention(
        q, q, v, dropout_p=0.3).numpy(), w)
    mha = nn.MultiheadAttention(8, 2, dropout=0.4, batch_first=True)
    x = graphc.tensor(_arr(3, 40, 8))
    _, weights = mha(x, x, x, average_attn_weights=False)
    assert abs((weights.detach().numpy() == 0).mean() - 0.4) < 0.02
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5)
    clean = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)
    clean.load_state_dict(layer.state_dict())
    train = [layer(x).detach().numpy() for _ in range(2)]
    assert not np.array_equal(*train)
    layer.eval()
    np.testing.assert_allclose(layer(x).detach().numpy(), clean(x).detach().numpy(),
                               rtol=1e-6)
    np.testing.assert_array_equal(layer(x).detach().numpy(), layer(x).detach().numpy())


# ---------------------------------------------------------------- bad input

def _raises(kind, fn, *want: str) -> str:
    with pytest.raises(kind) as info:
        fn()
    msg = str(info.value)
    for w in want:
        assert w in msg, f"{w!r} not in {msg!r}"
    user = [e for e in info.traceback if e.path.name == "test_transformer.py"][-1]
    assert f"test_transformer.py:{user.lineno + 1}" in msg  # the user's line (the lambda's)
    return msg


def test_bad_input_raises_torchs_exception_types_naming_layer_and_shapes():
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    x = graphc.ones(2, 5, 8)
    layer = "MultiheadAttention(embed_dim=8, num_heads=2, batch_first=True)"
    _raises(AssertionError, lambda: mha(graphc.ones(2, 5, 6), graphc.ones(2, 5, 6),
                                        graphc.ones(2, 5, 6)),
            layer, "expecting embedding dimension of 8, but got 6", "[2, 5, 6]")
    _raises(AssertionError, lambda: mha(x, x, x, key_padding_mask=graphc.zeros(
        3, 5, dtype=graphc.bool)), layer, "key_padded_mask.shape[0] to be 2, but got 3",
            "[3, 5]")
    _raises(AssertionError, lambda: mha(x, x, x, key_padding_mask=graphc.zeros(
        2, 4, dtype=graphc.bool)), "key_padded_mask.shape[1] to be 5, but got 4")
    _raises(RuntimeError, lambda: mha(x, graphc.ones(3, 5, 8), graphc.ones(3, 5, 8)),
            layer, "batch size 2", "[3, 5, 8]")
    _raises(AssertionError, lambda: mha(x, graphc.ones(2, 6, 8), x),
            "key shape [2, 6, 8] does not match value shape [2, 5, 8]")
    _raises(RuntimeError, lambda: mha(x, x, x, attn_mask=graphc.zeros(4, 5)),
            "2D attn_mask is [4, 5], but should be (5, 5)")
    _raises(RuntimeError, lambda: mha(x, x, x, attn_mask=graphc.zeros(3, 5, 5)),
            "3D attn_mask is [3, 5, 5], but should be (4, 5, 5)")
    _raises(AssertionError, lambda: mha(x, x, x, attn_mask=graphc.zeros(5, 5,
                                                                        dtype=graphc.int64)),
            "only bool and floating types of attn_mask")
    _raises(RuntimeError, lambda: mha(x, x, x, is_causal=True), "Need attn_mask")
    _raises(AssertionError, lambda: mha(x[0], x, x), "expected `key` and `value` to be 2-D")
    _raises(AssertionError, lambda: nn.MultiheadAttention(10, 3),
            "embed_dim must be divisible by num_heads", "embed_dim=10 and num_heads=3")
    with pytest.raises(ValueError, match="greater than 0"):
        nn.MultiheadAttention(0, 2)
    _raises(RuntimeError, lambda: nn.TransformerEncoderLayer(8, 2, activation="tanh"),
            "activation should be relu/gelu, not tanh")
    t = nn.Transformer(8, 2, 1, 1, 16, batch_first=True)
    _raises(RuntimeError, lambda: t(graphc.ones(2, 5, 8), graphc.ones(3, 4, 8)),
            "the batch number of src and tgt must be equal")
    _raises(RuntimeError, lambda: t(graphc.ones(2, 5, 8), graphc.ones(2, 4, 6)),
            "the feature number of src and tgt must be equal to d_model")
    q = graphc.ones(2, 3, 4, 8)
    sdpa = F.scaled_dot_product_attention
    _raises(RuntimeError, lambda: sdpa(q, q, q, attn_mask=graphc.ones(4, 4, dtype=graphc.bool),
                                       is_causal=True),
            "scaled_dot_product_attention", "attn_mask should not be set when is_causal=True")
    _raises(RuntimeError, lambda: sdpa(q, graphc.ones(2, 3, 4, 7), q),
            "scaled_dot_product_attention", "[2, 3, 4, 8]", "[2, 3, 4, 7]")
    _raises(RuntimeError, lambda: sdpa(q, q, q.double()), "same dtype")
    _raises(RuntimeError, lambda: sdpa(q, q, q, attn_mask=graphc.ones(3, 4)),
            "attn_mask of shape [3, 4] does not broadcast", "L=4, S=4")
    _raises(RuntimeError, lambda: sdpa(q, q, q, attn_mask=graphc.ones(4, 4,
                                                                      dtype=graphc.int64)),
            "attn_mask dtype to be bool or float")


@needs_torch
def test_bad_input_exception_types_match_torch():
    """The same calls raise the same builtin exception types in both libraries."""
    def calls(lib):
        m = lib.nn.MultiheadAttention(8, 2, batch_first=True)
        x = lib.ones(2, 5, 8)
        return [lambda: m(lib.ones(2, 5, 6), lib.ones(2, 5, 6), lib.ones(2, 5, 6)),
                lambda: m(x, x, x, key_padding_mask=lib.zeros(3, 5, dtype=lib.bool)),
                lambda: m(x, lib.ones(3, 5, 8), lib.ones(3, 5, 8)),
                lambda: m(x, x, x, attn_mask=lib.zeros(4, 5)),
                lambda: m(x, x, x, is_causal=True),
                lambda: lib.nn.MultiheadAttention(10, 3),
                lambda: lib.nn.TransformerEncoderLayer(8, 2, activation="tanh")]

    def kind(fn) -> type:
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            return next(k for k in (AssertionError, ValueError, TypeError, RuntimeError)
                        if isinstance(e, k))
        return type(None)
    assert [kind(f) for f in calls(graphc)] == [kind(f) for f in calls(torch)]


@needs_torch
@pytest.mark.parametrize("separate", [False, True])
def test_functional_multi_head_attention_forward_matches_torch(separate: bool):
    """F.multi_head_attention_forward on (L, B, E), with packed or separate projection
    weights, bias_k/bias_v, or static keys and values."""
    rng = np.random.default_rng(3)
    e, heads, bsz = 6, 3, 2
    arrays = {name: (rng.standard_normal(shape) * 0.5).astype(np.float32) for name, shape in [
        ("query", (4, bsz, e)), ("key", (5, bsz, 4)), ("value", (5, bsz, 2)),
        ("in_proj_weight", (3 * e, e)), ("in_proj_bias", (3 * e,)), ("bias_k", (1, 1, e)),
        ("bias_v", (1, 1, e)), ("out_proj_weight", (e, e)), ("out_proj_bias", (e,)),
        ("q_proj_weight", (e, e)), ("k_proj_weight", (e, 4)), ("v_proj_weight", (e, 2)),
        ("static_k", (bsz * heads, 5, e // heads))]}
    if not separate:
        arrays["key"], arrays["value"] = (rng.standard_normal((5, bsz, e)).astype(np.float32)
                                          for _ in range(2))
    outs = []
    for lib in (graphc, torch):
        a = {k: lib.tensor(v, requires_grad=k == "query") for k, v in arrays.items()}
        common = dict(embed_dim_to_check=e, num_heads=heads, in_proj_weight=a["in_proj_weight"],
                      in_proj_bias=a["in_proj_bias"], add_zero_attn=False, dropout_p=0.0,
                      out_proj_weight=a["out_proj_weight"], out_proj_bias=a["out_proj_bias"])
        if separate:
            out, w = lib.nn.functional.multi_head_attention_forward(
                a["query"], a["key"], a["value"], bias_k=None, bias_v=None,
                use_separate_proj_weight=True, q_proj_weight=a["q_proj_weight"],
                k_proj_weight=a["k_proj_weight"], v_proj_weight=a["v_proj_weight"],
                static_k=a["static_k"], static_v=None, **common)
        else:
            out, w = lib.nn.functional.multi_head_attention_forward(
                a["query"], a["key"], a["value"], bias_k=a["bias_k"], bias_v=a["bias_v"],
                average_attn_weights=False, **common)
        out.square().sum().backward()
        outs.append([out.detach().numpy(), w.detach().numpy(), a["query"].grad.numpy()])
    for g, t in zip(*outs):
        np.testing.assert_allclose(g, t, rtol=1e-4, atol=1e-5 * np.abs(t).max())


@needs_torch
def test_transformer_custom_encoder_and_decoder_like_torch():
    def build(lib):
        enc = lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(8, 2, 16), 1)
        return lib.nn.Transformer(8, 2, custom_encoder=enc, num_decoder_layers=1,
                                  dim_feedforward=16)
    torch.manual_seed(0)
    t, g = build(torch), build(graphc)
    assert list(g.state_dict()) == list(t.state_dict())
    assert repr(g) == repr(t).replace("torch", "graphc")
    assert g.encoder.norm is None and g.decoder.norm is not None
