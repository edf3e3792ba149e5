"""Fetchers: from what a sampler yields (an index, or a batch of them) to a collated batch.
The same fetcher runs in the calling process (``num_workers=0``) and in every worker
process, so both load the same batches."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .collate import default_collate
from .dataset import Dataset, IterableDataset, batch_fetcher
from .sampler import Sampler


class InfiniteConstantSampler(Sampler):
    """The sampler of an IterableDataset: ``None`` forever (batched, a batch of ``None``s
    says how many samples to take from the stream)."""

    def __iter__(self) -> Iterator[None]:
        while True:
            yield None


class MapFetcher:
    """``dataset[i]`` for each index of a batch (``__getitems__`` where the dataset has it,
    one gather per tensor for TensorDatasets with the default collate), then collate."""

    def __init__(self, dataset: Dataset, auto_collation: bool, collate_fn: Callable,
                 drop_last: bool) -> None:
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn
        self.fast = (batch_fetcher(dataset) if auto_collation and collate_fn is default_collate
                     else None)
        getitems = getattr(dataset, "__getitems__", None)
        self.getitems = getitems if callable(getitems) else None

    def fetch(self, index: Any) -> Any:
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.fast is not None:
            return self.fast(index)
        if self.getitems is not None:
            return self.collate_fn(self.getitems(list(index)))
        return self.collate_fn([self.dataset[i] for i in index])


class IterableFetcher:
    """The next ``len(batch)`` samples of the dataset's stream; StopIteration at its end
    (and for a last partial batch under ``drop_last``)."""

    def __init__(self, dataset: IterableDataset, auto_collation: bool, collate_fn: Callable,
                 drop_last: bool) -> None:
        self.stream = iter(dataset)
        self.auto_collation, self.collate_fn, self.drop_last = (auto_collation, collate_fn,
                                                                drop_last)
        self.ended = False

    def fetch(self, batch: Any) -> Any:
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.stream))
        data = []
        for _ in batch:
            try:
                data.append(next(self.stream))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(batch)):
            raise StopIteration
        return self.collate_fn(data)


def make_fetcher(dataset: Dataset, auto_collation: bool, collate_fn: Callable,
                 drop_last: bool) -> MapFetcher | IterableFetcher:
    kind = IterableFetcher if isinstance(dataset, IterableDataset) else MapFetcher
    return kind(dataset, auto_collation, collate_fn, drop_last)
