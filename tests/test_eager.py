"""The eager engine's fast paths (runtime/eager.py, ir/ops.py): each must give what the
general path gives, bit for bit, and raise the same errors."""
from __future__ import annotations

import numpy as np
import pytest

import graphc
from graphc.ir import ops as P
from graphc.runtime import eager, malloc

try:
    import torch
except ImportError:  # the oracle is optional
    torch = None

# ---------------------------------------------------------------- remembered shape rules


def test_remembered_shape_rules_follow_types_and_the_default_dtype():
    i = graphc.tensor([1, 2])
    assert (i + 1).dtype is graphc.int64 and (i + 1.0).dtype is graphc.float32
    assert (i / 2).dtype is graphc.float32
    graphc.set_default_dtype(graphc.float64)
    try:  # the same op on the same types: the default dtype is part of the key
        assert (i + 1.0).dtype is graphc.float64 and (i / 2).dtype is graphc.float64
    finally:
        graphc.set_default_dtype(graphc.float32)
    assert (i / 2).dtype is graphc.float32


def test_remembered_shape_rules_still_raise():
    x = graphc.ones(2, 3)
    b = graphc.ones(3, dtype=graphc.bool_)
    for _ in range(2):  # an error is never remembered as an answer
        with pytest.raises(RuntimeError, match="subtraction"):
            b - True
        with pytest.raises(RuntimeError, match="shapes"):
            x + graphc.ones(4)
    assert (x + graphc.ones(3)).shape == (2, 3)


def test_unhashable_attributes_skip_the_memory():
    a = np.arange(6.0).reshape(2, 3)
    for _ in range(2):
        t = graphc.tensor(a)  # a constant holding an array
        np.testing.assert_array_equal(t.numpy(), a)


# ---------------------------------------------------------------- branch-free where

def _special(rng, shape, dtype):
    v = rng.standard_normal(shape).astype(dtype)
    v.flat[:6] = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-40]
    return v


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_where_equals_numpy_bit_for_bit(dtype):
    rng = np.random.default_rng(0)
    shape = (64, 100)  # over the size where the select goes branch-free
    c = rng.random(shape) > 0.5
    a, b = _special(rng, shape, dtype), _special(rng, shape, dtype)[::-1].copy()
    for x, y in [(a, b), (a, 0.0), (0.0, b), (a, -0.0), (-0.0, b), (a, 2.5), (3, b), (a, True),
                 (a, 0), (0, b)]:
        got = P._where_impl({}, c, x, y)
        want = np.where(c, x, y)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


@pytest.mark.skipif(torch is None, reason="PyTorch (the reference) is not installed")
def test_large_relu_and_its_gradient_match_torch():
    rng = np.random.default_rng(1)
    x = _special(rng, (64, 128), np.float32)
    g = _special(rng, (64, 128), np.float32)
    ours = graphc.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y, t = graphc.relu(ours), torch.relu(theirs)
    y.backward(graphc.tensor(g))
    t.backward(torch.tensor(g))
    np.testing.assert_array_equal(y.detach().numpy(), t.detach().numpy())
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


# ---------------------------------------------------------------- scatter_add, one index a line

@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_scatter_add_of_one_index_a_line_equals_add_at(dtype):
    rng = np.random.default_rng(2)
    base = rng.integers(-5, 5, (6, 4)).astype(dtype)
    for axis in (0, 1):
        shape = (1, 4) if axis == 0 else (6, 1)
        index = rng.integers(0, base.shape[axis], shape)
        src = rng.integers(-5, 5, (7, 5)).astype(dtype)  # larger than index: its corner counts
        want = base.copy()
        grid = list(np.indices(index.shape, sparse=True))
        grid[axis] = index
        np.add.at(want, tuple(grid), src[:shape[0], :shape[1]])
        got = P._scatter_add_impl({"axis": axis}, base, index, src)
        np.testing.assert_array_equal(got, want)
        assert got.dtype == dtype
    with pytest.raises(IndexError, match="out of bounds"):
        P._scatter_add_impl({"axis": 1}, base, np.full((6, 1), 4), src)


# ---------------------------------------------------------------- expand's view

@pytest.mark.parametrize("src, shape", [((64, 1), (64, 10)), ((), (64, 1)), ((3,), (2, 3)),
                                        ((2, 1, 3), (5, 2, 4, 3)), ((1,), (0,)), ((2, 3), (2, 3))])
def test_expand_is_broadcast_to(src, shape):
    rng = np.random.default_rng(3)
    values = [rng.random(src).astype(np.float32)]
    if len(src) > 1:  # not C-contiguous: numpy's own broadcast_to
        values.append(rng.random(src[::-1]).T)
    for x in values:
        got, want = P._expand_impl({"shape": shape}, x), np.broadcast_to(x, shape)
        assert got.shape == want.shape and got.dtype == want.dtype and not got.flags.writeable
        np.testing.assert_array_equal(got, want)
        # a view where numpy's is one: expand shares the version counter then
        assert np.may_share_memory(got, x) == np.may_share_memory(want, x)


# ---------------------------------------------------------------- malloc

def test_malloc_tuning_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("GRAPHC_MALLOC_TUNING", "0")
    assert malloc.keep_freed_memory() is False
    monkeypatch.setenv("GRAPHC_MALLOC_TUNING", "1")
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")  # the user tunes glibc: we leave it alone
    assert malloc.keep_freed_memory() is False


def test_the_eager_handler_is_installed():
    assert eager.EAGER.checks_saved is False and eager.CHECKED_EAGER.checks_saved is True
