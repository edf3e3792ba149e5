"""Type promotion: graphc's ``promote_types``/``result_type`` and the dtype of ``a + b``.

Checked against PyTorch (the oracle, when installed) for every pair of graphc
dtypes, for tensor⊕tensor, tensor⊕0-dim tensor, 0-dim⊕0-dim and tensor⊕Python
scalar, plus hard-coded cases that need no torch.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import graphc
from graphc.ir import dtypes as dt

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
PAIRS = list(itertools.product(NAMES, NAMES))
SCALARS = [True, False, 3, -2, 2.5, 0.0]

# small values that every dtype holds exactly (uint8: no negatives)
_VALUES = {"bool": [True, False, True]}
_VALUES.update({n: [0, 1, 5] for n in NAMES[1:6]})
_VALUES.update({n: [0.5, 1.0, -2.25] for n in NAMES[6:]})


def gdt(name: str) -> dt.DType:
    return dt.from_name(name)


def g_tensor(name: str, zero_dim: bool = False) -> graphc.Tensor:
    vals = _VALUES[name]
    return graphc.tensor(vals[2] if zero_dim else vals, dtype=gdt(name))


def t_tensor(torch, name: str, zero_dim: bool = False):
    vals = _VALUES[name]
    return torch.tensor(vals[2] if zero_dim else vals, dtype=getattr(torch, name))


def tname(torch_dtype) -> str:
    return str(torch_dtype).removeprefix("torch.")


# ---------------------------------------------------------------- the registry of dtypes

def test_all_dtypes_are_distinct_and_named_like_torch():
    assert [d.name for d in dt.ALL] == NAMES
    assert len({d.short for d in dt.ALL}) == len(dt.ALL)
    assert graphc.bool is dt.bool_ and graphc.half is dt.float16 and graphc.long is dt.int64
    for d in dt.ALL:
        assert dt.from_numpy(d.np) is d
        assert dt.from_name(d.name) is d


def test_from_numpy_rejects_unknown_dtypes():
    with pytest.raises(TypeError):
        dt.from_numpy(np.complex64)
    with pytest.raises(TypeError):
        dt.from_numpy(np.uint32)


# ---------------------------------------------------------------- hard-coded (no torch needed)

def test_int64_plus_python_float_is_default_float():
    out = graphc.tensor([1, 2]) + 2.5
    assert out.dtype is graphc.float32
    np.testing.assert_array_equal(out.numpy(), np.array([3.5, 4.5], np.float32))


def test_float16_plus_python_float_stays_float16():
    out = graphc.tensor([1.0, 2.0], dtype=graphc.float16) + 1.0
    assert out.dtype is graphc.float16
    np.testing.assert_array_equal(out.numpy(), np.array([2.0, 3.0], np.float16))


def test_int32_plus_int64_is_int64():
    out = graphc.tensor([1, 2], dtype=graphc.int32) + graphc.tensor([3, 4], dtype=graphc.int64)
    assert out.dtype is graphc.int64
    assert out.tolist() == [4, 6]


def test_int32_tensor_plus_int64_zero_dim_stays_int32():
    out = graphc.tensor([1, 2], dtype=graphc.int32) + graphc.tensor(7)
    assert out.dtype is graphc.int32
    assert out.tolist() == [8, 9]


def test_int_tensor_plus_float_zero_dim_takes_the_float():
    out = graphc.tensor([1, 2], dtype=graphc.int32) + graphc.tensor(0.5, dtype=graphc.float64)
    assert out.dtype is graphc.float64


def test_bool_logical_or_is_bool():
    a = graphc.tensor([True, False, False])
    b = graphc.tensor([True, True, False])
    out = graphc.logical_or(a, b)
    assert out.dtype is graphc.bool
    assert out.tolist() == [True, True, False]
    assert (a + b).dtype is graphc.bool  # bool + bool stays bool, as in PyTorch
    assert (a + b).tolist() == [True, True, False]


def test_int_divided_by_int_is_float32():
    out = graphc.tensor([1, 3]) / graphc.tensor([2, 4])
    assert out.dtype is graphc.float32
    np.testing.assert_allclose(out.numpy(), [0.5, 0.75])


def test_python_scalar_dtypes_and_default_dtype():
    assert dt.of_scalar(True) is dt.bool_
    assert dt.of_scalar(3) is dt.int64
    assert dt.of_scalar(3.0) is dt.float32
    assert graphc.tensor(1.5).dtype is graphc.float32
    assert graphc.tensor(2).dtype is graphc.int64
    prev = graphc.get_default_dtype()
    try:
        graphc.set_default_dtype(graphc.float64)
        assert (graphc.tensor([1, 2]) + 0.5).dtype is graphc.float64
        assert graphc.tensor(1.5).dtype is graphc.float64
    finally:
        graphc.set_default_dtype(prev)
    assert graphc.get_default_dtype() is prev
    with pytest.raises(TypeError):
        graphc.set_default_dtype(graphc.int32)


@pytest.mark.parametrize("a, b, want", [
    ("uint8", "int8", "int16"), ("bool", "uint8", "uint8"), ("int16", "float16", "float16"),
    ("int64", "float16", "float16"), ("float16", "float32", "float32"),
    ("uint8", "int64", "int64"), ("bool", "float64", "float64"),
])
def test_promote_types_table(a, b, want):
    assert dt.promote_types(gdt(a), gdt(b)) is gdt(want)
    assert dt.promote_types(gdt(b), gdt(a)) is gdt(want)


def test_out_of_range_python_ints_wrap_like_torch():
    u8 = graphc.tensor([0, 1, 5], dtype=graphc.uint8)
    assert (u8 + -2).dtype is graphc.uint8
    assert (u8 + -2).tolist() == [254, 255, 3]
    assert (u8 - 2).tolist() == [254, 255, 3]  # the same numbers either way round
    assert (u8 * 300).tolist() == [0, 44, 220]
    assert (graphc.tensor([100], dtype=graphc.int8) + 1000).tolist() == [76]


def test_sub_of_bool_tensors_raises():
    with pytest.raises(RuntimeError):
        graphc.tensor([True]) - graphc.tensor([False])


# ---------------------------------------------------------------- against torch

@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("a, b", PAIRS)
def test_promote_types_matches_torch(torch, a, b):
    want = tname(torch.promote_types(getattr(torch, a), getattr(torch, b)))
    assert dt.promote_types(gdt(a), gdt(b)).name == want


@pytest.mark.parametrize("a, b", PAIRS)
@pytest.mark.parametrize("dims", ["tensor+tensor", "tensor+0d", "0d+tensor", "0d+0d"])
def test_add_dtype_and_value_match_torch(torch, a, b, dims):
    za, zb = dims.startswith("0d"), dims.endswith("0d")
    want = torch.add(t_tensor(torch, a, za), t_tensor(torch, b, zb))
    got = g_tensor(a, za) + g_tensor(b, zb)
    assert got.dtype.name == tname(want.dtype)
    assert got.shape == tuple(want.shape)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    # result_type agrees with what the op produced
    assert graphc.result_type(g_tensor(a, za), g_tensor(b, zb)) is got.dtype


@pytest.mark.parametrize("a", NAMES)
@pytest.mark.parametrize("scalar", SCALARS, ids=repr)
@pytest.mark.parametrize("zero_dim", [False, True], ids=["tensor", "0d"])
def test_tensor_plus_python_scalar_matches_torch(torch, a, scalar, zero_dim):
    want = t_tensor(torch, a, zero_dim) + scalar
    got = g_tensor(a, zero_dim) + scalar
    assert got.dtype.name == tname(want.dtype)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert graphc.result_type(g_tensor(a, zero_dim), scalar).name == \
        tname(torch.result_type(t_tensor(torch, a, zero_dim), scalar))
    # reflected operand order gives the same type
    assert (scalar + g_tensor(a, zero_dim)).dtype is got.dtype


@pytest.mark.parametrize("a, b", PAIRS)
def test_mul_div_compare_dtypes_match_torch(torch, a, b):
    ta, tb = t_tensor(torch, a), t_tensor(torch, b)
    ga, gb = g_tensor(a), g_tensor(b)
    assert (ga * gb).dtype.name == tname((ta * tb).dtype)
    with np.errstate(divide="ignore", invalid="ignore"):  # the values divide by zero
        assert (ga / gb).dtype.name == tname((ta / tb).dtype)
    assert graphc.maximum(ga, gb).dtype.name == tname(torch.maximum(ta, tb).dtype)
    assert (ga < gb).dtype is graphc.bool and (ga == gb).dtype is graphc.bool
    assert (ga == gb).tolist() == (ta == tb).tolist()
