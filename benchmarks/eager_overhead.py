"""Eager-mode per-op overhead: graphc against numpy and PyTorch, measured in the same run.

    python benchmarks/eager_overhead.py

Prints the time of one ``a + b`` on 16-element float32 tensors (with and without
``requires_grad``) and of one small MLP-like training iteration (``x @ w + b``,
relu, sum, backward), best of several repeats, and the ratios. Nothing is asserted:
the numbers depend on the machine; the ratios are what to watch.
"""
from __future__ import annotations

import platform
import sys
import timeit

import numpy as np
from _timing import best_times
from _timing import versions as _timing_versions  # benchmarks/ is on the path when run as a script

import graphc

try:
    import torch
except ImportError:
    torch = None

REPEATS = 7
TARGET_S = 0.08  # length of one repeat; the whole script stays well under 20 s


def fmt_us(t: float | None) -> str:
    return "n/a" if t is None else f"{t * 1e6:9.2f} us"


def fmt_ratio(a: float | None, b: float | None) -> str:
    return "n/a" if a is None or b is None else f"{a / b:7.1f}x"


# ---------------------------------------------------------------- a + b

def add_benchmarks() -> dict[str, dict[str, float | None]]:
    rng = np.random.default_rng(0)
    a_np = rng.standard_normal(16).astype(np.float32)
    b_np = rng.standard_normal(16).astype(np.float32)
    out: dict[str, dict[str, float | None]] = {}
    for grad in (False, True):
        mode = "requires_grad" if grad else "no grad"
        ga = graphc.tensor(a_np, requires_grad=grad)
        gb = graphc.tensor(b_np)
        fns = {"graphc": lambda ga=ga, gb=gb: ga + gb,
               "numpy": lambda: np.add(a_np, b_np),
               "torch": None}
        if torch is not None:
            ta = torch.tensor(a_np, requires_grad=grad)
            tb = torch.tensor(b_np)
            fns["torch"] = lambda ta=ta, tb=tb: ta + tb
        row = best_times(fns, REPEATS, TARGET_S)
        out[mode] = row
    return out


# ---------------------------------------------------------------- MLP-like step

def mlp_step_graphc(x, w, b):
    w.grad = b.grad = None
    loss = graphc.relu(x @ w + b).sum()
    loss.backward()


def mlp_step_torch(x, w, b):
    w.grad = b.grad = None
    loss = torch.relu(x @ w + b).sum()
    loss.backward()


def mlp_step_numpy(x, w, b):
    """The same step by hand in numpy: the floor any framework pays on top of."""
    h = x @ w + b
    _ = np.maximum(h, 0).sum()
    gh = (h > 0).astype(np.float32)
    return x.T @ gh, gh.sum(0)


def mlp_benchmarks() -> dict[str, float | None]:
    rng = np.random.default_rng(1)
    x_np = rng.standard_normal((8, 16)).astype(np.float32)
    w_np = rng.standard_normal((16, 16)).astype(np.float32)
    b_np = rng.standard_normal(16).astype(np.float32)
    x = graphc.tensor(x_np)
    w = graphc.tensor(w_np, requires_grad=True)
    b = graphc.tensor(b_np, requires_grad=True)
    mlp_step_graphc(x, w, b)
    gw = w.grad.numpy()
    fns = {"graphc": lambda: mlp_step_graphc(x, w, b),
           "numpy": lambda: mlp_step_numpy(x_np, w_np, b_np),
           "torch": None}
    if torch is not None:
        tx = torch.tensor(x_np)
        tw = torch.tensor(w_np, requires_grad=True)
        tb = torch.tensor(b_np, requires_grad=True)
        mlp_step_torch(tx, tw, tb)
        # same numbers, or the timing compares different work
        np.testing.assert_allclose(gw, tw.grad.numpy(), rtol=1e-5, atol=1e-5)
        fns["torch"] = lambda: mlp_step_torch(tx, tw, tb)
    row = best_times(fns, REPEATS, TARGET_S)
    return row


def main() -> None:
    start = timeit.default_timer()
    versions = _timing_versions()
    print(f"eager overhead — Python {platform.python_version()} on {platform.machine()}; "
          f"{versions}")
    print(f"best of {REPEATS} repeats of about {TARGET_S * 1e3:.0f} ms each, candidates timed "
          "in turns\n")

    best_times({"warm-up": lambda: np.add(np.ones(16), 1.0)}, 1, TARGET_S)  # clocks up first
    adds = add_benchmarks()
    print("a + b, 16 float32 elements, time per op")
    head = f"{'mode':<15}{'graphc':>13}{'numpy':>13}{'torch':>13}{'graphc/numpy':>14}" \
           f"{'graphc/torch':>14}"
    print(head)
    print("-" * len(head))
    for mode, r in adds.items():
        print(f"{mode:<15}{fmt_us(r['graphc']):>13}{fmt_us(r['numpy']):>13}"
              f"{fmt_us(r['torch']):>13}{fmt_ratio(r['graphc'], r['numpy']):>14}"
              f"{fmt_ratio(r['graphc'], r['torch']):>14}")

    r = mlp_benchmarks()
    print("\nMLP-like step: x[8,16] @ w[16,16] + b, relu, sum, backward; time per iteration")
    print(head.replace("mode", "step"))
    print("-" * len(head))
    print(f"{'fwd+bwd':<15}{fmt_us(r['graphc']):>13}{fmt_us(r['numpy']):>13}"
          f"{fmt_us(r['torch']):>13}{fmt_ratio(r['graphc'], r['numpy']):>14}"
          f"{fmt_ratio(r['graphc'], r['torch']):>14}")
    print("(numpy: the same forward and gradients written by hand, no framework)")
    print(f"\ntotal {timeit.default_timer() - start:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
