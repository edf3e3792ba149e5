"""Training and inference: graphc eager and compiled against PyTorch eager and torch.compile.

    python benchmarks/training.py [--quick] [--threads N]

W4: one training step (forward, cross-entropy, backward, SGD step) of an MLP
64->128->128->10 with ReLU, at batch 64 and 512, in steps per second. W7: batch-1
inference latency of an MLP 64->256->10. Every candidate runs the same PyTorch-style
code (``import graphc as torch`` is the only difference) from the same initial weights;
the losses are compared before timing. Candidates are timed in turns, best of several
repeats; compile time is excluded (warm-up calls first) and printed separately. Nothing
is asserted: the ratios are what to watch.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
from _timing import best_times, set_threads, versions  # benchmarks/ is on sys.path


def mlp(lib, sizes: tuple[int, ...]):
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(lib.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(lib.nn.ReLU())
    return lib.nn.Sequential(*layers)


def same_weights(graphc_model, torch_model) -> None:
    import graphc
    graphc_model.load_state_dict({k: graphc.tensor(v.detach().numpy())
                                  for k, v in torch_model.state_dict().items()})


def training_step(lib, model, batch: int, rng, device: str = "cpu",
                  features: tuple[int, ...] = (64,)):
    """One SGD step on a fixed random batch of ``features``-shaped inputs, 10 classes."""
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = lib.nn.CrossEntropyLoss()
    x = lib.tensor(rng.standard_normal((batch, *features)).astype(np.float32), device=device)
    y = lib.tensor(rng.integers(0, 10, batch), device=device)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def candidates(workload: str, batch: int, quick: bool) -> dict:
    """name -> (zero-argument callable, seconds its first call took)."""
    import graphc
    try:
        import torch
    except ImportError:
        torch = None
    sizes = (64, 128, 128, 10) if workload == "W4" else (64, 256, 10)
    out = {}
    tm = None
    if torch is not None:
        torch.manual_seed(0)
        tm = mlp(torch, sizes)
    gm = mlp(graphc, sizes)
    if tm is not None:
        same_weights(gm, tm)
    runs = [("graphc eager", graphc, gm, False), ("graphc compiled", graphc, gm, True)]
    if torch is not None:
        runs += [("torch eager", torch, tm, False)]
        if not quick:
            runs += [("torch.compile", torch, tm, True)]
    for name, lib, model, compiled in runs:
        # each candidate trains its own copy, from the same weights
        if lib is graphc:
            m = mlp(graphc, sizes)
            m.load_state_dict(model.state_dict())
        else:
            import copy
            m = copy.deepcopy(model)
        rng = np.random.default_rng(0)
        compile_ = graphc.compile if lib is graphc else (torch.compile if torch else None)
        if workload == "W4":
            fn = training_step(lib, m, batch, rng)
            fn = compile_(fn) if compiled else fn
        else:  # the module itself compiled, as a user would
            x = lib.tensor(rng.standard_normal((1, 64)).astype(np.float32))
            f = compile_(m.eval()) if compiled else m.eval()

            def fn(f=f, x=x, lib=lib):
                with lib.no_grad():
                    return f(x)
        t = time.perf_counter()
        try:
            first = fn()
        except Exception as e:  # noqa: BLE001  (a candidate that cannot run says why)
            print(f"  {name}: n/a ({type(e).__name__}: {str(e).splitlines()[0][:80]})")
            continue
        out[name] = (fn, time.perf_counter() - t, np.asarray(
            first.detach().numpy() if hasattr(first, "detach") else first, np.float64))
    return out


def run(workload: str, batch: int, opts) -> dict[str, float | None]:
    cands = candidates(workload, batch, opts.quick)
    ref = next(iter(cands.values()))[2]
    for name, (_, _, first) in cands.items():  # the same numbers before any timing
        if not np.allclose(first, ref, rtol=1e-4, atol=1e-5):
            print(f"  MISMATCH: {name} gives {first.ravel()[:4]} where the first gives "
                  f"{ref.ravel()[:4]}")
    times = best_times({k: v[0] for k, v in cands.items()}, opts.repeats, opts.target_s)
    label = f"batch {batch}" if workload == "W4" else "batch 1"
    print(f"\n{workload} {label}")
    for name, t in times.items():
        if workload == "W4":
            print(f"  {name:16s} {1 / t:10.0f} steps/s   {t * 1e6:9.1f} us/step   "
                  f"first call {cands[name][1]:.2f} s")
        else:
            print(f"  {name:16s} {t * 1e6:9.1f} us/call   first call {cands[name][1]:.2f} s")
    return times


def ratio(times: dict, a: str, b: str) -> str:
    return f"{times[b] / times[a]:.2f}x" if times.get(a) and times.get(b) else "n/a"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats, no torch.compile")
    p.add_argument("--threads", type=int, default=1)
    opts = p.parse_args()
    n = opts.threads
    set_threads(n)
    opts.repeats, opts.target_s = (3, 0.05) if opts.quick else (5, 0.2)
    print(f"training — Python {platform.python_version()}, {os.cpu_count()} CPUs, {n} "
          f"thread(s); {versions()}; float32, best of {opts.repeats} repeats, in turns")
    w4 = {b: run("W4", b, opts) for b in (64, 512)}
    w7 = run("W7", 1, opts)
    print("\n| measurement | target | value |\n|---|---|---|")
    for b, t in w4.items():
        print(f"| W4 batch {b}: compiled vs torch eager | {'>= 2x' if b == 64 else '—'} | "
              f"{ratio(t, 'graphc compiled', 'torch eager')} |")
        print(f"| W4 batch {b}: compiled vs torch.compile | >= 1.0x | "
              f"{ratio(t, 'graphc compiled', 'torch.compile')} |")
        print(f"| W4 batch {b}: graphc eager vs torch eager (time ratio) | <= 1.5x | "
              f"{ratio(t, 'torch eager', 'graphc eager')} |")
        print(f"| W4 batch {b}: compiled over graphc eager | — | "
              f"{ratio(t, 'graphc compiled', 'graphc eager')} |")
    print(f"| W7 batch 1: compiled latency | <= torch eager's | "
          f"{w7['graphc compiled'] * 1e6:.1f} us vs "
          f"{(w7.get('torch eager') or float('nan')) * 1e6:.1f} us |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
