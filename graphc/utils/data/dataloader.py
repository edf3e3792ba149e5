"""DataLoader: iterates a dataset in batches, in the calling process.

``num_workers`` and the other multiprocessing arguments are accepted so that PyTorch code
ports unchanged; loading always runs in the calling process.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ...ir.errors import ValueArgumentError
from ...random import Generator
from .collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset, batch_fetcher
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler


def get_worker_info() -> None:
    """Always None: there are no worker processes (the main process loads the data)."""
    return None


class DataLoader:
    """Batches of ``dataset``: ``for x, y in DataLoader(ds, batch_size=64, shuffle=True)``.

    With a TensorDataset (or a Subset of one, as from random_split) and the default
    collate_fn, each batch is one gather per tensor rather than a stack of per-sample views.
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable | None = None,
                 batch_sampler: Sampler | Iterable | None = None, num_workers: int = 0,
                 collate_fn: Callable[[list], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None,
                 multiprocessing_context=None, generator: Generator | None = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueArgumentError("num_workers option should be non-negative; use "
                                     "num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueArgumentError("timeout option should be non-negative")
        shuffle = bool(shuffle)
        if isinstance(dataset, IterableDataset):
            for name, value in (("shuffle", shuffle), ("sampler", sampler),
                                ("batch_sampler", batch_sampler)):
                if value:
                    raise ValueArgumentError(f"DataLoader with IterableDataset: expected "
                                             f"unspecified {name} option, but got "
                                             f"{name}={value}")
        elif sampler is not None and shuffle:
            raise ValueArgumentError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueArgumentError("batch_sampler option is mutually exclusive with "
                                         "batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueArgumentError("batch_size=None option disables auto-batching and is "
                                     "mutually exclusive with drop_last")
        if sampler is None and not isinstance(dataset, IterableDataset):
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None and sampler is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        auto_batch = batch_size is not None or batch_sampler is not None
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self.collate_fn = collate_fn or (default_collate if auto_batch else default_convert)
        self.num_workers, self.pin_memory, self.timeout = num_workers, pin_memory, timeout
        self.worker_init_fn, self.multiprocessing_context = worker_init_fn, multiprocessing_context
        self.prefetch_factor, self.persistent_workers = prefetch_factor, persistent_workers
        self.pin_memory_device, self.in_order = pin_memory_device, in_order

    def __iter__(self) -> Iterator:
        if isinstance(self.dataset, IterableDataset):
            return self._iter_stream()
        if self.batch_sampler is None:
            return (self.collate_fn(self.dataset[i]) for i in self.sampler)
        return self._iter_batches()

    def _iter_batches(self) -> Iterator:
        fast = batch_fetcher(self.dataset) if self.collate_fn is default_collate else None
        if fast is not None:
            for indices in self.batch_sampler:
                yield fast(indices)
            return
        getitems = getattr(self.dataset, "__getitems__", None)
        for indices in self.batch_sampler:
            if callable(getitems):
                samples = getitems(list(indices))
            else:
                samples = [self.dataset[i] for i in indices]
            yield self.collate_fn(samples)

    def _iter_stream(self) -> Iterator:
        it = iter(self.dataset)
        if self.batch_size is None:
            yield from map(self.collate_fn, it)
            return
        while batch := list(itertools.islice(it, self.batch_size)):
            if len(batch) < self.batch_size and self.drop_last:
                return
            yield self.collate_fn(batch)

    def __len__(self) -> int:
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)
