"""Special values of every transcendental and activation, against PyTorch, eagerly and
compiled, in float32 and float64: signed zeros, infinities, NaN, the largest and smallest
normal numbers, subnormals, and the inputs where results overflow or underflow.

NaN must stay NaN, infinities and zeros (with their sign) must be PyTorch's, and finite
results must agree to a few units in the last place."""
from __future__ import annotations

import numpy as np
import pytest

import graphc

torch = pytest.importorskip("torch")

F = graphc.nn.functional


def _inputs(dtype) -> np.ndarray:
    info = np.finfo(dtype)
    values = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 1e-8, -1e-8,
              3.0, 10.0, -10.0, 20.0, -20.0, 50.0, -50.0, 88.5, 89.0, -87.5, -104.0, 709.0,
              710.0, -745.5, 1e4, -1e4, 1e30, -1e30, 1e37, 1e38, float(info.max),
              -float(info.max), float(info.tiny), -float(info.tiny),
              float(info.smallest_subnormal), -float(info.smallest_subnormal),
              float(info.tiny) * 0.5, -float(info.tiny) * 0.5, float(info.eps),
              1.0 - float(info.epsneg), 1.0 + float(info.eps), -1.0 + float(info.epsneg)]
    with np.errstate(over="ignore"):
        return np.array(values, dtype=np.float64).astype(dtype)


# name -> the same call on graphc or torch (module m, functional f)
FUNCTIONS = {
    "exp": lambda m, f, x: m.exp(x),
    "exp2": lambda m, f, x: m.exp2(x),
    "expm1": lambda m, f, x: m.expm1(x),
    "log": lambda m, f, x: m.log(x),
    "log2": lambda m, f, x: m.log2(x),
    "log10": lambda m, f, x: m.log10(x),
    "log1p": lambda m, f, x: m.log1p(x),
    "sqrt": lambda m, f, x: m.sqrt(x),
    "rsqrt": lambda m, f, x: m.rsqrt(x),
    "reciprocal": lambda m, f, x: m.reciprocal(x),
    "sin": lambda m, f, x: m.sin(x),
    "cos": lambda m, f, x: m.cos(x),
    "tan": lambda m, f, x: m.tan(x),
    "tanh": lambda m, f, x: m.tanh(x),
    "sigmoid": lambda m, f, x: m.sigmoid(x),
    "sign": lambda m, f, x: m.sign(x),
    "abs": lambda m, f, x: m.abs(x),
    "square": lambda m, f, x: m.square(x),
    "pow_2_5": lambda m, f, x: m.pow(x, 2.5),
    "rpow": lambda m, f, x: 2.0 ** x,
    "relu": lambda m, f, x: f.relu(x),
    "gelu": lambda m, f, x: f.gelu(x),
    "gelu_tanh": lambda m, f, x: f.gelu(x, approximate="tanh"),
    "silu": lambda m, f, x: f.silu(x),
    "softplus": lambda m, f, x: f.softplus(x),
    "mish": lambda m, f, x: f.mish(x),
    "logsigmoid": lambda m, f, x: f.logsigmoid(x),
    "elu": lambda m, f, x: f.elu(x),
    "selu": lambda m, f, x: f.selu(x),
    "celu": lambda m, f, x: f.celu(x),
    "softsign": lambda m, f, x: f.softsign(x),
    "hardswish": lambda m, f, x: f.hardswish(x),
    "hardsigmoid": lambda m, f, x: f.hardsigmoid(x),
    "leaky_relu": lambda m, f, x: f.leaky_relu(x),
    "erf": lambda m, f, x: m.erf(x),
    "erfc": lambda m, f, x: m.erfc(x),
    "floor": lambda m, f, x: m.floor(x),
    "ceil": lambda m, f, x: m.ceil(x),
    "round": lambda m, f, x: m.round(x),
    "trunc": lambda m, f, x: m.trunc(x),
    "frac": lambda m, f, x: m.frac(x),
}
# units in the last place allowed for finite results (mathlib's polynomials, composites);
# wider where the formula itself amplifies an ulp of its parts: tan (sin / cos near a pole),
# gelu_tanh and mish (1 + tanh(...) cancels for negative x: ~25x at x = -2)
ULPS = {"float32": 8, "float64": 8}
WIDER = {"tan": 64, "gelu_tanh": 64, "mish": 64}


def _scalar_torch(fn, x) -> float:
    """PyTorch on one element alone: its scalar kernel, which for some functions disagrees
    with its vectorized one at the extremes (gelu at float32's inf: inf alone, NaN in a
    vector). graphc may match either."""
    return fn(torch, torch.nn.functional, torch.from_numpy(np.array([x]))).numpy()[0]


def _close(g, w, eps: float, tiny: float, ulps: int) -> bool:
    if np.isnan(w) or np.isnan(g):
        return bool(np.isnan(w) and np.isnan(g))
    if np.isinf(w) or np.isinf(g) or w == 0 or g == 0:
        # exact: infinities, and zeros with their sign (a subnormal result may flush to a
        # zero of the right sign or stay within a few ulps of the tiniest number)
        return bool(g == w and np.signbit(g) == np.signbit(w) or
                    abs(float(g) - float(w)) <= ulps * tiny * eps and np.isfinite(g))
    return abs(float(g) - float(w)) <= ulps * eps * abs(float(w)) + tiny * eps * ulps


def _check(name: str, got: np.ndarray, want: np.ndarray, x: np.ndarray, dtype: str,
           mode: list) -> None:
    bad = []
    eps = float(np.finfo(want.dtype).eps)
    tiny = float(np.finfo(want.dtype).tiny)
    ulps = WIDER.get(name, ULPS[dtype])
    for xi, g, w, where in zip(x, got, want, mode):
        if not (_close(g, w, eps, tiny, ulps) or
                _close(g, _scalar_torch(FUNCTIONS[name], xi), eps, tiny, ulps)):
            bad.append(f"{where} {name}({xi!r}) = {g!r}, PyTorch {w!r}")
    assert not bad, f"{len(bad)} special values differ ({dtype}):\n" + "\n".join(bad)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_special_values_match_pytorch(name: str, dtype: str):
    fn = FUNCTIONS[name]
    x = _inputs(np.dtype(dtype))
    want = fn(torch, torch.nn.functional, torch.from_numpy(x.copy())).numpy()
    eager = fn(graphc, F, graphc.from_numpy(x.copy())).numpy()
    compiled = graphc.compile(lambda t: fn(graphc, F, t))(graphc.from_numpy(x.copy())).numpy()
    _check(name, np.concatenate([eager, compiled]), np.concatenate([want, want]),
           np.concatenate([x, x]), dtype, ["eager"] * len(x) + ["compiled"] * len(x))
