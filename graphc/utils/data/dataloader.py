"""DataLoader: iterates a dataset in batches, in the calling process (``num_workers=0``) or
in worker processes (``num_workers=N``, see ``_multiprocess.py``) with the same batches in
the same order.

Each epoch draws a base seed from the loader's ``generator`` (the default one if None)
before the sampler draws its order, whatever ``num_workers`` is (PyTorch does the same,
except that it skips the draw on later epochs of persistent workers), so a loader with
workers shuffles exactly as one without. Workers seed graphc's default generator, Python's
``random`` and numpy's global generator from it: ``base_seed + worker_id``.

``pin_memory`` is accepted and does nothing (CPU tensors need no pinning here).
"""
from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ...ir.errors import ValueArgumentError
from ...random import Generator, randint
from ._fetch import InfiniteConstantSampler, make_fetcher
from ._multiprocess import MultiProcessIterator
from ._worker import get_worker_info
from .collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info"]


def _check_options(dataset: Dataset, shuffle: bool, sampler: Any, batch_sampler: Any,
                   batch_size: int | None, drop_last: bool) -> None:
    if isinstance(dataset, IterableDataset):
        for name, value in (("shuffle", shuffle), ("sampler", sampler),
                            ("batch_sampler", batch_sampler)):
            if value:
                raise ValueArgumentError(f"DataLoader with IterableDataset: expected "
                                         f"unspecified {name} option, but got {name}={value}")
    elif sampler is not None and shuffle:
        raise ValueArgumentError("sampler option is mutually exclusive with shuffle")
    if batch_sampler is not None:
        if batch_size != 1 or shuffle or sampler is not None or drop_last:
            raise ValueArgumentError("batch_sampler option is mutually exclusive with "
                                     "batch_size, shuffle, sampler, and drop_last")
    elif batch_size is None and drop_last:
        raise ValueArgumentError("batch_size=None option disables auto-batching and is "
                                 "mutually exclusive with drop_last")


def _check_worker_options(num_workers: int, timeout: float, prefetch_factor: int | None,
                          persistent_workers: bool, context: Any) -> tuple[int | None, Any]:
    """The prefetch factor (2 by default with workers) and the multiprocessing context (a
    start method's name becomes its context)."""
    if not isinstance(num_workers, int) or num_workers < 0:
        raise ValueArgumentError("num_workers option should be non-negative; use "
                                 "num_workers=0 to disable multiprocessing.")
    if timeout < 0:
        raise ValueArgumentError("timeout option should be non-negative")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueArgumentError("prefetch_factor option could only be specified in "
                                 "multiprocessing.let num_workers > 0 to enable "
                                 "multiprocessing, otherwise set prefetch_factor to None.")
    if num_workers > 0 and prefetch_factor is None:
        prefetch_factor = 2
    elif prefetch_factor is not None and prefetch_factor < 0:
        raise ValueArgumentError("prefetch_factor option should be non-negative")
    if persistent_workers and num_workers == 0:
        raise ValueArgumentError("persistent_workers option needs num_workers > 0")
    if context is None:
        return prefetch_factor, None
    if num_workers == 0:
        raise ValueArgumentError("multiprocessing_context can only be used with multi-process "
                                 f"loading (num_workers > 0), but got num_workers={num_workers}")
    if isinstance(context, str):
        methods = multiprocessing.get_all_start_methods()
        if context not in methods:
            raise ValueArgumentError(f"multiprocessing_context option should specify a valid "
                                     f"start method in {methods!r}, but got "
                                     f"multiprocessing_context={context!r}")
        context = multiprocessing.get_context(context)
    if not isinstance(context, multiprocessing.context.BaseContext):
        raise TypeError("multiprocessing_context option should be a valid context object or a "
                        f"string specifying the start method, but got "
                        f"multiprocessing_context={context}")
    return prefetch_factor, context


class DataLoader:
    """Batches of ``dataset``: ``for x, y in DataLoader(ds, batch_size=64, shuffle=True)``.

    With a TensorDataset (or a Subset of one, as from random_split) and the default
    collate_fn, each batch is one gather per tensor rather than a stack of per-sample views.
    With ``num_workers > 0``, worker processes load the batches (an IterableDataset is
    copied into each: see ``get_worker_info``); ``persistent_workers`` keeps them across
    epochs; ``worker_init_fn(worker_id)`` runs in each at its start.
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable | None = None,
                 batch_sampler: Sampler | Iterable | None = None, num_workers: int = 0,
                 collate_fn: Callable[[list], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None,
                 multiprocessing_context=None, generator: Generator | None = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        prefetch_factor, multiprocessing_context = _check_worker_options(
            num_workers, timeout, prefetch_factor, persistent_workers, multiprocessing_context)
        shuffle = bool(shuffle)
        _check_options(dataset, shuffle, sampler, batch_sampler, batch_size, drop_last)
        if batch_sampler is not None:
            batch_size, drop_last = None, False
        if sampler is None:
            if isinstance(dataset, IterableDataset):
                sampler = InfiniteConstantSampler()
            else:
                sampler = (RandomSampler(dataset, generator=generator) if shuffle
                           else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        auto_batch = batch_sampler is not None
        self.collate_fn = collate_fn or (default_collate if auto_batch else default_convert)
        self.num_workers, self.pin_memory, self.timeout = num_workers, pin_memory, timeout
        self.worker_init_fn, self.multiprocessing_context = worker_init_fn, multiprocessing_context
        self.prefetch_factor, self.persistent_workers = prefetch_factor, persistent_workers
        self.pin_memory_device, self.in_order = pin_memory_device, in_order
        self._workers: MultiProcessIterator | None = None  # persistent workers

    def __iter__(self) -> Iterator:
        sampler_iter = iter(self.batch_sampler if self.batch_sampler is not None
                            else self.sampler)
        base_seed = int(randint(0, 1 << 62, (), generator=self.generator).item())
        if self.num_workers == 0:
            fetcher = make_fetcher(self.dataset, self.batch_sampler is not None,
                                   self.collate_fn, self.drop_last)
            return _single_process(fetcher, sampler_iter)
        if not self.persistent_workers:
            return _batches(MultiProcessIterator(self, sampler_iter, base_seed))
        if self._workers is None:
            self._workers = MultiProcessIterator(self, sampler_iter, base_seed)
        else:
            self._workers.reset(sampler_iter)
        return _batches(self._workers)

    def __len__(self) -> int:
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)


def _single_process(fetcher: Any, sampler_iter: Iterator) -> Iterator:
    for index in sampler_iter:
        try:
            batch = fetcher.fetch(index)
        except StopIteration:  # the end of an IterableDataset's stream
            return
        yield batch


def _batches(workers: MultiProcessIterator) -> Iterator:
    while True:
        try:
            batch = workers.next_batch()
        except StopIteration:
            return
        yield batch
