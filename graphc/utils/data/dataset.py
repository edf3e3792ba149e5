"""Datasets: the map-style and iterable protocols, TensorDataset, Subset, ConcatDataset,
random_split (PyTorch's semantics)."""
from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ...composite import index_select
from ...creation import from_numpy
from ...ir.errors import IndexOutOfRange, ValueArgumentError
from ...random import Generator, default_generator, randperm
from ...tensor import Tensor


class Dataset:
    """A map-style dataset: ``__getitem__(index)`` and, for samplers, ``__len__``."""

    def __getitem__(self, index) -> Any:
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset that is a stream: ``__iter__`` yields the samples."""

    def __iter__(self) -> Iterator:
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")


class TensorDataset(Dataset):
    """Samples are ``tuple(t[i] for t in tensors)``; all tensors share their first dim."""

    def __init__(self, *tensors: Tensor) -> None:
        if any(t.size(0) != tensors[0].size(0) for t in tensors):
            raise ValueArgumentError(f"Size mismatch between tensors: first dims "
                                     f"{[t.size(0) for t in tensors]}")
        self.tensors = tensors

    def __getitem__(self, index) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].size(0)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list[int]) -> list:
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            return getitems([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """The samples of several datasets one after the other."""

    def __init__(self, datasets) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueArgumentError("datasets should not be an empty iterable")
        if any(isinstance(d, IterableDataset) for d in self.datasets):
            raise ValueArgumentError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int):
        if idx < 0:
            if -idx > len(self):
                raise ValueArgumentError("absolute value of index should not exceed dataset "
                                         "length")
            idx += len(self)
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[d - 1] if d else 0
        return self.datasets[d][idx - start]


def random_split(dataset: Dataset, lengths: Sequence[int | float],
                 generator: Generator | None = default_generator) -> list[Subset]:
    """Split into non-overlapping random Subsets of the given lengths (or fractions of 1)."""
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueArgumentError(f"Fraction at index {i} is not between 0 and 1")
            sizes.append(int(math.floor(n * frac)))
        for i in range(n - sum(sizes)):  # the remainder, round robin, as PyTorch
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an "
                              "empty dataset.", stacklevel=2)
        lengths = sizes
    if sum(lengths) != n:
        raise ValueArgumentError(f"Sum of input lengths does not equal the length of the input "
                                 f"dataset! ({sum(lengths)} vs {n})")
    indices = randperm(n, generator=generator).tolist()
    return [Subset(dataset, indices[end - size:end])
            for end, size in zip(itertools.accumulate(lengths), lengths)]


# ---------------------------------------------------------------- batched fetch (fast path)

def _take_rows(t: Tensor, idx: np.ndarray) -> Tensor:
    n = t.shape[0]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)][0]
        raise IndexOutOfRange(f"index {bad} is out of bounds for dimension 0 with size {n}")
    if not t.requires_grad and t._node.value is not None:
        return from_numpy(t._node.value[idx])  # one numpy gather: a fresh contiguous array
    return index_select(t, 0, from_numpy(np.where(idx < 0, idx + n, idx)))


def batch_fetcher(dataset: Dataset) -> Callable[[Sequence[int]], list[Tensor]] | None:
    """A function from a batch of indices to the collated batch, for the datasets whose
    samples are rows of tensors: one gather per tensor instead of stacking per-sample views.
    None for other datasets (and subclasses that change ``__getitem__``)."""
    kind = type(dataset).__getitem__
    if kind is TensorDataset.__getitem__:
        tensors = dataset.tensors
        if not tensors or not all(isinstance(t, Tensor) for t in tensors):
            return None
        return lambda idx: [_take_rows(t, np.asarray(idx, dtype=np.int64)) for t in tensors]
    if kind is Subset.__getitem__ and type(dataset).__getitems__ is Subset.__getitems__:
        inner = batch_fetcher(dataset.dataset)
        if inner is None:
            return None
        try:
            mapping = np.asarray(dataset.indices, dtype=np.int64).reshape(-1)
        except (TypeError, ValueError):
            return None
        if mapping.size != len(dataset.indices):
            return None
        return lambda idx: inner(mapping[np.asarray(idx, dtype=np.int64)])
    return None
