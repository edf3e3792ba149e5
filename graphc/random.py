"""Random numbers: Generators over the counter-based ``random`` primitive.

A Generator is (seed, offset): each draw uses the next offset, so the same
seed gives the same numbers eagerly, in compiled code and on a GPU.
"""
from __future__ import annotations

import math
import threading

import numpy as np

from .creation import _size_args, tensor
from .ir import dtypes as dt
from .ir import ops as P
from .ir.core import _state
from .ir.errors import DomainError, DTypeError, ShapeError, called_op
from .ir.shapes import check_allocation
from .tensor import Tensor, _bind

DEFAULT_SEED = 67280421310721  # PyTorch's default CPU seed


class Generator:
    """``graphc.Generator().manual_seed(s)``; pass as ``generator=`` to random functions."""

    def __init__(self, device="cpu") -> None:
        self.device = device
        self._seed = DEFAULT_SEED
        self._offset = 0
        self._lock = threading.Lock()  # threads drawing at once get distinct offsets

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed) & 0xFFFFFFFFFFFFFFFF
        self._offset = 0
        return self

    def seed(self) -> int:
        s = int.from_bytes(np.random.default_rng().bytes(8), "little") >> 1
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Tensor:
        seed = self._seed - (1 << 64) if self._seed >= 1 << 63 else self._seed  # as int64
        return tensor([seed, self._offset], dtype=dt.int64)

    def set_state(self, state: Tensor) -> None:
        seed, self._offset = (int(v) for v in state.tolist())
        self._seed = seed & 0xFFFFFFFFFFFFFFFF

    def next_offset(self) -> int:
        return self.reserve(1)

    def reserve(self, n: int) -> int:
        """The first of ``n`` consecutive offsets no other draw gets."""
        with self._lock:
            off = self._offset
            self._offset += n
        return off


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    return default_generator.get_state()


def set_rng_state(state: Tensor) -> None:
    default_generator.set_state(state)


def _uniform(shape, generator: Generator | None, dtype: dt.DType) -> Tensor:
    check_allocation(called_op(), shape, dtype)
    g = generator or default_generator
    draw = getattr(_state.handler, "draw", None)
    if draw is not None:  # traced: seed and offset are read from g at each call
        seed, offset = draw(g)
        return _bind(P.RANDOM, seed, offset, shape=tuple(shape), dtype=dtype)
    return _bind(P.RANDOM, g._seed, g.next_offset(), shape=tuple(shape), dtype=dtype)


def _finish(t: Tensor, dtype, device, requires_grad: bool) -> Tensor:
    from .creation import _finish as finish  # numbers drawn on the host: the same on any device
    return finish(t.detach() if requires_grad else t, device, requires_grad)


def rand(*size, generator: Generator | None = None, dtype=None, device=None,
         requires_grad: bool = False) -> Tensor:
    d = dtype or dt.get_default_dtype()
    return _finish(_uniform(_size_args(size), generator, d), d, device, requires_grad)


def randn(*size, generator: Generator | None = None, dtype=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """Normal numbers by Box-Muller over two uniform draws."""
    d = dtype or dt.get_default_dtype()
    shape = _size_args(size)
    u1, u2 = _uniform(shape, generator, d), _uniform(shape, generator, d)
    z = ((1.0 - u1).log() * -2.0).sqrt() * (u2 * (2.0 * math.pi)).cos()
    return _finish(z, d, device, requires_grad)


def randint(low, high=None, size=None, *, generator: Generator | None = None,
            dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    if size is None and isinstance(high, (tuple, list)):  # randint(high, size), as PyTorch
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if size is None:
        raise ShapeError("randint(): missing the required argument 'size'")
    if high <= low:
        raise ShapeError(f"randint(): random_ expects 'from' to be less than 'to', but got "
                         f"from={low} >= to={high}")
    u = _uniform(_size_args((size,) if isinstance(size, int) else tuple(size)), generator,
                 dt.float64)
    out = (u * float(high - low)).floor().long() + low
    return _finish(out.type(dtype or dt.int64), dtype, device, requires_grad)


def randperm(n: int, *, generator: Generator | None = None, dtype=None, device=None) -> Tensor:
    keys = _uniform((n,), generator, dt.float64)._value()
    return tensor(np.argsort(keys, kind="stable"), dtype=dtype or dt.int64, device=device)


def rand_like(x: Tensor, *, dtype=None, **kw) -> Tensor:
    kw.setdefault("device", x.device)
    return rand(x.shape, dtype=dtype or x.dtype, **kw)


def randn_like(x: Tensor, *, dtype=None, **kw) -> Tensor:
    kw.setdefault("device", x.device)
    return randn(x.shape, dtype=dtype or x.dtype, **kw)


def randint_like(x: Tensor, low, high=None, *, dtype=None, **kw) -> Tensor:
    kw.setdefault("device", x.device)
    return randint(low, high, x.shape, dtype=dtype or x.dtype, **kw)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None) -> Tensor:
    if size is None:
        shape = (mean if isinstance(mean, Tensor) else std).shape
    else:
        shape = tuple(size)
    return randn(shape, generator=generator, dtype=dtype) * std + mean


def bernoulli(p: Tensor, *, generator=None) -> Tensor:
    return (rand(p.shape, generator=generator, dtype=p.dtype) < p).type(p.dtype)


def multinomial(probs: Tensor, num_samples: int, replacement: bool = False, *,
                generator=None) -> Tensor:
    """Sampling by inverse CDF (with replacement) or Gumbel top-k (without): eager only.
    Rows are checked first, with PyTorch's messages: finite and non-negative, a positive
    sum, and (without replacement) enough categories of nonzero probability."""
    if probs.ndim not in (1, 2):
        raise ShapeError(f"multinomial(): prob_dist must be 1 or 2 dim, got {probs.ndim} dims")
    if probs.dtype.kind != dt.FLOAT:
        raise DTypeError(f"multinomial(): only supports floating-point dtypes for input, got "
                         f"{probs.dtype.name}")
    if num_samples <= 0:
        raise ShapeError(f"multinomial(): cannot sample n_sample <= 0 samples "
                         f"(num_samples={num_samples})")
    p = probs.detach()._value().astype(np.float64)
    p2 = p.reshape(-1, p.shape[-1])
    if not replacement and num_samples > p2.shape[-1]:
        raise ShapeError("multinomial(): cannot sample n_sample > prob_dist.size(-1) samples "
                         f"without replacement ({num_samples} > {p2.shape[-1]})")
    if not np.all(np.isfinite(p2) & (p2 >= 0)):
        raise DomainError("multinomial(): probability tensor contains either `inf`, "
                                "`nan` or element < 0")
    if np.any(p2.sum(axis=1) <= 0):
        raise DomainError("multinomial(): invalid multinomial distribution (sum of "
                                "probabilities <= 0)")
    if not replacement and np.any(np.count_nonzero(p2, axis=1) < num_samples):
        raise DomainError("multinomial(): invalid multinomial distribution (with "
                                "replacement=False, not enough non-negative category to "
                                f"sample {num_samples} of a row)")
    u = _uniform((p2.shape[0], num_samples if replacement else p2.shape[-1]), generator,
                 dt.float64)._value()
    if replacement:
        cdf = np.cumsum(p2, axis=1)
        cdf /= cdf[:, -1:]
        out = np.array([np.searchsorted(c, r, side="right") for c, r in zip(cdf, u)],
                       dtype=np.int64).reshape(p2.shape[0], num_samples)
    else:
        # zero-probability categories are never drawn: there are enough of the others
        keys = np.where(p2 > 0, np.log(np.where(p2 > 0, p2, 1.0)), -np.inf) - \
            np.log(-np.log(np.maximum(u, 1e-300)))
        out = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    return tensor(out.reshape(p.shape[:-1] + (num_samples,)).astype(np.int64))


def _uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    return self.copy_(rand(self.shape, generator=generator, dtype=self.dtype) * (b - a) + a)


def _normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    return self.copy_(randn(self.shape, generator=generator, dtype=self.dtype) * std + mean)


def _bernoulli_(self: Tensor, p: float = 0.5, *, generator=None) -> Tensor:
    return self.copy_(rand(self.shape, generator=generator, dtype=dt.float64) < p)


Tensor.uniform_ = _uniform_
Tensor.normal_ = _normal_
Tensor.bernoulli_ = _bernoulli_
Tensor.bernoulli = bernoulli
