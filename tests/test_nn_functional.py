"""nn.functional and nn.init beyond the op table: running-stat updates, dropout's draws,
ignore_index and out-of-range classes (eager and compiled), shape errors, and the
initializers' fans and distributions. Values and gradients are in graphc/testing/op_table.py."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import graphc
import graphc.nn.functional as F
from graphc.nn import init

try:
    import torch
except ImportError:  # the oracle is optional; CI installs it
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch (the oracle extra) is not "
                                                       "installed")


def _randn(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- batch_norm running stats

@needs_torch
@pytest.mark.parametrize("shape", [(4, 3, 2, 2), (5, 3)])
def test_batch_norm_training_updates_running_stats_like_torch(shape):
    """Three training steps move the running mean and (unbiased) variance in place as
    PyTorch does; eval mode then normalizes by them."""
    rm, rv = graphc.zeros(3), graphc.ones(3)
    trm, trv = torch.zeros(3), torch.ones(3)
    w, b = graphc.tensor([1.0, 2.0, 0.5]), graphc.tensor([0.0, -1.0, 1.0])
    tw, tb = torch.tensor([1.0, 2.0, 0.5]), torch.tensor([0.0, -1.0, 1.0])
    for step in range(3):
        x = _randn(*shape, seed=step) * (step + 1) + step
        out = F.batch_norm(graphc.from_numpy(x), rm, rv, w, b, training=True, momentum=0.3)
        want = torch.nn.functional.batch_norm(torch.from_numpy(x), trm, trv, tw, tb,
                                              training=True, momentum=0.3)
        np.testing.assert_allclose(out.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-6, atol=1e-6)
    x = _randn(*shape, seed=9)
    out = F.batch_norm(graphc.from_numpy(x), rm, rv, w, b)
    want = torch.nn.functional.batch_norm(torch.from_numpy(x), trm, trv, tw, tb)
    np.testing.assert_allclose(out.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


def test_batch_norm_running_stats_update_inside_compile_equals_eager():
    """Captured running stats are written back after each compiled call, with no gradient."""
    x0 = _randn(6, 2, 3, 3, seed=1)
    stats = {k: (graphc.zeros(2), graphc.ones(2)) for k in ("eager", "compiled")}
    w = graphc.tensor([1.5, -0.5], requires_grad=True)

    def step(x, rm, rv):
        out = F.batch_norm(x, rm, rv, w, None, training=True, momentum=0.25)
        return (out * out).sum()

    compiled = graphc.compile(lambda x: step(x, *stats["compiled"]))
    for i in range(3):
        x = graphc.from_numpy(x0 + i)
        want = step(x, *stats["eager"])
        got = compiled(x)
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-5)
    rm, rv = np.zeros(2), np.ones(2)  # the batch's mean and unbiased variance, by numpy
    for i in range(3):
        x = (x0 + i).astype(np.float64)
        rm = 0.75 * rm + 0.25 * x.mean((0, 2, 3))
        rv = 0.75 * rv + 0.25 * x.var((0, 2, 3), ddof=1)
    for got, want in zip(stats["compiled"], (rm, rv)):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5)
        assert not got.requires_grad
    for a, b in zip(stats["eager"], stats["compiled"]):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7)


def test_batch_norm_checks():
    x = graphc.randn(1, 3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(x, graphc.zeros(3), graphc.ones(3), training=True)
    with pytest.raises(RuntimeError, match=r"batch_norm.*running_mean should contain 3 "
                                           r"elements not 4.*\[2, 3, 5\]"):
        F.batch_norm(graphc.randn(2, 3, 5), graphc.zeros(4), graphc.ones(3))


# ---------------------------------------------------------------- dropout

def test_dropout_zeroes_a_fraction_p_and_scales_the_rest():
    graphc.manual_seed(0)
    x = graphc.ones(200, 500, requires_grad=True)
    y = F.dropout(x, 0.3)
    v = y.detach().numpy()
    assert abs((v == 0).mean() - 0.3) < 0.005  # 1e5 draws: the std of the fraction is 0.0015
    np.testing.assert_allclose(v[v != 0], 1 / 0.7, rtol=1e-6)
    (g,) = graphc.autograd.grad(y.sum(), x)
    np.testing.assert_array_equal(g.numpy(), v)  # the gradient is mask / (1 - p)
    assert y.grad_fn is not None and "Dropout" in y.grad_fn.name()


def test_dropout_draws_from_the_default_generator():
    x = graphc.ones(64, 64)
    graphc.manual_seed(3)
    a = F.dropout(x, 0.5).numpy()
    b = F.dropout(x, 0.5).numpy()
    graphc.manual_seed(3)
    np.testing.assert_array_equal(F.dropout(x, 0.5).numpy(), a)
    assert (a != b).any()  # each call draws new numbers


def test_dropout_compiled_draws_the_same_masks_as_eager():
    x = graphc.ones(32, 48)
    compiled = graphc.compile(lambda t: F.dropout(t, 0.25))
    graphc.manual_seed(11)
    want = [F.dropout(x, 0.25).numpy() for _ in range(2)]
    graphc.manual_seed(11)
    got = [compiled(x).numpy() for _ in range(2)]
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    assert (got[0] != got[1]).any()


def test_dropout_eval_p0_p1_and_bad_p():
    x = graphc.randn(5, 4, requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    y = F.dropout(x, 1.0)
    assert (y.detach().numpy() == 0).all()
    (g,) = graphc.autograd.grad(y.sum(), x)
    assert (g.numpy() == 0).all()  # zeros, not 0 * inf = nan
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            F.dropout(x, p)


def test_dropout_inplace_writes_the_input():
    graphc.manual_seed(1)
    x = graphc.ones(10, 10)
    out = F.dropout(x, 0.5, inplace=True)
    assert out is x
    assert set(np.unique(x.numpy())) <= {0.0, 2.0} and (x.numpy() == 0).any()


# ---------------------------------------------------------------- class targets

def test_ignore_index_targets_are_masked_before_the_gather():
    x = graphc.randn(4, 3, requires_grad=True)
    t = graphc.tensor([0, -100, 2, -100])
    loss = F.cross_entropy(x, t)
    logp = F.log_softmax(x, 1).detach().numpy()
    np.testing.assert_allclose(loss.item(), -(logp[0, 0] + logp[2, 2]) / 2, rtol=1e-6)
    (g,) = graphc.autograd.grad(loss, x)
    assert (g.numpy()[[1, 3]] == 0).all()
    none = F.nll_loss(x, graphc.tensor([5, 1, 5, 0]), ignore_index=5, reduction="none")
    assert none.detach().numpy()[0] == 0 and none.detach().numpy()[2] == 0


def test_all_targets_ignored_gives_nan_mean_and_zero_sum():
    x = graphc.randn(3, 4)
    t = graphc.full((3,), -100)
    assert math.isnan(F.cross_entropy(x, t).item())
    assert F.cross_entropy(x, t, reduction="sum").item() == 0.0
    assert math.isnan(F.nll_loss(x, t).item())


@pytest.mark.parametrize("bad", [4, -1, -100 + 1])
def test_out_of_range_class_raises_index_error(bad):
    x = graphc.randn(3, 4, requires_grad=True)
    t = graphc.tensor([0, bad, 1])
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, t)
    with pytest.raises(IndexError, match="out of bounds"):
        F.nll_loss(x, t, weight=graphc.ones(4))
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, t, ignore_index=0, label_smoothing=0.1)


def test_out_of_range_class_raises_index_error_in_compiled_code():
    @graphc.compile
    def step(x, t):
        loss = F.cross_entropy(x, t)
        (g,) = graphc.autograd.grad(loss, x)
        return loss, g

    x = graphc.randn(3, 4, requires_grad=True)
    loss, g = step(x, graphc.tensor([0, 3, -100]))  # fine, and ignore_index passes the check
    np.testing.assert_allclose(loss.numpy(), F.cross_entropy(x, graphc.tensor(
        [0, 3, -100])).detach().numpy(), rtol=1e-6)
    with pytest.raises(IndexError, match="out of bounds"):
        step(x, graphc.tensor([0, 4, 1]))
    with pytest.raises(IndexError, match="out of bounds"):
        step(x, graphc.tensor([-1, 0, 1]))


def test_legacy_size_average_and_reduce():
    x, y = graphc.randn(3, 4), graphc.randn(3, 4)
    d = ((x - y) ** 2).numpy()
    np.testing.assert_allclose(F.mse_loss(x, y, size_average=False).item(), d.sum(), rtol=1e-6)
    np.testing.assert_allclose(F.mse_loss(x, y, reduce=False).numpy(), d, rtol=1e-6)
    np.testing.assert_allclose(F.mse_loss(x, y, True, True).item(), d.mean(), rtol=1e-6)
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.l1_loss(x, y, reduction="avg")


def test_binary_cross_entropy_clamps_log_at_minus_100():
    p = graphc.tensor([0.0, 1.0, 0.5])
    t = graphc.tensor([1.0, 0.0, 1.0])
    np.testing.assert_allclose(F.binary_cross_entropy(p, t, reduction="none").numpy(),
                               [100.0, 100.0, math.log(2)], rtol=1e-6)


def test_bce_with_logits_is_stable_for_huge_logits():
    x = graphc.tensor([-1000.0, 1000.0, 0.0], requires_grad=True)
    t = graphc.tensor([1.0, 0.0, 0.5])
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [1000.0, 1000.0, math.log(2)],
                               rtol=1e-6)
    (g,) = graphc.autograd.grad(loss.sum(), x)
    np.testing.assert_allclose(g.numpy(), [-1.0, 1.0, 0.0], atol=1e-7)


# ---------------------------------------------------------------- shape errors

@pytest.mark.parametrize("call,pattern", [
    (lambda: F.conv2d(graphc.randn(2, 5, 8, 8), graphc.randn(4, 3, 3, 3)),
     r"conv2d.*weight of size \[4, 3, 3, 3\].*input\[2, 5, 8, 8\].*3 channels.*got 5"),
    (lambda: F.conv2d(graphc.randn(1, 4, 6, 6), graphc.randn(3, 2, 3, 3), groups=2),
     r"conv2d.*groups=2, expected weight to be divisible by 2.*\[3, 2, 3, 3\].*"
     r"\[1, 4, 6, 6\]"),
    (lambda: F.conv2d(graphc.randn(1, 2, 2, 2), graphc.randn(3, 2, 3, 3)),
     r"conv2d.*Kernel size can't be greater than actual input size.*\[1, 2, 2, 2\].*"
     r"\[3, 2, 3, 3\]"),
    (lambda: F.conv2d(graphc.randn(2, 8, 8), graphc.randn(3, 2, 3, 3), graphc.randn(4)),
     r"conv2d.*bias of size \[4\].*\[3, 2, 3, 3\]"),
    (lambda: F.conv2d(graphc.randn(8, 8), graphc.randn(3, 1, 3, 3)),
     r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d.*\[8, 8\]"),
    (lambda: F.linear(graphc.randn(2, 3), graphc.randn(4, 5)),
     r"linear.*input of size \[2, 3\].*weight of size \[4, 5\].*in_features 5"),
    (lambda: F.layer_norm(graphc.randn(2, 3, 4), [3]),
     r"layer_norm.*normalized_shape=\[3\].*\[\*, 3\].*\[2, 3, 4\]"),
    (lambda: F.max_pool2d(graphc.randn(1, 1, 2, 2), 3),
     r"max_pool2d.*Output size is too small"),
    (lambda: F.cross_entropy(graphc.randn(3, 4), graphc.tensor([[0, 1], [2, 3], [1, 0]])),
     r"cross_entropy.*\[3\].*\[3, 4\].*\[3, 2\]"),
    (lambda: F.cross_entropy(graphc.randn(3, 4), graphc.rand(3, 5)),
     r"cross_entropy.*\[3, 5\].*\[3, 4\]"),
    (lambda: F.nll_loss(graphc.randn(3, 4), graphc.tensor([0, 1, 2]), graphc.ones(3)),
     r"nll_loss.*weight tensor should be defined either for all 4 classes.*\[3\]"),
])
def test_shape_mistakes_raise_runtime_error_naming_op_and_shapes(call, pattern):
    with pytest.raises(RuntimeError, match=pattern):
        call()


@pytest.mark.parametrize("call,exc,pattern", [
    (lambda: F.conv2d(graphc.randn(1, 2, 5, 5), graphc.randn(3, 2, 3, 3), stride=2,
                      padding="same"), RuntimeError, "not supported for strided"),
    (lambda: F.conv2d(graphc.randn(1, 2, 5, 5), graphc.randn(3, 2, 3, 3), padding="full"),
     RuntimeError, "Invalid padding string"),
    (lambda: F.max_pool2d(graphc.randn(1, 1, 6, 6), 2, padding=2), RuntimeError,
     "pad should be at most half of effective kernel size"),
    (lambda: F.cross_entropy(graphc.randn(3, 4), graphc.tensor([0, 1])), ValueError,
     r"Expected input batch_size \(3\) to match target batch_size \(2\)"),
    (lambda: F.binary_cross_entropy(graphc.rand(3), graphc.rand(4)), ValueError,
     r"target size \(\[4\]\).*input size \(\[3\]\)"),
    (lambda: F.binary_cross_entropy(graphc.tensor([0.5, 1.5]), graphc.rand(2)), RuntimeError,
     "between 0 and 1"),
    (lambda: F.embedding(graphc.tensor([0.0, 1.0]), graphc.randn(3, 2)), RuntimeError,
     "indices"),
    (lambda: F.cross_entropy(graphc.randn(3, 4), graphc.tensor([0, 1, 2]),
                             label_smoothing=1.5), RuntimeError, "label_smoothing"),
    (lambda: F.huber_loss(graphc.randn(3), graphc.randn(3), delta=0.0), RuntimeError, "delta"),
    (lambda: F.dropout(graphc.randn(3), 1.5), ValueError, "dropout probability"),
    (lambda: F.mse_loss(graphc.randn(3), graphc.randn(3), weight=graphc.ones(2)), ValueError,
     "Weights and input must have the same size"),
    (lambda: F.batch_norm(graphc.randn(4, 3), None, None), RuntimeError, "evaluation mode"),
])
def test_argument_mistakes_raise_pytorchs_exception_types(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


# ---------------------------------------------------------------- beyond the table, vs torch

@needs_torch
def test_embedding_max_norm_renormalizes_looked_up_rows_in_place():
    w0 = _randn(6, 3, seed=2, dtype=np.float64) * 3
    idx = np.array([[0, 2], [2, 5]])
    gw, tw = graphc.from_numpy(w0.copy()), torch.from_numpy(w0.copy())
    out = F.embedding(graphc.from_numpy(idx), gw, max_norm=1.5, norm_type=1.0)
    want = torch.nn.functional.embedding(torch.from_numpy(idx), tw, max_norm=1.5, norm_type=1.0)
    np.testing.assert_allclose(out.numpy(), want.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gw.numpy(), tw.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(gw.numpy()[[1, 3, 4]], w0[[1, 3, 4]])  # rows not looked up


@needs_torch
def test_embedding_scale_grad_by_freq_and_negative_padding_idx_match_torch():
    w0 = _randn(5, 2, seed=3, dtype=np.float64)
    idx = np.array([[1, 1, 4], [0, 1, 3]])
    gw = graphc.from_numpy(w0.copy()).requires_grad_()
    tw = torch.from_numpy(w0.copy()).requires_grad_()
    g_out = F.embedding(graphc.from_numpy(idx), gw, padding_idx=-2, scale_grad_by_freq=True)
    t_out = torch.nn.functional.embedding(torch.from_numpy(idx), tw, padding_idx=-2,
                                          scale_grad_by_freq=True)
    cot = _randn(2, 3, 2, seed=4, dtype=np.float64)
    (gg,) = graphc.autograd.grad((g_out * graphc.from_numpy(cot)).sum(), gw)
    (tg,) = torch.autograd.grad((t_out * torch.from_numpy(cot)).sum(), tw)
    np.testing.assert_allclose(gg.numpy(), tg.numpy(), rtol=1e-12)


@needs_torch
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1,
                                                           ceil_mode=True)])
def test_max_pool2d_return_indices_match_torch_unbatched(kw):
    x = _randn(2, 5, 7, seed=5)
    v, i = F.max_pool2d(graphc.from_numpy(x), return_indices=True, **kw)
    tv, ti = torch.nn.functional.max_pool2d(torch.from_numpy(x), return_indices=True, **kw)
    np.testing.assert_array_equal(v.numpy(), tv.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())


@needs_torch
def test_max_pool2d_gradient_goes_to_the_first_maximum_like_torch():
    x = np.zeros((1, 1, 4, 4))  # all ties, as after a ReLU
    x[0, 0, 1, 1] = -1.0
    gx = graphc.from_numpy(x.copy()).requires_grad_()
    tx = torch.from_numpy(x.copy()).requires_grad_()
    (g,) = graphc.autograd.grad(F.max_pool2d(gx, 2, 1).sum(), gx)
    (t,) = torch.autograd.grad(torch.nn.functional.max_pool2d(tx, 2, 1).sum(), tx)
    np.testing.assert_array_equal(g.numpy(), t.numpy())


@needs_torch
def test_small_convnet_step_compiled_equals_eager_and_torch():
    """conv -> batch_norm -> relu -> max_pool -> linear -> cross_entropy: loss and every
    gradient, eager and compiled, against PyTorch."""
    rng = np.random.default_rng(7)
    arrays = dict(w1=rng.standard_normal((4, 2, 3, 3)) * 0.3, b1=rng.standard_normal(4) * 0.1,
                  g=rng.uniform(0.5, 1.5, 4), w2=rng.standard_normal((3, 36)) * 0.3)
    x = rng.standard_normal((3, 2, 6, 6)).astype(np.float32)
    t = np.array([0, 2, 1])

    def net(m, x, t, w1, b1, g, w2):
        f = m.nn.functional
        h = f.conv2d(x, w1, b1, padding=1)
        h = f.relu(f.batch_norm(h, None, None, g, None, training=True))
        h = f.max_pool2d(h, 3, 2, 1).flatten(1)
        return f.cross_entropy(f.linear(h, w2), t, label_smoothing=0.1)

    def step(x, t, *params):
        loss = net(graphc, x, t, *params)
        return (loss, *graphc.autograd.grad(loss, list(params)))

    params = [graphc.tensor(a.astype(np.float32), requires_grad=True) for a in arrays.values()]
    tparams = [torch.tensor(a.astype(np.float32), requires_grad=True) for a in arrays.values()]
    gx, gt = graphc.from_numpy(x), graphc.from_numpy(t)
    eager = step(gx, gt, *params)
    compiled = graphc.compile(step)(gx, gt, *params)
    tl = net(torch, torch.from_numpy(x), torch.from_numpy(t), *tparams)
    want = (tl, *torch.autograd.grad(tl, tparams))
    for e, c, w in zip(eager, compiled, want):
        np.testing.assert_allclose(e.detach().numpy(), w.detach().numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(c.numpy(), e.detach().numpy(), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- nn.init

FAN_SHAPES = [(5, 3), (4, 3, 2), (8, 4, 3, 3), (2, 6, 1, 2, 3), (7, 1)]


@needs_torch
@pytest.mark.parametrize("shape", FAN_SHAPES)
def test_fans_match_torch(shape):
    got = init._calculate_fan_in_and_fan_out(graphc.empty(*shape))
    assert got == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    for mode in ("fan_in", "fan_out", "FAN_IN"):
        assert init._calculate_correct_fan(graphc.empty(*shape), mode) == \
            torch.nn.init._calculate_correct_fan(torch.empty(*shape), mode)


def test_fan_errors():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(graphc.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_normal_(graphc.empty(3, 4), mode="fan_avg")
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("softmax")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


@needs_torch
@pytest.mark.parametrize("name,param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                        ("tanh", None), ("relu", None), ("leaky_relu", None),
                                        ("leaky_relu", 0.2), ("leaky_relu", 3), ("selu", None)])
def test_calculate_gain_matches_torch(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(
        torch.nn.init.calculate_gain(name, param), rel=1e-15)


def _uniform_bound_and_std(name, shape, kw):
    """The bound (uniform) or std (normal) that PyTorch's formula gives."""
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    if name.startswith("xavier"):
        std = kw.get("gain", 1.0) * math.sqrt(2.0 / (fan_in + fan_out))
    else:
        fan = fan_in if kw.get("mode", "fan_in") == "fan_in" else fan_out
        std = torch.nn.init.calculate_gain(kw.get("nonlinearity", "leaky_relu"),
                                           kw.get("a", 0)) / math.sqrt(fan)
    return std


@needs_torch
@pytest.mark.parametrize("name,kw", [
    ("xavier_uniform_", {}), ("xavier_uniform_", {"gain": 2.0}), ("xavier_normal_", {}),
    ("kaiming_uniform_", {}), ("kaiming_uniform_", {"a": math.sqrt(5)}),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {"nonlinearity": "relu"}),
    ("kaiming_normal_", {"a": 0.1, "mode": "fan_out"})])
def test_xavier_and_kaiming_distributions(name, kw):
    """In place on a parameter-like leaf; bounds and spread follow PyTorch's formulas."""
    shape = (96, 40, 3, 3)
    std = _uniform_bound_and_std(name, shape, kw)
    w = graphc.empty(*shape, requires_grad=True)
    graphc.manual_seed(0)
    out = getattr(init, name)(w, **kw)
    assert out is w and w.is_leaf and w.requires_grad
    v = w.detach().numpy().astype(np.float64)
    assert abs(v.mean()) < 4 * std / math.sqrt(v.size)
    assert v.std() == pytest.approx(std, rel=0.02)
    if "uniform" in name:
        bound = math.sqrt(3.0) * std
        assert v.min() >= -bound and v.max() <= bound and v.max() > 0.99 * bound


def test_uniform_normal_constant_and_generator():
    w = graphc.empty(200, 100)
    init.uniform_(w, -2.0, 3.0)
    v = w.numpy()
    assert v.min() >= -2.0 and v.max() < 3.0 and v.mean() == pytest.approx(0.5, abs=0.03)
    init.normal_(w, 1.0, 0.5)
    assert w.numpy().mean() == pytest.approx(1.0, abs=0.01)
    assert w.numpy().std() == pytest.approx(0.5, rel=0.02)
    g1, g2 = graphc.Generator().manual_seed(4), graphc.Generator().manual_seed(4)
    a, b = graphc.empty(3, 4), graphc.empty(3, 4)
    state = graphc.get_rng_state()
    init.kaiming_uniform_(a, generator=g1)
    init.kaiming_uniform_(b, generator=g2)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert graphc.get_rng_state().tolist() == state.tolist()  # the default one is untouched
    init.constant_(a, 0.25)
    assert (a.numpy() == 0.25).all()
    init.zeros_(a)
    assert (a.numpy() == 0).all()
    p = graphc.empty(2, 2, requires_grad=True)
    init.ones_(p)
    assert (p.detach().numpy() == 1).all() and p.is_leaf


def test_trunc_normal_stays_in_bounds_with_the_truncated_normals_moments():
    w = graphc.empty(400, 250, dtype=graphc.float64)
    graphc.manual_seed(2)
    mean, std, a, b = 0.5, 1.0, -1.0, 2.0
    assert init.trunc_normal_(w, mean, std, a, b) is w
    v = w.numpy()
    assert v.min() >= a and v.max() <= b
    assert v.min() < a + 0.01 and v.max() > b - 0.01
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: (1 + math.erf(z / math.sqrt(2))) / 2  # noqa: E731
    al, be = (a - mean) / std, (b - mean) / std
    z = cdf(be) - cdf(al)
    want_mean = mean + std * (pdf(al) - pdf(be)) / z
    want_var = std ** 2 * (1 + (al * pdf(al) - be * pdf(be)) / z - ((pdf(al) - pdf(be)) / z) ** 2)
    assert v.mean() == pytest.approx(want_mean, abs=0.006)  # 1e5 draws: std of the mean 0.002
    assert v.var() == pytest.approx(want_var, rel=0.02)


@needs_torch
def test_eye_and_dirac_match_torch():
    a, ta = graphc.empty(3, 5), torch.empty(3, 5)
    np.testing.assert_array_equal(init.eye_(a).numpy(), torch.nn.init.eye_(ta).numpy())
    for shape, groups in (((4, 2, 3, 3), 2), ((3, 5, 3), 1), ((2, 2, 1, 2, 3), 1)):
        d, td = graphc.empty(*shape), torch.empty(*shape)
        np.testing.assert_array_equal(init.dirac_(d, groups).numpy(),
                                      torch.nn.init.dirac_(td, groups).numpy())


def test_kaiming_on_zero_element_tensor_warns_and_is_a_no_op():
    w = graphc.empty(0, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert init.kaiming_uniform_(w) is w
    assert any("zero-element" in str(c.message) for c in caught)
