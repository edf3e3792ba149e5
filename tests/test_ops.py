"""Tests generated from the op table: eager vs numpy, gradients vs finite differences
(float64), and values and gradients vs PyTorch when it is installed."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import graphc
from graphc.testing.op_table import OPS, OpCase

try:
    import torch
except ImportError:  # the oracle is optional; CI installs it
    torch = None

NP_DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "bool": np.bool_}


def _params(with_dtypes=True, float_only=False):
    out = []
    for c in OPS:
        for si in range(len(c.samples)):
            dts = c.dtypes if with_dtypes else ("float64",)
            for d in dts:
                if float_only and d not in ("float32", "float64"):
                    continue
                out.append(pytest.param(c, si, d, id=f"{c.name}-{si}-{d}"))
    return out


def _inputs(c: OpCase, si: int, dtype: str) -> list[np.ndarray]:
    seed = zlib.crc32(f"{c.name}/{si}".encode())
    rng = np.random.default_rng(seed)
    return [a.make(rng, NP_DTYPES.get(dtype, np.float64)) for a in c.samples[si]]


def _tol(c: OpCase, dtype: str) -> dict:
    if dtype == "float32":
        return dict(rtol=max(c.rtol or 0, 2e-5), atol=max(c.atol or 0, 2e-5))
    return dict(rtol=c.rtol or 1e-10, atol=c.atol or 1e-10)


def _g(arr: np.ndarray, requires_grad: bool = False):
    # from_numpy keeps strides, so non-contiguous samples stay non-contiguous
    t = graphc.from_numpy(arr)
    return t.requires_grad_(True) if requires_grad else t


@pytest.mark.parametrize("c,si,dtype", _params())
def test_eager_matches_numpy(c: OpCase, si: int, dtype: str):
    if c.ref is None:
        pytest.skip("no numpy reference for this op (PyTorch is its oracle)")
    xs = _inputs(c, si, dtype)
    out = c.fn(graphc, *[_g(x) for x in xs])
    want = np.asarray(c.ref(*[x.astype(np.float64) if x.dtype.kind == "f" else x for x in xs]))
    got = out.numpy()
    assert got.shape == want.shape, f"{c.name}: shape {got.shape} != numpy {want.shape}"
    if got.dtype.kind in "fc":
        np.testing.assert_allclose(got.astype(np.float64), want, **_tol(c, dtype))
    else:
        np.testing.assert_array_equal(got, want)


def _loss_and_cot(c, xs, seed):
    rng = np.random.default_rng(seed)
    leaves = [_g(x, requires_grad=x.dtype.kind == "f") for x in xs]
    out = c.fn(graphc, *leaves)
    cot = rng.standard_normal(out.shape)
    return leaves, out, cot


@pytest.mark.parametrize("c,si,dtype", [p for p in _params(with_dtypes=False)
                                        if p.values[0].grad and p.values[0].fd])
def test_gradient_matches_finite_differences(c: OpCase, si: int, dtype: str):
    xs = _inputs(c, si, "float64")
    leaves, out, cot = _loss_and_cot(c, xs, si)
    wrt = [t for t in leaves if t.requires_grad]
    if out.numel() == 0 or not wrt or not out.requires_grad:
        assert not out.requires_grad or out.numel() == 0 or not wrt
        return
    loss = (out * graphc.tensor(cot)).sum()
    grads = graphc.autograd.grad(loss, wrt, allow_unused=True, materialize_grads=True)
    eps = 1e-6
    with graphc.no_grad():
        for leaf, g in zip(wrt, grads):
            base = leaf.numpy(force=True)
            assert g.shape == leaf.shape, f"{c.name}: grad shape {g.shape} != {leaf.shape}"
            fd = np.zeros(base.shape)
            for idx in np.ndindex(base.shape):
                old = base[idx]
                vals = []
                for delta in (eps, -eps):
                    base[idx] = old + delta
                    vals.append(float((c.fn(graphc, *leaves) * graphc.tensor(cot)).sum()))
                base[idx] = old
                fd[idx] = (vals[0] - vals[1]) / (2 * eps)
            np.testing.assert_allclose(g.numpy(), fd, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{c.name}: gradient vs finite differences")


@pytest.mark.skipif(torch is None, reason="PyTorch (the oracle extra) is not installed")
@pytest.mark.parametrize("c,si,dtype", _params())
def test_matches_pytorch(c: OpCase, si: int, dtype: str):
    xs = _inputs(c, si, dtype)
    grad = c.grad and c.torch_grad
    gl = [_g(x.copy(), requires_grad=grad and x.dtype.kind == "f") for x in xs]
    tl = [torch.from_numpy(x.copy()).requires_grad_(grad and x.dtype.kind == "f") for x in xs]
    gout, tout = c.fn(graphc, *gl), c.fn(torch, *tl)
    assert tuple(gout.shape) == tuple(tout.shape)
    assert gout.dtype.name == str(tout.dtype).replace("torch.", ""), \
        f"{c.name}: dtype {gout.dtype} vs torch {tout.dtype}"
    tol = _tol(c, dtype)
    np.testing.assert_allclose(gout.detach().numpy().astype(np.float64),
                               tout.detach().numpy().astype(np.float64), **tol)
    if not (grad and tout.requires_grad):
        return
    assert gout.requires_grad
    cot = np.random.default_rng(1).standard_normal(tuple(tout.shape)).astype(xs[0].dtype)
    gg = graphc.autograd.grad((gout * graphc.tensor(cot)).sum(), [t for t in gl if
                                                                  t.requires_grad],
                              allow_unused=True, materialize_grads=True)
    tg = torch.autograd.grad((tout * torch.from_numpy(cot)).sum(), [t for t in tl if
                                                                    t.requires_grad],
                             allow_unused=True, materialize_grads=True)
    for a, b in zip(gg, tg):
        np.testing.assert_allclose(a.numpy().astype(np.float64), b.numpy().astype(np.float64),
                                   rtol=max(tol["rtol"], 1e-6), atol=max(tol["atol"], 1e-6),
                                   err_msg=f"{c.name}: gradient vs PyTorch")


def test_table_covers_every_primitive():
    """Every registered primitive is exercised by some entry of the table."""
    from graphc.ir.core import REGISTRY, RecordingHandler, use_handler
    seen = set()

    class Spy(RecordingHandler):
        def bind(self, op, inputs, attrs):
            seen.add(op.name)
            from graphc.runtime.eager import EAGER
            return EAGER.bind(op, inputs, attrs)
    spy = Spy()
    with use_handler(spy):
        for c in OPS:
            for si in range(len(c.samples)):
                xs = _inputs(c, si, c.dtypes[0])
                leaves = [_g(x, requires_grad=c.grad and x.dtype.kind == "f") for x in xs]
                out = c.fn(graphc, *leaves)
                if out.requires_grad and out.numel():
                    graphc.autograd.grad(out.sum(), [t for t in leaves if t.requires_grad],
                                         allow_unused=True)
    seen.add("random")  # exercised by tests/test_random.py
    missing = set(REGISTRY) - seen - {"leaf"}
    assert not missing, f"primitives with no op-table entry: {sorted(missing)}"


@pytest.mark.parametrize("x", [1e-12, -1e-9, 3e-6, 0.25, -0.7, 5.0])
def test_log1p_expm1_are_accurate_near_zero(x):
    """Values to float64 precision, gradients 1/(1+x) and exp(x), where log(1+x) and
    exp(x)-1 would lose every digit."""
    import math
    t = graphc.tensor([x], dtype=graphc.float64, requires_grad=True)
    y = graphc.log1p(t)
    np.testing.assert_allclose(y.detach().numpy(), [math.log1p(x)], rtol=1e-15)
    (g,) = graphc.autograd.grad(y.sum(), t)
    np.testing.assert_allclose(g.numpy(), [1 / (1 + x)], rtol=1e-15)
    z = graphc.expm1(t)
    np.testing.assert_allclose(z.detach().numpy(), [math.expm1(x)], rtol=1e-15)
    (g,) = graphc.autograd.grad(z.sum(), t)
    np.testing.assert_allclose(g.numpy(), [math.exp(x)], rtol=1e-14)
