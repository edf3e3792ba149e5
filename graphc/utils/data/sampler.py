"""Samplers: which dataset indices a DataLoader reads, and in what order and batches."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from ...creation import tensor
from ...ir import dtypes as dt
from ...ir.errors import ValueArgumentError
from ...random import Generator, multinomial, randint, randperm


class Sampler:
    """Base class: ``__iter__`` yields indices (or lists of indices, for batch samplers)."""

    def __init__(self, data_source=None) -> None:
        pass

    def __iter__(self) -> Iterator:
        raise NotImplementedError


class SequentialSampler(Sampler):
    def __init__(self, data_source) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


def _fresh_generator() -> Generator:
    """A generator seeded by one draw from the default one, as PyTorch's samplers do when
    given none: ``graphc.manual_seed`` then fixes every epoch's order."""
    return Generator().manual_seed(int(randint(0, 1 << 53, ()).item()))


REPLACEMENT_CHUNK = 32  # indices RandomSampler(replacement=True) draws at a time


class RandomSampler(Sampler):
    """A random permutation each epoch (or ``num_samples`` draws with replacement, drawn
    lazily, 32 at a time)."""

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None,
                 generator: Generator | None = None) -> None:
        if not isinstance(replacement, bool):
            raise ValueArgumentError(f"replacement should be a boolean value, but got "
                                     f"replacement={replacement}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        n = self.num_samples
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise ValueArgumentError(f"num_samples should be a positive integer value, but got "
                                     f"num_samples={n}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        g = self.generator or _fresh_generator()
        if self.replacement:  # in chunks, as PyTorch: any num_samples in constant memory
            for _ in range(self.num_samples // REPLACEMENT_CHUNK):
                yield from randint(0, n, (REPLACEMENT_CHUNK,), generator=g).tolist()
            yield from randint(0, n, (self.num_samples % REPLACEMENT_CHUNK,),
                               generator=g).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from randperm(n, generator=g).tolist()
        yield from randperm(n, generator=g).tolist()[:self.num_samples % n]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order."""

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        for i in randperm(len(self.indices), generator=self.generator).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """Indices 0..len(weights)-1 drawn with probabilities proportional to ``weights``."""

    def __init__(self, weights, num_samples: int, replacement: bool = True,
                 generator: Generator | None = None) -> None:
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueArgumentError(f"num_samples should be a positive integer value, but got "
                                     f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueArgumentError(f"replacement should be a boolean value, but got "
                                     f"replacement={replacement}")
        self.weights = tensor(weights, dtype=dt.float64)
        if self.weights.ndim != 1:
            raise ValueArgumentError(f"weights should be a 1d sequence but given weights have "
                                     f"shape {tuple(self.weights.shape)}")
        self.num_samples, self.replacement, self.generator = num_samples, replacement, generator

    def __iter__(self) -> Iterator[int]:
        drawn = multinomial(self.weights, self.num_samples, self.replacement,
                            generator=self.generator)
        yield from drawn.tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``."""

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int,
                 drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueArgumentError(f"batch_size should be a positive integer value, but got "
                                     f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueArgumentError(f"drop_last should be a boolean value, but got "
                                     f"drop_last={drop_last}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
