"""Recurrent layers in eager mode: graphc against PyTorch, measured in the same run.

    python benchmarks/rnn.py             # about 1 min
    python benchmarks/rnn.py --threads 2

A char-LSTM-sized workload: ``LSTM(128, 128, num_layers=2, batch_first=True)`` on a batch
of 32 sequences of 64 steps (and the same GRU), forward alone under no_grad and forward +
backward of a random cotangent with the input requiring grad (as an embedding's output
does), both libraries from the same weights. Best of several repeats, candidates timed in
turns; every thread count (BLAS, OpenMP, torch) is set before the libraries load. Nothing
is asserted: the ratio graphc/torch is what to watch (the issue's target: 1.2x).
"""
from __future__ import annotations

import argparse
import os
import platform

from _timing import best_times, versions, with_threads  # benchmarks/ is on the path

BATCH, STEPS, FEATURES, HIDDEN, LAYERS = 32, 64, 128, 128, 2
REPEATS, TARGET_S = 5, 0.5


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _candidates(kind: str, np, torch, graphc) -> dict:
    torch.manual_seed(0)
    tm = getattr(torch.nn, kind)(FEATURES, HIDDEN, LAYERS, batch_first=True)
    gm = getattr(graphc.nn, kind)(FEATURES, HIDDEN, LAYERS, batch_first=True)
    gm.load_state_dict({k: graphc.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, STEPS, FEATURES)).astype(np.float32)
    cot = rng.standard_normal((BATCH, STEPS, HIDDEN)).astype(np.float32)
    tx, tcot = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(cot)
    gx, gcot = graphc.tensor(x, requires_grad=True), graphc.tensor(cot)
    check = np.abs(gm(gx)[0].detach().numpy() - tm(tx)[0].detach().numpy()).max()
    print(f"{kind}: max |graphc - torch| of the output {check:.1e}")

    def infer(lib, m, x):
        def run():
            with lib.no_grad():
                m(x)
        return run

    def train(m, x, cot):
        def run():
            (m(x)[0] * cot).sum().backward()
        return run
    return {"forward": {"graphc": infer(graphc, gm, gx), "torch": infer(torch, tm, tx)},
            "forward+backward": {"graphc": train(gm, gx, gcot), "torch": train(tm, tx, tcot)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with_threads(args.threads)
    import numpy as np
    import torch

    import graphc
    torch.set_num_threads(args.threads)
    print(f"recurrent layers, eager: {versions()}")
    print(f"CPU: {_cpu()}, {os.cpu_count()} cores, {args.threads} thread(s); load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"batch {BATCH}, {STEPS} steps, {FEATURES} features, hidden {HIDDEN}, "
          f"{LAYERS} layers; best of {REPEATS} repeats\n")
    print(f"{'layer':6} {'what':18} {'graphc':>10} {'torch':>10} {'graphc/torch':>13}")
    for kind in ("LSTM", "GRU"):
        for what, fns in _candidates(kind, np, torch, graphc).items():
            t = best_times(fns, REPEATS, TARGET_S)
            print(f"{kind:6} {what:18} {t['graphc'] * 1e3:8.1f}ms {t['torch'] * 1e3:8.1f}ms "
                  f"{t['graphc'] / t['torch']:12.2f}x")


if __name__ == "__main__":
    main()
