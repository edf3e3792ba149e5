"""NaN, +inf, -inf and -0.0 through every op of the table: compiled code gives eager's values,
NaN positions included (no fast-math change of NaN or infinity semantics).

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
                yield pytest.param(c, d, id=f"{c.name}-{d}")


def with_specials(x: np.ndarray, shift: int) -> np.ndarray:
    """``x`` with NaN, inf, -inf and -0.0 at every third element (from ``shift``)."""
    if x.dtype.kind != "f" or x.size == 0:
        return x
    out = np.array(x, order="C")
    positions = np.arange(x.size)
    chosen = positions[(positions + shift) % 3 == 0]
    out.reshape(-1)[chosen] = np.asarray(SPECIALS, x.dtype)[(chosen // 3 + shift) % len(SPECIALS)]
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


@pytest.mark.parametrize("c,dtype", list(_cases()))
def test_compiled_keeps_eager_nan_and_inf_semantics(c: OpCase, dtype: str):
    xs = [with_specials(x, i) for i, x in enumerate(_inputs(c, 0, dtype))]

    def program(*ts):
        return c.fn(graphc, *ts)

    try:
        want = program(*[_g(x.copy()) for x in xs])
    except Exception as e:  # noqa: BLE001  (eager refuses these values: so must compiled)
        with pytest.raises(type(e)):
            graphc.compile(program)(*[_g(x.copy()) for x in xs])
        return
    got = graphc.compile(program)(*[_g(x.copy()) for x in xs])
    assert_same_values(got.numpy(), want.numpy(), _tol(c, dtype), c.name)
