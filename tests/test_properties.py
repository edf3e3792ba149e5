"""Property tests (hypothesis): broadcasting binary ops, elementwise chains and their
gradients, and reductions agree with numpy / finite differences on random inputs."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import graphc

try:
    import torch
except ImportError:  # torch is an optional oracle: dtype checks then rely on numpy alone
    torch = None

SETTINGS = settings(max_examples=60, deadline=None)

DTYPES = ["bool", "int32", "int64", "float32", "float64"]


# ---------------------------------------------------------------- strategies

@st.composite
def broadcast_pair(draw, max_dims: int = 4):
    """Two shapes that broadcast: a base shape, each side drops leading dims and sets some
    dims to 1. Sizes 0 and 1 are included."""
    base = draw(st.lists(st.integers(0, 3), min_size=0, max_size=max_dims))
    out = []
    for _ in range(2):
        drop = draw(st.integers(0, len(base)))
        shape = base[drop:]
        ones = draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
        out.append(tuple(1 if o else d for d, o in zip(shape, ones, strict=True)))
    return tuple(out)


def random_array(rng: np.random.Generator, shape, dtype: str) -> np.ndarray:
    """Values that every dtype holds exactly: small ints, halves (so ties and equality occur)."""
    if dtype == "bool":
        return np.asarray(rng.random(shape) < 0.5)
    if dtype.startswith("int"):
        return np.asarray(rng.integers(-4, 5, shape), dtype=dtype)
    return np.asarray(rng.integers(-8, 9, shape) / 2, dtype=dtype)


def g(a: np.ndarray) -> graphc.Tensor:
    return graphc.tensor(a)


# ---------------------------------------------------------------- binary ops

BINARY = {
    "add": (lambda x, y: x + y, np.add),
    "sub": (lambda x, y: x - y, np.subtract),
    "mul": (lambda x, y: x * y, np.multiply),
    "div": (lambda x, y: x / y, np.true_divide),
    "maximum": (graphc.maximum, np.maximum),
    "minimum": (graphc.minimum, np.minimum),
    "eq": (lambda x, y: x == y, np.equal),
    "ne": (lambda x, y: x != y, np.not_equal),
    "lt": (lambda x, y: x < y, np.less),
    "le": (lambda x, y: x <= y, np.less_equal),
    "gt": (lambda x, y: x > y, np.greater),
    "ge": (lambda x, y: x >= y, np.greater_equal),
}


def torch_dtype_name(fn_name: str, a: np.ndarray, b: np.ndarray) -> str | None:
    if torch is None:
        return None
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    out = {"maximum": torch.maximum, "minimum": torch.minimum}.get(fn_name)
    res = out(ta, tb) if out else BINARY[fn_name][0](ta, tb)
    return str(res.dtype).removeprefix("torch.")


def check_like_numpy(got: graphc.Tensor, want: np.ndarray, torch_name: str | None) -> None:
    assert got.shape == want.shape
    if torch_name is not None:
        assert got.dtype.name == torch_name  # graphc follows PyTorch's promotion
        if want.dtype.name == torch_name:   # and where numpy agrees with torch, numpy's
            assert got.numpy().dtype == want.dtype
    elif want.dtype.kind == "b":
        assert got.dtype is graphc.bool
    value = got.numpy()
    if value.dtype.kind == "f":
        rtol = 1e-6 if value.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(value, want.astype(value.dtype), rtol=rtol, atol=0)
    else:
        np.testing.assert_array_equal(value, want)


@SETTINGS
@given(shapes=broadcast_pair(), op=st.sampled_from(sorted(BINARY)),
       dtypes=st.tuples(st.sampled_from(DTYPES), st.sampled_from(DTYPES)),
       seed=st.integers(0, 2**32 - 1))
def test_binary_ops_broadcast_like_numpy(shapes, op, dtypes, seed):
    if op == "sub":
        assume("bool" not in dtypes)  # PyTorch refuses bool subtraction
    rng = np.random.default_rng(seed)
    a, b = (random_array(rng, s, d) for s, d in zip(shapes, dtypes, strict=True))
    if op == "div":
        b = np.where(b == 0, np.ones_like(b), b)  # no division by zero
    fn, np_fn = BINARY[op]
    got = fn(g(a), g(b))
    want = np_fn(a, b)
    check_like_numpy(got, want, torch_dtype_name(op, a, b))
    # broadcasting is symmetric: swapping operands gives the same shape
    with np.errstate(divide="ignore", invalid="ignore"):  # a may hold zeros
        assert fn(g(b), g(a)).shape == want.shape


@SETTINGS
@given(shapes=broadcast_pair(max_dims=3), extra=st.integers(0, 2),
       dtypes=st.tuples(st.sampled_from(DTYPES[1:]), st.sampled_from(DTYPES[1:])),
       seed=st.integers(0, 2**32 - 1))
def test_where_broadcasts_three_ways_like_numpy(shapes, extra, dtypes, seed):
    rng = np.random.default_rng(seed)
    a, b = (random_array(rng, s, d) for s, d in zip(shapes, dtypes, strict=True))
    cond_shape = np.broadcast_shapes(a.shape, b.shape)[extra:] if extra else a.shape
    cond = np.asarray(rng.random(cond_shape) < 0.5)
    got = graphc.where(g(cond), g(a), g(b))
    want = np.where(cond, a, b)
    tname = None
    if torch is not None:
        tname = str(torch.where(torch.from_numpy(cond), torch.from_numpy(a),
                                torch.from_numpy(b)).dtype).removeprefix("torch.")
    check_like_numpy(got, want, tname)


@SETTINGS
@given(shape=st.lists(st.integers(0, 3), max_size=3).map(tuple),
       dtype=st.sampled_from(DTYPES[1:]), scalar=st.sampled_from([2, -3, 0.5, -1.5]),
       op=st.sampled_from(["add", "mul", "div", "lt", "sub"]), seed=st.integers(0, 2**16))
def test_binary_ops_with_python_scalars(shape, dtype, scalar, op, seed):
    a = random_array(np.random.default_rng(seed), shape, dtype)
    fn, np_fn = BINARY[op]
    got = fn(g(a), scalar)
    # a Python scalar never widens a tensor of its own kind (int32 + 2 -> int32, f32 + 0.5 -> f32)
    if op == "lt":
        want_dtype = "bool"
    elif (isinstance(scalar, float) or op == "div") and not dtype.startswith("float"):
        want_dtype = "float32"
    else:
        want_dtype = dtype
    assert got.dtype.name == want_dtype
    assert got.shape == a.shape
    np.testing.assert_allclose(got.numpy(), np_fn(a, scalar).astype(want_dtype), rtol=1e-6)
    # the reflected form gives the same type
    reflected = {"add": lambda: scalar + g(a), "mul": lambda: scalar * g(a),
                 "div": lambda: scalar / g(a), "lt": lambda: scalar > g(a),
                 "sub": lambda: scalar - g(a)}[op]
    with np.errstate(divide="ignore", invalid="ignore"):
        assert reflected().dtype.name == want_dtype


# ---------------------------------------------------------------- elementwise chains

# name -> (graphc fn, numpy fn, kink test for finite differences or None)
UNARY = {
    "exp_clip": (lambda t: graphc.clamp(t, -5.0, 5.0).exp(),
                 lambda a: np.exp(np.clip(a, -5.0, 5.0)),
                 lambda a: np.minimum(np.abs(a - 5.0), np.abs(a + 5.0))),
    "tanh": (graphc.tanh, np.tanh, None),
    "sin": (graphc.sin, np.sin, None),
    "abs": (graphc.abs, np.abs, np.abs),
    "neg": (lambda t: -t, np.negative, None),
    "sqrt_abs": (lambda t: t.abs().sqrt(), lambda a: np.sqrt(np.abs(a)),
                 lambda a: np.abs(a) ** 2),  # FD is well-conditioned only away from 0
    "sigmoid": (graphc.sigmoid, lambda a: 1.0 / (1.0 + np.exp(-a)), None),
    "relu": (graphc.relu, lambda a: np.maximum(a, 0.0), np.abs),
}


@st.composite
def chains(draw):
    """1-6 steps: unary ops, and mul/add with random scalars."""
    steps = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(sorted(UNARY) + ["mul", "add"]))
        c = draw(st.floats(-3, 3, allow_nan=False).filter(lambda v: abs(v) > 1e-3)) \
            if kind in ("mul", "add") else None
        steps.append((kind, c))
    return steps


def run_graphc(steps, t):
    for kind, c in steps:
        if kind == "mul":
            t = t * c
        elif kind == "add":
            t = t + c
        else:
            t = UNARY[kind][0](t)
    return t


def run_numpy(steps, a, kinks=None):
    """The chain in numpy; ``kinks`` collects each non-smooth step's distance from its kink."""
    for kind, c in steps:
        if kind == "mul":
            a = a * c
        elif kind == "add":
            a = a + c
        else:
            _, np_fn, kink = UNARY[kind]
            if kinks is not None and kink is not None:
                kinks.append(kink(a).min(initial=np.inf))
            a = np_fn(a)
    return a


shapes_small = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)


@SETTINGS
@given(steps=chains(), shape=st.lists(st.integers(0, 4), max_size=3).map(tuple),
       seed=st.integers(0, 2**32 - 1))
def test_elementwise_chains_match_numpy(steps, shape, seed):
    a = np.random.default_rng(seed).uniform(-3, 3, shape)
    got = run_graphc(steps, graphc.tensor(a))
    want = run_numpy(steps, a)
    assert got.dtype is graphc.float64 and got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


@SETTINGS
@given(steps=chains(), shape=shapes_small, seed=st.integers(0, 2**32 - 1))
def test_elementwise_chain_gradients_match_finite_differences(steps, shape, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-2, 2, shape)
    w = rng.uniform(-1, 1, shape)  # a random cotangent, so every element's gradient counts
    kinks: list[float] = []
    run_numpy(steps, a, kinks)
    assume(all(k > 1e-3 for k in kinks))  # keep FD away from abs/relu/clip kinks and sqrt(0)
    x = graphc.tensor(a, requires_grad=True)
    y = (run_graphc(steps, x) * graphc.tensor(w)).sum()
    (gx,) = graphc.autograd.grad(y, x)
    assert gx.shape == x.shape and gx.dtype is graphc.float64
    eps = 1e-6
    with graphc.no_grad():  # the chain is elementwise: one vectorized central difference
        hi = run_graphc(steps, graphc.tensor(a + eps)).numpy()
        lo = run_graphc(steps, graphc.tensor(a - eps)).numpy()
    fd = (hi - lo) / (2 * eps) * w
    np.testing.assert_allclose(gx.numpy(), fd, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- reductions

@st.composite
def reduction_case(draw, allow_zero: bool):
    shape = tuple(draw(st.lists(st.integers(0 if allow_zero else 1, 4), min_size=1,
                                max_size=4)))
    nd = len(shape)
    axes = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
    axes = tuple(ax - nd if draw(st.booleans()) else ax for ax in axes)  # some negative
    dim = axes[0] if len(axes) == 1 and draw(st.booleans()) else axes
    return shape, dim, draw(st.booleans())


REDUCTIONS = {
    "sum": (graphc.sum, np.sum, True),
    "mean": (graphc.mean, np.mean, False),
    "amax": (graphc.amax, np.amax, False),
}


@SETTINGS
@given(data=st.data(), op=st.sampled_from(sorted(REDUCTIONS)),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**32 - 1))
def test_reductions_match_numpy(data, op, dtype, seed):
    fn, np_fn, allow_zero = REDUCTIONS[op]
    shape, dim, keepdim = data.draw(reduction_case(allow_zero))
    a = np.random.default_rng(seed).uniform(-3, 3, shape).astype(dtype)
    got = fn(graphc.tensor(a), dim, keepdim)
    want = np_fn(a, axis=dim, keepdims=keepdim)
    assert got.shape == np.shape(want)
    assert got.dtype.name == dtype
    rtol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got.numpy(), want, rtol=rtol, atol=1e-6 if dtype == "float32"
                               else 1e-12)


@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_integer_sum_is_int64_like_torch(data, seed):
    shape, dim, keepdim = data.draw(reduction_case(True))
    a = np.random.default_rng(seed).integers(-50, 50, shape).astype(np.int32)
    got = graphc.tensor(a).sum(dim, keepdim=keepdim)
    assert got.dtype is graphc.int64
    np.testing.assert_array_equal(got.numpy(), a.sum(axis=dim, keepdims=keepdim))


def test_reduction_over_no_dims_means_all_dims_as_in_torch():
    a = np.arange(6.0).reshape(2, 3)
    assert graphc.tensor(a).sum(dim=()).item() == 15.0
    assert graphc.amax(graphc.tensor(a), dim=()).item() == 5.0


@pytest.mark.parametrize("op", ["amax", "max"])
def test_max_over_empty_dim_raises(op):
    t = graphc.zeros(2, 0)
    with pytest.raises(IndexError, match="Expected reduction dim 1 to have non-zero size"):
        graphc.amax(t, 1) if op == "amax" else t.max(dim=1)
