"""DataLoader worker processes: graphc against PyTorch, measured in the same run.

    python benchmarks/dataloader.py

Two datasets, one epoch each (after a first epoch that starts the persistent workers):

- ``cpu-bound``: every sample costs about a millisecond of numpy work in ``__getitem__``
  (numpy's BLAS limited to one thread)
  (what image decoding and augmentation cost), small samples: workers should divide the
  epoch's time by up to the number of cores.
- ``transfer``: samples are rows of a big TensorDataset (no work): what crossing the
  process boundary costs (batches are pickled through a pipe).

Prints seconds per epoch with 0 and 2 workers, the speedup of the workers and graphc over
PyTorch. Also the time to start two workers (first epoch minus a later one). Nothing is
asserted: the ratios depend on the machine (2 cores here: workers compete with the main
process).
"""
from __future__ import annotations

import time

import numpy as np
from _timing import versions, with_threads  # benchmarks/ is on the path when run as a script

import graphc

try:
    import torch
except ImportError:
    torch = None

SAMPLES = 256
BATCH = 32
EPOCHS = 3  # the best of these (after the first) counts


class CpuBound:
    """A map-style dataset whose samples take numpy work to make (both libraries)."""

    def __init__(self, lib) -> None:
        self.lib = lib
        self.base = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)

    def __len__(self) -> int:
        return SAMPLES

    def __getitem__(self, i: int):
        x = self.base * (i + 1)
        for _ in range(100):  # about a millisecond (one BLAS thread)
            x = np.tanh(x @ self.base * 0.01)
        return self.lib.from_numpy(x[:4, :4].copy()), i


def _transfer_dataset(lib):
    data = np.random.default_rng(0).standard_normal((SAMPLES, 3, 64, 64)).astype(np.float32)
    return lib.utils.data.TensorDataset(lib.from_numpy(data), lib.arange(SAMPLES))


def epoch_times(lib, dataset, workers: int) -> tuple[float, float]:
    """(first epoch, best later epoch) in seconds."""
    kw = {"num_workers": workers, "persistent_workers": workers > 0}
    loader = lib.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True, **kw)
    times = []
    for _ in range(EPOCHS):
        start = time.perf_counter()
        for _ in loader:
            pass
        times.append(time.perf_counter() - start)
    del loader
    return times[0], min(times[1:])


def main() -> None:
    with_threads(1)  # numpy's BLAS on one core: the workers are the parallelism measured
    print(f"DataLoader epochs ({SAMPLES} samples, batches of {BATCH}); {versions()}")
    libs = [("graphc", graphc)] + ([("torch", torch)] if torch is not None else [])
    for name, make in (("cpu-bound", CpuBound), ("transfer", _transfer_dataset)):
        rows = {}
        for lib_name, lib in libs:
            dataset = make(lib)
            rows[lib_name] = {w: epoch_times(lib, dataset, w) for w in (0, 2)}
        print(f"\n{name}:")
        for lib_name, row in rows.items():
            (_, w0), (first2, w2) = row[0], row[2]
            print(f"  {lib_name:7s} 0 workers {w0 * 1e3:8.1f} ms   2 workers {w2 * 1e3:8.1f} ms"
                  f"   speedup {w0 / w2:5.2f}x   start of 2 workers {(first2 - w2) * 1e3:7.1f} ms")
        if "torch" in rows:
            for w in (0, 2):
                print(f"  graphc/torch with {w} workers: "
                      f"{rows['graphc'][w][1] / rows['torch'][w][1]:5.2f}x")


if __name__ == "__main__":
    main()
