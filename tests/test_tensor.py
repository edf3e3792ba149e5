"""Tensors: creation, attributes, conversion, repr, indexing, views and in-place ops.

Values are checked against numpy on the same data; repr against PyTorch's
string when torch is installed.
"""
from __future__ import annotations

import numpy as np
import pytest

import graphc

# ---------------------------------------------------------------- creation


@pytest.mark.parametrize("data, dtype, npdtype", [
    (1.5, graphc.float32, np.float32),
    ([1.0, 2.0], graphc.float32, np.float32),
    (3, graphc.int64, np.int64),
    ([[1, 2], [3, 4]], graphc.int64, np.int64),
    (True, graphc.bool, np.bool_),
    ([True, False], graphc.bool, np.bool_),
    ([1, 2.5], graphc.float32, np.float32),      # int and float mix: the float type
    ([True, 2], graphc.int64, np.int64),         # bool and int mix: int
])
def test_tensor_dtype_inference(data, dtype, npdtype):
    t = graphc.tensor(data)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), np.array(data, dtype=npdtype))
    assert t.numpy().dtype == npdtype


@pytest.mark.parametrize("npdtype, dtype", [
    (np.float64, graphc.float64), (np.float32, graphc.float32), (np.int32, graphc.int32),
    (np.int64, graphc.int64), (np.bool_, graphc.bool), (np.uint8, graphc.uint8),
    (np.int16, graphc.int16), (np.float16, graphc.float16),
])
def test_tensor_from_numpy_array_keeps_dtype(npdtype, dtype):
    a = np.arange(6).reshape(2, 3).astype(npdtype)
    t = graphc.tensor(a)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), a)
    a[0, 0] = 1  # tensor() copies
    assert t.numpy()[0, 0] == 0


def test_tensor_explicit_dtype_and_copy_of_tensor():
    t = graphc.tensor([1, 2, 3], dtype=graphc.float64)
    assert t.dtype == graphc.float64
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0, 3.0])
    u = graphc.tensor(t)
    u.add_(1)
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(u.numpy(), [2.0, 3.0, 4.0])


def test_tensor_ragged_raises():
    with pytest.raises((ValueError, TypeError)):
        graphc.tensor([[1, 2], [3]])


def test_zeros_ones_full_empty():
    z = graphc.zeros(2, 3)
    assert z.shape == (2, 3) and z.dtype == graphc.float32
    np.testing.assert_array_equal(z.numpy(), np.zeros((2, 3), np.float32))
    o = graphc.ones((4,), dtype=graphc.int64)
    assert o.dtype == graphc.int64
    np.testing.assert_array_equal(o.numpy(), np.ones(4, np.int64))
    f = graphc.full((2, 2), 7)
    assert f.dtype == graphc.int64  # as PyTorch: an int fill value gives int64
    np.testing.assert_array_equal(f.numpy(), np.full((2, 2), 7))
    f = graphc.full([3], 2.5)
    assert f.dtype == graphc.float32
    np.testing.assert_array_equal(f.numpy(), [2.5, 2.5, 2.5])
    f = graphc.full((2,), True)
    assert f.dtype == graphc.bool
    e = graphc.empty(3, 0)
    assert e.shape == (3, 0) and e.numel() == 0 and e.dtype == graphc.float32
    assert graphc.zeros([]).shape == ()


def test_zeros_negative_size_raises():
    with pytest.raises(RuntimeError):
        graphc.zeros(2, -1)


def test_arange():
    np.testing.assert_array_equal(graphc.arange(5).numpy(), np.arange(5))
    assert graphc.arange(5).dtype == graphc.int64
    np.testing.assert_array_equal(graphc.arange(2, 11, 3).numpy(), [2, 5, 8])
    t = graphc.arange(0, 1, 0.25)
    assert t.dtype == graphc.float32
    np.testing.assert_allclose(t.numpy(), [0.0, 0.25, 0.5, 0.75])
    np.testing.assert_array_equal(graphc.arange(5, 0, -2).numpy(), [5, 3, 1])
    assert graphc.arange(3, dtype=graphc.float64).dtype == graphc.float64
    assert graphc.arange(0).shape == (0,)


def test_linspace():
    t = graphc.linspace(0, 1, 5)
    assert t.dtype == graphc.float32
    np.testing.assert_allclose(t.numpy(), np.linspace(0, 1, 5, dtype=np.float32))
    t = graphc.linspace(-3, 7, 11, dtype=graphc.float64)
    np.testing.assert_allclose(t.numpy(), np.linspace(-3, 7, 11))
    assert t.numpy()[-1] == 7.0
    np.testing.assert_array_equal(graphc.linspace(2, 5, 1).numpy(), [2.0])
    assert graphc.linspace(0, 1, 0).shape == (0,)


def test_eye():
    np.testing.assert_array_equal(graphc.eye(3).numpy(), np.eye(3, dtype=np.float32))
    np.testing.assert_array_equal(graphc.eye(2, 4).numpy(), np.eye(2, 4))
    assert graphc.eye(2, dtype=graphc.int64).dtype == graphc.int64


def test_like_functions():
    x = graphc.tensor([[1, 2, 3]], dtype=graphc.int32)
    for fn, val in ((graphc.zeros_like, 0), (graphc.ones_like, 1)):
        y = fn(x)
        assert y.shape == (1, 3) and y.dtype == graphc.int32
        np.testing.assert_array_equal(y.numpy(), np.full((1, 3), val))
    y = graphc.full_like(x, 9)
    np.testing.assert_array_equal(y.numpy(), [[9, 9, 9]])
    assert y.dtype == graphc.int32
    y = graphc.zeros_like(x, dtype=graphc.float64)
    assert y.dtype == graphc.float64
    assert graphc.empty_like(x).shape == (1, 3)


def test_from_numpy_shares_memory():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = graphc.from_numpy(a)
    assert t.dtype == graphc.float64 and t.shape == (2, 3)
    a[0, 1] = 100.0
    assert t[0, 1].item() == 100.0
    t.add_(1)
    assert a[1, 2] == 6.0
    with pytest.raises(TypeError):
        graphc.from_numpy([1, 2, 3])


def test_as_tensor_shares_when_it_can():
    a = np.array([1.0, 2.0], dtype=np.float32)
    t = graphc.as_tensor(a)
    a[0] = 5.0
    assert t[0].item() == 5.0
    x = graphc.tensor([1, 2])
    assert graphc.as_tensor(x) is x
    y = graphc.as_tensor(a, dtype=graphc.float64)  # a dtype change copies
    a[1] = -1.0
    np.testing.assert_array_equal(y.numpy(), [5.0, 2.0])
    np.testing.assert_array_equal(graphc.as_tensor([1, 2]).numpy(), [1, 2])


# ---------------------------------------------------------------- attributes


def test_attributes():
    t = graphc.zeros(2, 3, 4)
    assert isinstance(t.shape, graphc.Size) and isinstance(t.shape, tuple)
    assert t.shape == (2, 3, 4) and t.size() == (2, 3, 4)
    assert t.size(1) == 3 and t.size(-1) == 4
    assert t.ndim == 3 and t.dim() == 3
    assert t.numel() == 24
    assert str(t.device) == "cpu" and t.device == "cpu"
    assert t.dtype is graphc.float32
    assert repr(t.shape) == "graphc.Size([2, 3, 4])"
    assert t.shape.numel() == 24
    assert isinstance(t.shape[1:], graphc.Size)
    with pytest.raises(IndexError):
        t.size(3)


def test_T_matches_numpy():
    a = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(graphc.tensor(a).T.numpy(), a.T)
    np.testing.assert_array_equal(graphc.tensor([1, 2]).T.numpy(), [1, 2])


def test_scalar_tensor_attributes():
    t = graphc.tensor(2.5)
    assert t.shape == () and t.ndim == 0 and t.numel() == 1
    assert t.item() == 2.5


# ---------------------------------------------------------------- conversion


def test_numpy_item_tolist():
    t = graphc.tensor([[1, 2], [3, 4]])
    assert t.tolist() == [[1, 2], [3, 4]]
    assert isinstance(t.tolist()[0][0], int)
    assert graphc.tensor([1.5]).item() == 1.5
    assert isinstance(graphc.tensor(3).item(), int)
    assert isinstance(graphc.tensor(True).item(), bool)
    with pytest.raises((ValueError, RuntimeError)):
        t.item()
    assert graphc.tensor(2.0).tolist() == 2.0


def test_numpy_refuses_requires_grad():
    x = graphc.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        x.numpy()
    np.testing.assert_array_equal(x.detach().numpy(), [1.0])


def test_python_number_conversions():
    t = graphc.tensor([2.75])
    assert float(t) == 2.75 and int(t) == 2
    assert bool(graphc.tensor([0.0])) is False
    with pytest.raises((ValueError, RuntimeError)):
        bool(graphc.tensor([1, 2]))
    assert [10, 20, 30][graphc.tensor(1)] == 20  # __index__


@pytest.mark.parametrize("method, dtype, npdtype", [
    ("float", graphc.float32, np.float32), ("double", graphc.float64, np.float64),
    ("long", graphc.int64, np.int64), ("int", graphc.int32, np.int32),
    ("bool", graphc.bool, np.bool_),
])
def test_dtype_conversion_methods(method, dtype, npdtype):
    a = np.array([-1.7, 0.0, 2.5, 3.0])
    t = getattr(graphc.tensor(a), method)()
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), a.astype(npdtype))


def test_to_dtype_and_device():
    t = graphc.tensor([1, 2, 3])
    u = t.to(graphc.float64)
    assert u.dtype == graphc.float64
    np.testing.assert_array_equal(u.numpy(), [1.0, 2.0, 3.0])
    assert t.to("cpu").device == "cpu"
    assert t.cpu().dtype == graphc.int64
    v = t.to(dtype=graphc.float32)
    assert v.dtype == graphc.float32


def test_np_asarray():
    t = graphc.arange(6).reshape(2, 3)
    a = np.asarray(t)
    np.testing.assert_array_equal(a, np.arange(6).reshape(2, 3))
    assert a.dtype == np.int64
    np.testing.assert_array_equal(np.asarray(t, dtype=np.float32), a.astype(np.float32))
    assert np.array(graphc.tensor(1.5)).item() == 1.5


def test_clone_is_independent():
    x = graphc.tensor([1.0, 2.0])
    y = x.clone()
    y.add_(1)
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0])


# ---------------------------------------------------------------- repr


REPR_CASES = [
    "tensor([1, 2, 3])",
    "tensor([-4, 6])",
    "tensor([1.5, 2.25, -3.125])",
    "tensor([[1.5, -2.0], [3.0, 4.25]])",
    "tensor([1.0, 2.0, 3.0])",
    "tensor([0.0, 0.0])",
    "tensor([1e-5, 1.0, 1e5])",
    "tensor([[1e-8, 1.0], [2.0, 3.0]])",
    "tensor([1e10, 1.0])",
    "tensor([123456789.0, 1.0])",
    "tensor([True, False])",
    "tensor([[True, False], [False, True]])",
    "zeros(0, 3)",
    "zeros(0)",
    "zeros(2, 0)",
    "zeros(0, dtype=graphc.int64)",
    "tensor(3.5)",
    "tensor(7)",
    "tensor(-0.0)",
    "tensor([1.0, 2.0], dtype=graphc.float64)",
    "tensor([1, 2], dtype=graphc.int32)",
    "tensor([1, 2, 3], dtype=graphc.uint8)",
    "tensor([2.0], requires_grad=True)",
    "tensor([1.0, 2.0], dtype=graphc.float64, requires_grad=True)",
    "tensor(6.0, requires_grad=True) ** 2",
    "tensor([0.1, 0.2], requires_grad=True) * 2",
    "tensor([0.1, 0.2], requires_grad=True) + 2",
    "ones(5, 5, requires_grad=True).sum(0)",
    "ones(4, 20, requires_grad=True) * 1.5",
    "ones(2, 3).mean()",
    "arange(2000).float()",
    "arange(2000).reshape(40, 50)",
    "arange(1500).reshape(3, 500)",
    "arange(2000.0).reshape(2, 10, 100)",
    "arange(12).reshape(3, 4)",
    "arange(24.0).reshape(2, 3, 4)",
    "arange(100).float() / 7",
    "linspace(0, 1, 30)",
    "tensor([float('nan'), 1.0, float('inf')])",
    "tensor([float('nan'), -100.5])",
    "tensor([-float('inf'), 0.5])",
]


@pytest.mark.parametrize("expr", REPR_CASES)
def test_repr_matches_torch(expr):
    torch = pytest.importorskip("torch")
    expected = repr(eval("torch." + expr.replace("graphc.", "torch."), {"torch": torch}))
    got = repr(eval("graphc." + expr, {"graphc": graphc}))
    assert got == expected.replace("torch.", "graphc.")


def test_repr_without_torch():
    assert repr(graphc.tensor([4, 6])) == "tensor([4, 6])"
    assert repr(graphc.tensor([2.0], requires_grad=True)) == "tensor([2.], requires_grad=True)"
    x = graphc.tensor(6.0, requires_grad=True)
    assert repr(x ** 2) == "tensor(36., grad_fn=<PowBackward0>)"
    assert repr(graphc.tensor([1.5, -2.25])) == "tensor([ 1.5000, -2.2500])"
    assert repr(graphc.zeros(0, 3)) == "tensor([], size=(0, 3))"
    assert repr(graphc.tensor([1.0], dtype=graphc.float64)) == \
        "tensor([1.], dtype=graphc.float64)"
    assert str(graphc.tensor(True)) == "tensor(True)"
    assert repr(graphc.tensor([float("nan"), 1.0, float("inf")])) == "tensor([nan, 1., inf])"


def test_format_spec_on_scalar():
    assert f"{graphc.tensor(1.23456):.2f}" == "1.23"


# ---------------------------------------------------------------- indexing


def _pair(shape=(4, 5, 6), dtype=np.float32):
    a = np.arange(int(np.prod(shape))).reshape(shape).astype(dtype)
    return a, graphc.tensor(a)


GETITEM_CASES = [
    lambda m: 2,
    lambda m: -1,
    lambda m: (1, 2),
    lambda m: (-1, -2, -3),
    lambda m: (1, 2, 3),
    lambda m: slice(1, 3),
    lambda m: slice(None, None, 2),
    lambda m: (slice(None), slice(1, None, 2)),
    lambda m: (slice(None, None, 3), slice(None), slice(0, 6, 4)),
    lambda m: slice(10, 20),
    lambda m: slice(-3, -1),
    lambda m: None,
    lambda m: (None, 1, None),
    lambda m: Ellipsis,
    lambda m: (Ellipsis, 1),
    lambda m: (1, Ellipsis, None),
    lambda m: (slice(None), None, Ellipsis, 2),
    lambda m: m.tensor([0, 2, 3]),
    lambda m: m.tensor([[0, 1], [3, 2]]),
    lambda m: m.tensor([-1, 0]),
    lambda m: [1, 3],
    lambda m: (slice(None), [0, 0, 4]),
    lambda m: (m.tensor([0, 1]), m.tensor([2, 3])),
    lambda m: (m.tensor([0, 1]), slice(None), m.tensor([2, 3])),
    lambda m: (1, m.tensor([0, 4]), slice(1, 3)),
    lambda m: (Ellipsis, m.tensor([5, 0])),
    lambda m: (None, m.tensor([1]), 0),
    lambda m: m.tensor([True, False, True, False]),
    lambda m: (slice(None), m.tensor([True, False, False, True, True])),
    lambda m: m.tensor(2),
]


def _as_np(idx):
    def conv(it):
        if isinstance(it, graphc.Tensor):
            return it.numpy()
        return it
    if isinstance(idx, tuple):
        return tuple(conv(i) for i in idx)
    return conv(idx)


@pytest.mark.parametrize("case", range(len(GETITEM_CASES)))
def test_getitem_matches_numpy(case):
    a, t = _pair()
    idx = GETITEM_CASES[case](graphc)
    got = t[idx]
    want = a[_as_np(idx)]
    assert got.shape == want.shape
    assert got.dtype == graphc.float32
    np.testing.assert_array_equal(got.numpy(), want)


def test_getitem_bool_mask_same_shape():
    a, t = _pair((3, 4))
    mask = a % 3 == 1
    got = t[graphc.tensor(mask)]
    np.testing.assert_array_equal(got.numpy(), a[mask])
    got = t[t > 5]
    np.testing.assert_array_equal(got.numpy(), a[a > 5])
    assert t[t > 100].shape == (0,)


def test_getitem_on_transposed_and_0d():
    a, t = _pair((3, 4))
    np.testing.assert_array_equal(t.t()[1:, ::2].numpy(), a.T[1:, ::2])
    np.testing.assert_array_equal(t.t()[graphc.tensor([3, 0])].numpy(), a.T[[3, 0]])
    s = graphc.tensor(5.0)
    assert s[None].shape == (1,) and s[...].shape == ()
    assert s[None].item() == 5.0


def test_getitem_errors():
    _, t = _pair((3, 4))
    with pytest.raises(IndexError):
        t[3]
    with pytest.raises(IndexError):
        t[0, 0, 0]
    with pytest.raises(IndexError):
        t[graphc.tensor([0, 5])]
    with pytest.raises(IndexError):
        t[graphc.tensor([0.0])]


def test_getitem_int_dtype_preserved():
    t = graphc.arange(10)
    assert t[2:5].dtype == graphc.int64
    assert t[2].item() == 2 and t[-1].item() == 9


SETITEM_CASES = [
    (lambda m: 1, 7.0),
    (lambda m: (0, 2), -1.0),
    (lambda m: (slice(None), 1), lambda m: m.tensor([10.0, 20.0, 30.0])),
    (lambda m: slice(None, None, 2), 3.5),
    (lambda m: (Ellipsis, -1), 0.0),
    (lambda m: m.tensor([0, 2]), lambda m: m.tensor([1.0, 2.0, 3.0, 4.0])),
    (lambda m: [2, 0], 9.0),
    (lambda m: (m.tensor([0, 1]), m.tensor([3, 0])), lambda m: m.tensor([5.0, 6.0])),
    (lambda m: m.tensor([True, False, True]), -2.0),
    (lambda m: (slice(1, None), slice(None, None, 3)), lambda m: m.tensor([[1.0, 2.0]])),
]


@pytest.mark.parametrize("case", range(len(SETITEM_CASES)))
def test_setitem_matches_numpy(case):
    a, t = _pair((3, 4))
    idx_fn, val = SETITEM_CASES[case]
    idx = idx_fn(graphc)
    v = val(graphc) if callable(val) else val
    v_np = v.numpy() if isinstance(v, graphc.Tensor) else v
    before = t._version
    t[idx] = v
    a[_as_np(idx)] = v_np
    np.testing.assert_array_equal(t.numpy(), a)
    assert t._version > before


def test_setitem_mask_and_int_tensor_value():
    a, t = _pair((3, 4))
    t[t > 6] = 0
    a[a > 6] = 0
    np.testing.assert_array_equal(t.numpy(), a)
    t[0] = graphc.tensor(4)  # an int value into a float tensor
    a[0] = 4
    np.testing.assert_array_equal(t.numpy(), a)


def test_setitem_shape_mismatch_raises():
    _, t = _pair((3, 4))
    with pytest.raises(RuntimeError):
        t[0] = graphc.tensor([1.0, 2.0, 3.0])


def test_setitem_through_view_changes_base():
    a, t = _pair((3, 4))
    v = t[1]
    v[2] = 100.0
    a[1, 2] = 100.0
    np.testing.assert_array_equal(t.numpy(), a)


# ---------------------------------------------------------------- views share memory


VIEW_CASES = {
    "view": (lambda x: x.view(4, 3), lambda a: a.reshape(4, 3)),
    "view_flat": (lambda x: x.view(-1), lambda a: a.reshape(-1)),
    "t": (lambda x: x.t(), lambda a: a.T),
    "transpose": (lambda x: x.transpose(0, 1), lambda a: a.swapaxes(0, 1)),
    "permute": (lambda x: x.permute(1, 0), lambda a: a.transpose(1, 0)),
    "slice": (lambda x: x[1:, ::2], lambda a: a[1:, ::2]),
    "select": (lambda x: x[2], lambda a: a[2]),
    "column": (lambda x: x[:, -1], lambda a: a[:, -1]),
    "unsqueeze": (lambda x: x.unsqueeze(0), lambda a: a[None]),
    "T": (lambda x: x.T, lambda a: a.T),
    "chained": (lambda x: x.t()[1:3], lambda a: a.T[1:3]),
}


@pytest.mark.parametrize("name", list(VIEW_CASES))
def test_views_share_memory(name):
    gfn, nfn = VIEW_CASES[name]
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    base = graphc.tensor(a)
    v = gfn(base)
    a_view = nfn(a)
    assert np.shares_memory(a_view, a)
    # writing through the view changes the base ...
    v.mul_(10)
    a_view *= 10
    np.testing.assert_array_equal(base.numpy(), a)
    np.testing.assert_array_equal(v.numpy(), a_view)
    # ... and writing to the base changes the view
    base.add_(1)
    a += 1
    np.testing.assert_array_equal(v.numpy(), a_view)
    # item assignment through the view too
    v[(0,) * v.ndim] = -5.0
    a_view[(0,) * a_view.ndim] = -5.0
    np.testing.assert_array_equal(base.numpy(), a)


def test_view_version_counter_shared():
    x = graphc.zeros(2, 3)
    v = x.view(6)
    v0 = x._version
    v.add_(1)
    assert x._version == v._version == v0 + 1
    x.zero_()
    assert v._version == v0 + 2
    assert v.sum().item() == 0


def test_expand_shares_memory_with_base():
    x = graphc.tensor([[1.0], [2.0]])
    e = x.expand(2, 3)
    np.testing.assert_array_equal(e.numpy(), [[1, 1, 1], [2, 2, 2]])
    x.mul_(5)
    np.testing.assert_array_equal(e.numpy(), [[5, 5, 5], [10, 10, 10]])


def test_writing_into_expanded_view_raises():
    x = graphc.tensor([[1.0], [2.0]])
    e = x.expand(2, 3)
    with pytest.raises(RuntimeError):
        e.add_(1)


def test_view_on_noncontiguous_raises_reshape_copies():
    x = graphc.arange(6).reshape(2, 3).t()
    with pytest.raises(RuntimeError):
        x.view(6)
    r = x.reshape(6)
    np.testing.assert_array_equal(r.numpy(), np.arange(6).reshape(2, 3).T.reshape(6))


def test_reshape_of_noncontiguous_is_a_copy():
    base = graphc.arange(6.0).reshape(2, 3)
    r = base.t().reshape(6)
    np.testing.assert_array_equal(r.numpy(), [0, 3, 1, 4, 2, 5])
    r.add_(1)  # a copy: neither the memory nor the version counter is shared
    np.testing.assert_array_equal(base.numpy(), np.arange(6.0).reshape(2, 3))
    assert base._version == 0
    c = base.t().contiguous()
    assert c.is_contiguous() and not base.t().is_contiguous()
    c.zero_()
    assert base.sum().item() == 15.0


def test_view_invalid_size():
    x = graphc.zeros(2, 3)
    with pytest.raises(RuntimeError):
        x.view(4, 2)
    assert x.view(3, -1).shape == (3, 2)


# ---------------------------------------------------------------- in-place ops


@pytest.mark.parametrize("op, arg, npop", [
    ("add_", 2.0, lambda a: a + 2),
    ("sub_", 0.5, lambda a: a - 0.5),
    ("mul_", -3.0, lambda a: a * -3),
    ("div_", 4.0, lambda a: a / 4),
    ("add_", "tensor", lambda a: a + np.array([1.0, 2.0, 3.0], np.float32)),
    ("mul_", "tensor", lambda a: a * np.array([1.0, 2.0, 3.0], np.float32)),
])
def test_inplace_arith(op, arg, npop):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = graphc.tensor(a)
    if arg == "tensor":
        arg = graphc.tensor([1.0, 2.0, 3.0])
    v0 = t._version
    r = getattr(t, op)(arg)
    assert r is t
    np.testing.assert_allclose(t.numpy(), npop(a), rtol=1e-6)
    assert t._version == v0 + 1


def test_add_with_alpha():
    t = graphc.tensor([1.0, 2.0])
    t.add_(graphc.tensor([1.0, 1.0]), alpha=3)
    np.testing.assert_array_equal(t.numpy(), [4.0, 5.0])
    t.sub_(graphc.tensor([1.0, 2.0]), alpha=2)
    np.testing.assert_array_equal(t.numpy(), [2.0, 1.0])


def test_zero_fill_copy_clamp():
    t = graphc.tensor([[1.0, -2.0], [3.0, 4.0]])
    v = t._version
    t.clamp_(min=-1.0, max=3.5)
    np.testing.assert_array_equal(t.numpy(), [[1.0, -1.0], [3.0, 3.5]])
    t.fill_(2.5)
    np.testing.assert_array_equal(t.numpy(), np.full((2, 2), 2.5))
    t.copy_(graphc.tensor([7, 8]))  # broadcast and cast
    np.testing.assert_array_equal(t.numpy(), [[7.0, 8.0], [7.0, 8.0]])
    t.zero_()
    np.testing.assert_array_equal(t.numpy(), np.zeros((2, 2)))
    assert t._version == v + 4
    assert t.dtype == graphc.float32


def test_augmented_assignment_is_inplace():
    t = graphc.tensor([1.0, 2.0])
    alias = t
    v = t._version
    t += 1
    t *= graphc.tensor([2.0, 3.0])
    t -= 0.5
    t /= 2
    assert t is alias
    np.testing.assert_allclose(t.numpy(), [((1 + 1) * 2 - 0.5) / 2, ((2 + 1) * 3 - 0.5) / 2])
    assert t._version == v + 4


def test_masked_fill():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = graphc.tensor(a)
    mask = graphc.tensor([True, False, True])
    out = t.masked_fill(mask, -1.0)
    np.testing.assert_array_equal(out.numpy(), np.where([True, False, True], -1.0, a))
    np.testing.assert_array_equal(t.numpy(), a)  # out of place leaves t alone
    v = t._version
    t.masked_fill_(t > 3, 0.0)
    np.testing.assert_array_equal(t.numpy(), np.where(a > 3, 0.0, a))
    assert t._version == v + 1


def test_inplace_int_tensor_refuses_float_result():
    t = graphc.tensor([1, 2])
    with pytest.raises(RuntimeError):
        t.add_(0.5)
    t.add_(3)
    np.testing.assert_array_equal(t.numpy(), [4, 5])
    assert t.dtype == graphc.int64


def test_inplace_broadcast_output_shape_mismatch():
    t = graphc.zeros(3)
    with pytest.raises(RuntimeError):
        t.add_(graphc.ones(2, 3))


def test_inplace_on_noncontiguous():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    base = graphc.tensor(a)
    tt = base.t()
    tt.add_(graphc.tensor([100.0, 200.0]))
    np.testing.assert_array_equal(base.numpy(), a + np.array([[100.0], [200.0]]))


# ---------------------------------------------------------------- edge cases


def test_size_zero_dims():
    x = graphc.zeros(0, 3)
    assert x.sum().item() == 0.0
    np.testing.assert_array_equal(x.sum(0).numpy(), np.zeros(3))
    assert (x + graphc.ones(3)).shape == (0, 3)
    assert x.reshape(3, 0).shape == (3, 0)
    assert x.tolist() == []
    assert x[:, 1].shape == (0,)


def test_size_one_dims_and_broadcasting():
    a = np.arange(3, dtype=np.float32).reshape(3, 1)
    b = np.arange(4, dtype=np.float32).reshape(1, 4)
    np.testing.assert_array_equal((graphc.tensor(a) + graphc.tensor(b)).numpy(), a + b)
    np.testing.assert_array_equal((graphc.tensor(a) * graphc.tensor(b[0])).numpy(), a * b[0])
    x = graphc.ones(1, 1, 5)
    assert x.squeeze().shape == (5,)
    assert x.squeeze(0).shape == (1, 5)
    with pytest.raises(RuntimeError):
        graphc.ones(2, 3) + graphc.ones(4)


def test_noncontiguous_inputs():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = graphc.tensor(a).t()
    np.testing.assert_array_equal((t * 2).numpy(), a.T * 2)
    np.testing.assert_array_equal(t.sum(1).numpy(), a.T.sum(1))
    np.testing.assert_array_equal((t @ graphc.tensor(a)).numpy(), a.T @ a)
    np.testing.assert_array_equal(t.contiguous().view(-1).numpy(), a.T.reshape(-1))
    np.testing.assert_array_equal(t[::2].numpy(), a.T[::2])


def test_mixed_dtype_promotion():
    i = graphc.tensor([1, 2])
    f = graphc.tensor([0.5, 0.5])
    assert (i + f).dtype == graphc.float32
    assert (i + 1).dtype == graphc.int64
    assert (i * 1.5).dtype == graphc.float32
    assert (i / 2).dtype == graphc.float32
    np.testing.assert_array_equal((i / 2).numpy(), [0.5, 1.0])
    d = graphc.tensor([1.0], dtype=graphc.float64)
    assert (f + d).dtype == graphc.float64
    assert (graphc.tensor([1], dtype=graphc.int32) + i).dtype == graphc.int64


@pytest.mark.parametrize("args", [(-1, 1, 7), (0, 1, 5), (-3, 7, 11), (0.1, 2.7, 13), (-5, 5, 100),
                                  (0.3, -1.7, 9), (1e-3, 5.5, 33), (3, 3, 1), (0, 1, 0)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_linspace_rounds_exactly_like_pytorch(args, dtype):
    torch = pytest.importorskip("torch")
    got = graphc.linspace(*args, dtype=getattr(graphc, dtype)).tolist()
    assert got == torch.linspace(*args, dtype=getattr(torch, dtype)).tolist()
