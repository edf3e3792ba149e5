"""``python -m graphc.demo``: train a small CNN on scikit-learn's handwritten digits, once
eagerly and once with the whole training step under ``@graphc.compile``.

The same PyTorch-style code runs both ways (model, loss, ``backward()``, ``optimizer.step()``);
the demo prints test accuracy, the compiled-over-eager speedup, writes the compiled step's IR
to a file, and plots the loss curves when matplotlib is installed.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

import graphc
from graphc import nn, optim
from graphc.utils.data import DataLoader, TensorDataset

INSTALL_HINT = ('the demo needs scikit-learn for its data set (no download): '
                'pip install -e ".[demo]"  (or: pip install scikit-learn)')


# ---------------------------------------------------------------- data and models

def load_digits(seed: int, test_fraction: float = 0.2):
    """(x_train, y_train, x_test, y_test): 8x8 images scaled to [0, 1], a seeded split."""
    try:
        from sklearn.datasets import load_digits as sk_digits
    except ImportError:
        raise SystemExit(INSTALL_HINT) from None
    digits = sk_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return (graphc.tensor(x[train]), graphc.tensor(y[train]),
            graphc.tensor(x[test]), graphc.tensor(y[test]))


def make_model(kind: str) -> nn.Module:
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(),
                             nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10))


# ---------------------------------------------------------------- training

@dataclass
class Run:
    mode: str
    losses: list[float] = field(default_factory=list)   # one per step
    step_seconds: float = 0.0                            # steady state, first step left out
    steps: int = 0
    first_step: float = 0.0                              # includes tracing and compiling
    accuracy: float = 0.0


def progress(epoch: int, epochs: int, done: int, total: int, loss: float, mode: str,
             out=sys.stdout) -> None:
    """A progress bar redrawn in place on a terminal; one line per epoch in a log."""
    if not out.isatty() and done != total:
        return
    width = 24
    filled = width * done // max(total, 1)
    bar = "#" * filled + "." * (width - filled)
    end = "\n" if done == total else ""
    out.write(f"\r  {mode:8s} epoch {epoch + 1}/{epochs} [{bar}] {done}/{total} "
              f"loss {loss:.4f}{end}")
    out.flush()


def train(mode: str, data, args) -> tuple[Run, object]:
    x_train, y_train, x_test, y_test = data
    graphc.manual_seed(args.seed)
    model = make_model(args.model)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()

    def train_step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    step = graphc.compile(train_step) if mode == "compiled" else train_step
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size,
                        shuffle=True, drop_last=True,
                        generator=graphc.Generator().manual_seed(args.seed))
    run = Run(mode)
    for epoch in range(args.epochs):
        model.train()
        for i, (x, y) in enumerate(loader):
            t0 = time.perf_counter()
            loss = float(step(x, y))
            dt = time.perf_counter() - t0
            if run.steps == 0 and i == 0:
                run.first_step = dt
            else:
                run.step_seconds += dt
            run.steps += 1
            run.losses.append(loss)
            if not args.quiet:
                progress(epoch, args.epochs, i + 1, len(loader), loss, mode)
    model.eval()
    evaluate = graphc.compile(model) if mode == "compiled" else model
    with graphc.no_grad():
        predicted = evaluate(x_test).argmax(1)
    run.accuracy = float((predicted == y_test).float().mean())
    return run, step


# ---------------------------------------------------------------- report

def write_ir(step, folder: str) -> str:
    path = os.path.join(folder, "train_step.ir.txt")
    with open(path, "w") as f:
        for stage in ("graph", "grad", "optimized", "kernels"):
            f.write(f"# ---- stage: {stage}\n{step.ir(stage)}\n\n")
    return path


def plot(runs: list[Run], folder: str, model: str) -> str | None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    for r in runs:
        ax.plot(r.losses, label=f"{r.mode} (test accuracy {r.accuracy:.1%})", alpha=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title(f"graphc: digits {model.upper()}, eager vs @graphc.compile")
    path = os.path.join(folder, "loss_curves.png")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m graphc.demo", description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--model", choices=("cnn", "mlp"), default="cnn")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="graphc-demo", help="folder for the IR dump and the plot")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    data = load_digits(args.seed)
    print(f"graphc {graphc.__version__}: {args.model.upper()} on scikit-learn's digits "
          f"({len(data[0])} train / {len(data[2])} test images, 8x8), {args.epochs} epochs, "
          f"batch {args.batch_size}, Adam lr {args.lr}, seed {args.seed}")
    runs, steps = [], {}
    for mode in ("eager", "compiled"):
        run, step = train(mode, data, args)
        runs.append(run)
        steps[mode] = step
    eager, compiled = runs
    per = [r.step_seconds / max(r.steps - 1, 1) for r in runs]
    speedup = per[0] / per[1] if per[1] > 0 else float("nan")
    print(f"\n{'':10s}{'test accuracy':>15s}{'ms / step':>12s}{'first step':>13s}")
    for r, p in zip(runs, per):
        print(f"{r.mode:10s}{r.accuracy:>15.2%}{p * 1e3:>12.3f}{r.first_step:>12.2f}s")
    print(f"compiled over eager: {speedup:.1f}x faster per training step "
          f"(first compiled step traces and compiles: {compiled.first_step:.2f} s)")
    drift = max(abs(a - b) for a, b in zip(eager.losses, compiled.losses))
    print(f"largest difference between eager and compiled losses: {drift:.2e}")
    os.makedirs(args.out, exist_ok=True)
    print(f"IR of the compiled training step: {write_ir(steps['compiled'], args.out)}")
    png = plot(runs, args.out, args.model)
    print(f"loss curves: {png}" if png else
          "loss curves: install matplotlib for a PNG of them (pip install matplotlib)")
    return {"eager": eager, "compiled": compiled, "speedup": speedup, "drift": drift}


if __name__ == "__main__":
    main()
