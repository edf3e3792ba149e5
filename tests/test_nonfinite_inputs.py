"""NaN, +inf, -inf and -0.0 through every op of the table: compiled code gives eager's values
and gradients, NaN positions included (no fast-math change of NaN or infinity semantics).

Each float input of an entry's first sample gets the special values at every third element
(shifted per input, so binary ops see special against special and against finite values).
Finite results may differ by the table's tolerance (a fused multiply-add rounds once); NaN
and infinities must be where eager has them. Where eager raises, compiled raises the same.
"""
from __future__ import annotations

import numpy as np
import pytest

import graphc
from graphc.testing.op_table import OPS, OpCase
from tests.test_ops import _g, _inputs, _tol

SPECIALS = (np.nan, np.inf, -np.inf, -0.0)


def _cases():
    for c in OPS:
        if "eager_only" in c.tags:
            continue
        for d in c.dtypes:
            if d in ("float32", "float64"):
                for pattern in ("scattered", "rows"):
                    yield pytest.param(c, d, pattern, id=f"{c.name}-{d}-{pattern}")


def with_specials(x: np.ndarray, shift: int, pattern: str = "scattered") -> np.ndarray:
    """``x`` with NaN, inf, -inf and -0.0: "scattered", at every third element (from
    ``shift``); "rows", every element of a row (of the last dim) the same special value, so
    reductions see rows of infinities only (softmax of [inf, inf], logsumexp of -infs)."""
    if x.dtype.kind != "f" or x.size == 0:
        return x
    out = np.array(x, order="C")
    flat = out.reshape(-1)
    specials = np.asarray(SPECIALS, x.dtype)
    positions = np.arange(x.size)
    if pattern == "rows":
        row = positions // (x.shape[-1] if x.ndim else 1)
        flat[:] = specials[(row + shift) % len(specials)]
        return out
    chosen = positions[(positions + shift) % 3 == 0]
    flat[chosen] = specials[(chosen // 3 + shift) % len(specials)]
    return out


def assert_same_values(got: np.ndarray, want: np.ndarray, tol: dict, what: str) -> None:
    """Equal shapes and dtypes; NaN and infinities at the same places; finite values close."""
    assert got.shape == want.shape and got.dtype == want.dtype, what
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    finite = np.isfinite(want)
    np.testing.assert_array_equal(np.isfinite(got), finite, err_msg=f"{what}: finite positions")
    # NaNs equal NaNs here, infinities must match in sign
    np.testing.assert_array_equal(got[~finite], want[~finite], err_msg=f"{what}: NaN/inf")
    np.testing.assert_allclose(got[finite].astype(np.float64), want[finite].astype(np.float64),
                               err_msg=f"{what}: finite values", **tol)


@pytest.mark.parametrize("c,dtype,pattern", list(_cases()))
def test_compiled_keeps_eager_nan_and_inf_semantics(c: OpCase, dtype: str, pattern: str):
    """Values, and the gradients of differentiable entries (one compile for both)."""
    xs = [with_specials(x, i, pattern) for i, x in enumerate(_inputs(c, 0, dtype))]

    def program(*ts):
        out = c.fn(graphc, *ts)
        wrt = [t for t in ts if t.requires_grad]
        if not out.requires_grad or out.numel() == 0:
            return (out,)
        return (out, *graphc.autograd.grad((out * 0.5).sum(), wrt, allow_unused=True,
                                           materialize_grads=True))

    def args():
        return [_g(x.copy(), requires_grad=c.grad and x.dtype.kind == "f") for x in xs]

    try:
        want = program(*args())
    except Exception as e:  # noqa: BLE001  (eager refuses these values: so must compiled)
        with pytest.raises(type(e)):
            graphc.compile(program)(*args())
        return
    got = graphc.compile(program)(*args())
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want)):
        assert_same_values(a.numpy(), b.detach().numpy(), _tol(c, dtype),
                           f"{c.name}: {'value' if i == 0 else f'gradient {i}'}")
