"""GPU benchmarks (need a CUDA device): W1 fused elementwise on 2^26 float32 as a fraction of
the measured device-to-device copy bandwidth (target >= 70%), W3 matmul 4096^3 float32
GFLOP/s beside PyTorch's when PyTorch has CUDA, W4 the MLP training step on CUDA.

    python benchmarks/gpu.py
"""
from __future__ import annotations

import time

import numpy as np
from training import mlp, training_step  # benchmarks/ is on sys.path

import graphc
import graphc.nn.functional as F
from graphc.runtime import cuda as rt

try:
    import torch
except ImportError:
    torch = None


def best(fn, repeats: int = 5, inner: int = 10) -> float:
    fn()
    rt.synchronize()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(inner):
            fn()
        rt.synchronize()
        times.append((time.perf_counter() - t) / inner)
    return min(times)


def w1() -> None:
    n = 1 << 26
    x = graphc.randn(n, device="cuda")

    @graphc.compile
    def gelu(x):
        return F.gelu(x, approximate="tanh")
    got = gelu(x)
    want = F.gelu(x.cpu(), approximate="tanh").numpy()
    print(f"W1 max abs error vs CPU: {np.abs(got.cpu().numpy() - want).max():.2e}")
    dst = rt.DeviceArray.empty((n,), np.float32)
    src = x._node.value
    t_copy = best(lambda: dst.copy_from(src))
    t_w1 = best(lambda: gelu(x))
    gbs = 2 * 4 * n / 1e9
    print(f"W1 gelu_tanh 2^26: {t_w1 * 1e3:.3f} ms = {gbs / t_w1:.0f} GB/s; copy "
          f"{t_copy * 1e3:.3f} ms = {gbs / t_copy:.0f} GB/s; fraction {t_copy / t_w1:.0%} "
          f"(target 70%)")


def w3() -> None:
    n = 4096
    a, b = graphc.randn(n, n, device="cuda"), graphc.randn(n, n, device="cuda")
    mm = graphc.compile(lambda a, b: a @ b)
    err = np.abs(mm(a, b).cpu().numpy()[:64] - a.cpu().numpy()[:64] @ b.cpu().numpy()).max()
    t = best(lambda: mm(a, b), repeats=3, inner=3)
    line = f"W3 matmul 4096^3: graphc {2 * n ** 3 / t / 1e9:.0f} GFLOP/s (max abs err {err:.1e})"
    if torch is not None and torch.cuda.is_available():
        ta, tb = torch.randn(n, n, device="cuda"), torch.randn(n, n, device="cuda")
        tt = best(lambda: ta @ tb, repeats=3, inner=3)
        line += f", torch {2 * n ** 3 / tt / 1e9:.0f} GFLOP/s"
    print(line)


def w4() -> None:
    for batch in (64, 512):
        graphc.manual_seed(0)
        model = mlp(graphc, (64, 128, 128, 10)).to("cuda")
        step = training_step(graphc, model, batch, np.random.default_rng(0), device="cuda")
        compiled = graphc.compile(step)
        t_c = best(compiled, repeats=3, inner=20)
        t_e = best(step, repeats=3, inner=3)
        print(f"W4 batch {batch} on CUDA: compiled {t_c * 1e6:.0f} us/step, eager "
              f"{t_e * 1e6:.0f} us/step")


if __name__ == "__main__":
    print(f"device: {graphc.cuda.get_device_name()}, arch {rt.target_arch()}")
    for w in (w1, w3, w4):
        try:
            w()
        except Exception as e:  # one failing workload must not hide the others
            print(f"{w.__name__}: FAILED: {type(e).__name__}: {e}")
