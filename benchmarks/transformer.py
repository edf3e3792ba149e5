"""Transformers eagerly: graphc against PyTorch, forward + backward of the same models.

    python benchmarks/transformer.py [--quick] [--threads N] [--profile]

T1: a minGPT-sized GPT (4 layers, 4 heads, embedding 128, block 64, batch 32, vocabulary
65, tied embedding and head) written as minGPT writes it: one fused q/k/v Linear split in
three, attention by hand (``q @ k^T``, masked_fill of a tril buffer, softmax), the tanh
GELU by hand. T2: the same model written as nanoGPT: ``F.scaled_dot_product_attention(...,
is_causal=True)`` and ``nn.GELU()``. T3: ``nn.TransformerEncoder`` of four
``TransformerEncoderLayer(128, 4, 512, dropout=0, batch_first=True)`` with a causal mask,
on (32, 64, 128), and a mean as the loss. Each step is zero_grad, forward, backward;
``import graphc as torch`` is the only difference between the candidates, which start
from the same weights and are checked to give the same loss before timing. Candidates
are timed in turns, best of several repeats. ``--profile`` prints where graphc's time
goes: seconds per op and shape, forward and backward, over one step.
"""
from __future__ import annotations

import argparse
import collections
import math
import os
import platform
import sys
import time

import numpy as np
from _timing import best_times, set_threads, versions  # benchmarks/ is on sys.path

VOCAB, BLOCK, LAYERS, HEADS, EMBED, BATCH = 65, 64, 4, 4, 128, 32


def gpt(lib, sdpa: bool):
    """minGPT's model (``sdpa``: nanoGPT's attention and GELU) for ``lib``, torch or graphc."""
    nn, F = lib.nn, lib.nn.functional

    class NewGELU(nn.Module):  # minGPT's
        def forward(self, x):
            return 0.5 * x * (1.0 + lib.tanh(math.sqrt(2.0 / math.pi) *
                                             (x + 0.044715 * lib.pow(x, 3.0))))

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(EMBED, 3 * EMBED)
            self.c_proj = nn.Linear(EMBED, EMBED)
            self.register_buffer("bias", lib.tril(lib.ones(BLOCK, BLOCK)).view(1, 1, BLOCK,
                                                                                 BLOCK))

        def forward(self, x):
            b, t, c = x.size()
            q, k, v = self.c_attn(x).split(EMBED, dim=2)
            q, k, v = (z.view(b, t, HEADS, c // HEADS).transpose(1, 2) for z in (q, k, v))
            if sdpa:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
                att = att.masked_fill(self.bias[:, :, :t, :t] == 0, float("-inf"))
                y = F.softmax(att, dim=-1) @ v
            return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(EMBED), nn.LayerNorm(EMBED)
            self.attn = CausalSelfAttention()
            self.c_fc, self.c_proj = nn.Linear(EMBED, 4 * EMBED), nn.Linear(4 * EMBED, EMBED)
            self.act = nn.GELU() if sdpa else NewGELU()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.c_proj(self.act(self.c_fc(self.ln_2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(VOCAB, EMBED), nn.Embedding(BLOCK, EMBED)
            self.h = nn.ModuleList([Block() for _ in range(LAYERS)])
            self.ln_f = nn.LayerNorm(EMBED)
            self.lm_head = nn.Linear(EMBED, VOCAB, bias=False)
            self.wte.weight = self.lm_head.weight  # tied, as minGPT and nanoGPT

        def forward(self, idx, targets):
            x = self.wte(idx) + self.wpe(lib.arange(idx.size(1)))
            for block in self.h:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            return F.cross_entropy(logits.view(-1, VOCAB), targets.view(-1))
    return GPT()


def encoder(lib):
    nn = lib.nn
    layer = nn.TransformerEncoderLayer(EMBED, HEADS, 4 * EMBED, dropout=0.0, batch_first=True)
    stack = nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
    mask = nn.Transformer.generate_square_subsequent_mask(BLOCK)

    class Loss(nn.Module):  # the stack and a loss, so that the step has the GPT's shape
        def __init__(self):
            super().__init__()
            self.stack = stack

        def forward(self, x, _):
            return self.stack(x, mask=mask, is_causal=True).mean()
    return Loss()


class Step:
    """One training step without the update: zero_grad, forward, backward."""

    def __init__(self, model, x, y) -> None:
        self.model, self.x, self.y = model, x, y

    def forward(self):
        self.model.zero_grad()
        return self.model(self.x, self.y)

    def __call__(self):
        loss = self.forward()
        loss.backward()
        return loss


def candidates(workload: str) -> dict:
    """name -> (step, first loss): the same model and data for graphc and torch."""
    import graphc
    try:
        import torch
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    if workload == "T3":
        xs = rng.standard_normal((BATCH, BLOCK, EMBED)).astype(np.float32)
    else:
        xs = rng.integers(0, VOCAB, (BATCH, BLOCK))
    ys = rng.integers(0, VOCAB, (BATCH, BLOCK))
    make = encoder if workload == "T3" else (lambda lib: gpt(lib, workload == "T2"))
    libs = [("graphc eager", graphc)] + ([("torch eager", torch)] if torch else [])
    models = {}
    for name, lib in libs:
        lib.manual_seed(0)
        models[name] = make(lib)
    if torch is not None:
        models["graphc eager"].load_state_dict({
            k: graphc.tensor(v.numpy()) for k, v in models["torch eager"].state_dict().items()})
    out = {}
    for name, lib in libs:
        step = Step(models[name], lib.tensor(xs), lib.tensor(ys))
        out[name] = (step, float(step().detach()))
    return out


def profile(workload: str) -> None:
    """Seconds per (phase, op, shape) over one step of graphc's model, the top 15."""
    from graphc.runtime import eager, replay
    acc: dict = collections.defaultdict(lambda: [0, 0.0])
    phase = ["forward"]
    bind, call = eager.EagerHandler.bind, replay._call

    def timed(fn, op, shape_of):
        def wrapper(*args):
            t = time.perf_counter()
            out = fn(*args)
            cell = acc[(phase[0], args[op].name, tuple(shape_of(out)))]
            cell[0] += 1
            cell[1] += time.perf_counter() - t
            return out
        return wrapper
    step, _ = candidates(workload)["graphc eager"]
    step()  # the second backward() replays the recorded gradient graph: profile that
    eager.EagerHandler.bind = timed(bind, 1, lambda n: n.shape)
    replay._call = timed(call, 0, lambda a: a.shape)
    try:
        t0 = time.perf_counter()
        loss = step.forward()
        t1 = time.perf_counter()
        phase[0] = "backward"
        loss.backward()
        t2 = time.perf_counter()
    finally:
        eager.EagerHandler.bind, replay._call = bind, call
    total = sum(c[1] for c in acc.values())
    print(f"\n{workload} graphc profile: forward {1e3 * (t1 - t0):.1f} ms, backward "
          f"{1e3 * (t2 - t1):.1f} ms; {sum(c[0] for c in acc.values())} ops, "
          f"{1e3 * total:.1f} ms in them")
    for (ph, op, shape), (n, t) in sorted(acc.items(), key=lambda kv: -kv[1][1])[:15]:
        print(f"  {1e3 * t:7.2f} ms {n:4d} x {ph:8s} {op:10s} {list(shape)}")


def run(workload: str, opts) -> dict[str, float | None]:
    cands = candidates(workload)
    losses = {k: v[1] for k, v in cands.items()}
    if len(set(np.round(list(losses.values()), 4))) > 1:
        print(f"  MISMATCH: losses {losses}")
    times = best_times({k: v[0] for k, v in cands.items()}, opts.repeats, opts.target_s)
    print(f"\n{workload}")
    for name, t in times.items():
        print(f"  {name:14s} {t * 1e3:8.1f} ms/step")
    return times


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--profile", action="store_true", help="where graphc's time goes")
    p.add_argument("--only", default="T1,T2,T3")
    opts = p.parse_args()
    n = opts.threads
    set_threads(n)
    opts.repeats, opts.target_s = (3, 0.3) if opts.quick else (5, 1.0)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor()) \
        if os.path.exists("/proc/cpuinfo") else platform.processor()
    print(f"transformer — {cpu}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"{n} thread(s); {versions()}; float32, best of {opts.repeats} repeats, in turns")
    results = {w: run(w, opts) for w in opts.only.split(",")}
    print("\n| workload | graphc / torch eager (time) | target |\n|---|---|---|")
    for w, t in results.items():
        r = f"{t['graphc eager'] / t['torch eager']:.2f}x" if t.get("torch eager") else "n/a"
        print(f"| {w} | {r} | <= 1.2x |")
    if opts.profile:
        for w in results:
            profile(w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
