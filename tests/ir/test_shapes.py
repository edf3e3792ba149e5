"""Shapes: broadcasting (against numpy), axis normalization, reshape inference."""
from __future__ import annotations

import numpy as np
import pytest

from graphc.ir import shapes
from graphc.ir.errors import IndexOutOfRange, ShapeError

VALID = [
    [(), ()],
    [(3,), ()],
    [(2, 3), (3,)],
    [(2, 1), (1, 3)],
    [(4, 1, 5), (3, 1)],
    [(1,), (0,)],
    [(0, 3), (1, 3)],
    [(2, 0, 1), (4,)],
    [(5, 1, 1), (1, 6, 1), (1, 1, 7)],
    [(1, 1, 1, 1), (2,)],
    [(3, 4), (3, 4)],
]

INVALID = [
    [(3,), (4,)],
    [(2, 3), (3, 2)],
    [(0,), (2,)],
    [(2, 1), (8, 4, 3)],
    [(5, 1, 1), (1, 6, 1), (1, 1, 7), (2, 1, 1)],
]


@pytest.mark.parametrize("shps", VALID, ids=str)
def test_broadcast_shapes_matches_numpy(shps):
    want = np.broadcast_shapes(*shps)
    assert shapes.broadcast_shapes(*shps) == want
    assert shapes.broadcast_shapes(*reversed(shps)) == want


@pytest.mark.parametrize("shps", INVALID, ids=str)
def test_broadcast_shapes_rejects_what_numpy_rejects(shps):
    with pytest.raises(ValueError):
        np.broadcast_shapes(*shps)
    with pytest.raises(ShapeError) as info:
        shapes.broadcast_shapes(*shps, op="add")
    assert isinstance(info.value, RuntimeError)  # PyTorch's exception type
    msg = str(info.value)
    assert msg.startswith("add(): shapes ") and "not broadcastable" in msg
    assert str(list(shps[0])) in msg


def test_broadcast_shapes_returns_tuples():
    out = shapes.broadcast_shapes((2, 1), (3,))
    assert type(out) is tuple and out == (2, 3)


@pytest.mark.parametrize("axis, ndim, want", [
    (0, 1, 0), (-1, 1, 0), (2, 3, 2), (-3, 3, 0), (-1, 4, 3), (0, 0, 0), (-1, 0, 0),
])
def test_normalize_axis(axis, ndim, want):
    assert shapes.normalize_axis(axis, ndim) == want


@pytest.mark.parametrize("axis, ndim", [(3, 3), (-4, 3), (1, 0), (-2, 0), (5, 2)])
def test_normalize_axis_out_of_range(axis, ndim):
    with pytest.raises(IndexError) as info:
        shapes.normalize_axis(axis, ndim, op="sum")
    assert isinstance(info.value, IndexOutOfRange)
    msg = str(info.value)
    assert msg.startswith("sum(): dimension out of range")
    assert f"but got {axis}" in msg
    n = max(ndim, 1)
    assert f"[{-n}, {n - 1}]" in msg


def test_normalize_axes():
    assert shapes.normalize_axes(None, 3) == (0, 1, 2)
    assert shapes.normalize_axes(-1, 3) == (2,)
    assert shapes.normalize_axes((2, -3), 3) == (0, 2)
    with pytest.raises(RuntimeError, match="multiple times"):
        shapes.normalize_axes((1, -2), 3)
    with pytest.raises(IndexError):
        shapes.normalize_axes((0, 3), 3)


@pytest.mark.parametrize("shape, new, want", [
    ((2, 3, 4), (-1,), (24,)),
    ((2, 3, 4), (-1, 4), (6, 4)),
    ((2, 3, 4), (4, -1, 2), (4, 3, 2)),
    ((2, 3, 4), (24,), (24,)),
    ((6,), (1, -1, 1), (1, 6, 1)),
    ((0, 3), (-1, 3), (0, 3)),
    ((0, 3), (3, 0), (3, 0)),
    ((), (-1,), (1,)),
    ((1,), (), ()),
])
def test_infer_reshape(shape, new, want):
    got = shapes.infer_reshape(shape, new)
    assert got == want
    assert np.zeros(shape).reshape(new).shape == want  # numpy agrees


@pytest.mark.parametrize("shape, new, match", [
    ((2, 3, 4), (-1, -1), "only one dimension can be inferred"),
    ((2, 3, 4), (5, -1), "invalid for input of size 24"),
    ((2, 3, 4), (2, 3), "invalid for input of size 24"),
    ((2, 3, 4), (-2, 12), "invalid shape dimension"),
    ((0, 3), (-1, 0), "invalid for input of size 0"),
])
def test_infer_reshape_errors(shape, new, match):
    with pytest.raises(RuntimeError, match=match):
        shapes.infer_reshape(shape, new)


def test_numel_reduced_shape_and_sum_axes_to():
    assert shapes.numel(()) == 1 and shapes.numel((2, 0, 3)) == 0 and shapes.numel((2, 3)) == 6
    assert shapes.reduced_shape((2, 3, 4), (0, 2), keepdims=True) == (1, 3, 1)
    assert shapes.reduced_shape((2, 3, 4), (0, 2), keepdims=False) == (3,)
    # a cotangent of shape (5, 2, 3) summed back to (2, 1): leading axis 0 dropped, axis 2 kept
    assert shapes.sum_axes_to((5, 2, 3), (2, 1)) == ((0, 2), 1)
    assert shapes.sum_axes_to((2, 3), (2, 3)) == ((), 0)
