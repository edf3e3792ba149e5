"""Results that were wrong without any error (found by fuzzing and hostile inputs), each
checked eagerly and compiled, against PyTorch where it runs."""
from __future__ import annotations

import numpy as np
import pytest

import graphc
from graphc.ir.errors import DivisionByZero, DomainError, IndexValueError

torch = pytest.importorskip("torch")
F = graphc.nn.functional


def _same_signs(a: np.ndarray, b: np.ndarray) -> bool:
    """Signs equal, zeros included (NaNs, whose sign bit means nothing, aside)."""
    keep = ~np.isnan(b)
    return np.array_equal(np.signbit(a[keep]), np.signbit(b[keep]))


def _modes(fn):
    """fn eagerly and compiled."""
    return [("eager", fn), ("compiled", graphc.compile(fn))]


@pytest.mark.parametrize("op", ["floor_divide", "remainder"])
def test_integer_division_by_zero_raises_eagerly_and_compiled(op):
    a, b = graphc.tensor([1, 2]), graphc.tensor([0, 1])
    for mode, fn in _modes(lambda x, y: getattr(graphc, op)(x, y)):
        with pytest.raises(DivisionByZero, match=f"{op}.*ZeroDivisionError") as info:
            fn(a, b)
        assert isinstance(info.value, RuntimeError) and isinstance(info.value, ZeroDivisionError)
        assert "test_silent_results.py" in str(info.value), mode
    for _mode, fn in _modes(lambda x: x // 0):  # a literal zero divisor
        with pytest.raises(DivisionByZero):
            fn(a)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        torch.tensor([1, 2]) // torch.tensor([0, 1])


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "int8", "uint8"])
def test_integer_floor_division_and_remainder_are_exact_at_any_size(dtype):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.integers(info.min, info.max, 200, dtype=dtype, endpoint=True),
                        np.array([info.min, info.max, 0, 1, info.min + 1], dtype=dtype)])
    b = rng.integers(info.min, info.max, a.size, dtype=dtype, endpoint=True)
    b[:20] = rng.integers(-3 if info.min else 1, 4, 20)
    b[-5:] = [-1 if info.min else 1, -1 if info.min else 3, 7, 2, 1]
    b[b == 0] = 1
    ta, tb = torch.from_numpy(a.copy()), torch.from_numpy(b.copy())
    want = [(ta // tb).numpy(), (ta % tb).numpy(), (ta // 3).numpy(), (ta % 3).numpy()]
    for mode, fn in _modes(lambda x, y: (x // y, x % y, x // 3, x % 3)):
        got = fn(graphc.from_numpy(a.copy()), graphc.from_numpy(b.copy()))
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), w, err_msg=f"{mode} {dtype}")
    big = graphc.tensor([2 ** 62 + 1, -(2 ** 62 + 1)])  # past 2**53: float64 would round
    for mode, fn in _modes(lambda x: (x // 3, x % 3, graphc.div(x, 3, rounding_mode="trunc"))):
        q, r, t = fn(big)
        assert q.tolist() == [(2 ** 62 + 1) // 3, -(2 ** 62 + 1) // 3], mode
        assert r.tolist() == [(2 ** 62 + 1) % 3, -(2 ** 62 + 1) % 3], mode
        assert t.tolist() == [(2 ** 62 + 1) // 3, -((2 ** 62 + 1) // 3)], mode


def test_float_floor_division_and_remainder_match_pytorch_bit_for_bit():
    a = np.array([5., -5., 0., -0., 3., np.inf, -np.inf, np.nan, 1., -1., 5., 1e8 + 3, -7.5])
    b = np.array([-3., 3., -2., 2., 0., 2., 3., 1., np.inf, np.inf, .1, .1, -2.])
    for dtype in (np.float32, np.float64):
        ta, tb = torch.from_numpy(a.astype(dtype)), torch.from_numpy(b.astype(dtype))
        want = [(ta // tb).numpy(), (ta % tb).numpy()]
        for mode, fn in _modes(lambda x, y: (x // y, x % y)):
            got = fn(graphc.from_numpy(a.astype(dtype)), graphc.from_numpy(b.astype(dtype)))
            for g, w in zip(got, want):
                np.testing.assert_array_equal(g.numpy(), w, err_msg=mode)
                assert _same_signs(g.numpy(), w), mode


def test_one_hot_class_out_of_range_raises_eagerly_and_compiled():
    for bad in ([0, 5], [0, -1]):
        for _mode, fn in _modes(lambda i: F.one_hot(i, 3)):
            with pytest.raises(IndexValueError, match=r"one_hot\(\): class values must be in "
                               rf"\[0, 3\), got {bad[1]}"):
                fn(graphc.tensor(bad))
    for _mode, fn in _modes(lambda i: F.one_hot(i, 3)):
        np.testing.assert_array_equal(fn(graphc.tensor([[0, 2], [1, 1]])).numpy(),
                                      np.eye(3, dtype=np.int64)[[[0, 2], [1, 1]]])


def test_log1p_at_large_values_infinity_and_minus_one():
    x = [1e37, 1e38, float("inf"), -1.0, -2.0, float("-inf"), 1e-30, -0.0, 3.0]
    for dtype in (graphc.float32, graphc.float64):
        want = torch.tensor(x, dtype=getattr(torch, dtype.name)).log1p().numpy()
        for mode, fn in _modes(graphc.log1p):
            got = fn(graphc.tensor(x, dtype=dtype)).numpy()
            np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=mode)
            assert _same_signs(got, want), mode
    t = graphc.tensor([1e37, -0.5, 1e-12], dtype=graphc.float64, requires_grad=True)
    (g,) = graphc.autograd.grad(graphc.log1p(t).sum(), t)
    np.testing.assert_allclose(g.numpy(), 1 / (1 + np.array([1e37, -0.5, 1e-12])), rtol=1e-15)


@pytest.mark.parametrize("probs,replacement,samples,message", [
    ([0.5, -1.0], False, 1, "contains either `inf`, `nan` or element < 0"),
    ([0.5, -1.0], True, 1, "contains either `inf`, `nan` or element < 0"),
    ([0.5, float("nan")], True, 1, "contains either `inf`, `nan` or element < 0"),
    ([0.5, float("inf")], False, 1, "contains either `inf`, `nan` or element < 0"),
    ([[1.0, 1.0], [0.0, 0.0]], True, 1, r"sum of probabilities <= 0"),
    ([0.5, 0.0, 0.5], False, 3, "not enough non-negative category"),
    ([0.5, 0.5], False, 3, r"n_sample > prob_dist.size\(-1\)"),
    ([0.5, 0.5], True, 0, "n_sample <= 0"),
])
def test_multinomial_refuses_bad_distributions(probs, replacement, samples, message):
    with pytest.raises(DomainError if "sample" not in message or "category" in message
                       else RuntimeError, match=message):
        graphc.multinomial(graphc.tensor(probs), samples, replacement)


def test_multinomial_never_draws_zero_probability_categories():
    graphc.manual_seed(0)
    p = graphc.tensor([[0.0, 0.3, 0.0, 0.7], [0.2, 0.0, 0.8, 0.0]])
    for replacement in (False, True):
        out = graphc.multinomial(p, 2, replacement).numpy()
        assert (p.numpy()[np.arange(2)[:, None], out] > 0).all()
    draws = graphc.multinomial(graphc.tensor([0.25, 0.75]), 20000, True).numpy()
    assert abs(draws.mean() - 0.75) < 0.02  # the frequencies are the probabilities


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("shape,dim", [((2, 0), 1), ((0, 3), 1), ((0, 3), 0), ((0,), 0),
                                       ((2, 0, 3), 1)])
def test_softmax_family_over_empty_dims(name, shape, dim):
    want = getattr(torch, name)(torch.zeros(shape), dim).numpy()
    for mode, fn in _modes(lambda x: getattr(graphc, name)(x, dim)):
        got = fn(graphc.zeros(*shape)).numpy()
        assert got.shape == want.shape, mode
        np.testing.assert_array_equal(got, want)  # -inf for logsumexp of nothing
    x = graphc.zeros(*shape, requires_grad=True)  # and the gradient is empty or zero
    (g,) = graphc.autograd.grad(getattr(graphc, name)(x, dim).sum(), x)
    assert g.shape == x.shape and not g.numpy().any()


def test_sign_of_nan_and_negative_zero_is_plus_zero():
    x = [float("nan"), -0.0, 0.0, 2.0, -3.0, float("inf"), float("-inf")]
    want = torch.sign(torch.tensor(x)).numpy()
    for mode, fn in _modes(graphc.sign):
        got = fn(graphc.tensor(x)).numpy()
        np.testing.assert_array_equal(got, want, err_msg=mode)
        assert not np.signbit(got[:3]).any(), mode


def test_compiled_sums_keep_nan_and_infinity_like_eager():
    """Compiled sums may reorder additions (fast-math reassoc, documented), never change
    what NaN and infinities do."""
    cases = [[1.0, float("nan"), 2.0] * 11, [float("inf"), 1.0] * 20,
             [float("inf"), float("-inf")] * 9, [float("-inf")] * 33]
    f = graphc.compile(lambda t: (t.sum(), t.sum(0), t.amax()))
    for x in cases:
        t = graphc.tensor(x)
        for got, want in zip(f(t), (t.sum(), t.sum(0), t.amax())):
            np.testing.assert_array_equal(got.numpy(), want.numpy())
