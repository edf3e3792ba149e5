"""Counter-based random numbers: Philox-4x32-10 (Salmon et al., SC'11).

Element ``i`` of the ``offset``-th draw under ``seed`` is a pure function of
(seed, offset, i), so eager numpy, compiled CPU code and GPU threads produce
the same numbers with no shared state. This is the numpy reference.
"""
from __future__ import annotations

import numpy as np

M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK32 = 0xFFFFFFFF
ROUNDS = 10


def as_int64(v: int) -> int:
    """A 64-bit pattern (seeds go up to 2**64 - 1) as the signed int64 a kernel reads."""
    return v - (1 << 64) if v >= 1 << 63 else v


def philox4x32(c0, c1, c2, c3, k0: int, k1: int):
    """Philox-4x32 over uint64 arrays that hold 32-bit values; returns four such arrays."""
    k0 = np.uint64(k0 & MASK32)
    k1 = np.uint64(k1 & MASK32)
    m0, m1, mask = np.uint64(M0), np.uint64(M1), np.uint64(MASK32)
    w0, w1, s32 = np.uint64(W0), np.uint64(W1), np.uint64(32)
    for _ in range(ROUNDS):
        p0 = c0 * m0
        p1 = c2 * m1
        c0, c1, c2, c3 = (p1 >> s32) ^ c1 ^ k0, p1 & mask, (p0 >> s32) ^ c3 ^ k1, p0 & mask
        k0 = (k0 + w0) & mask
        k1 = (k1 + w1) & mask
    return c0, c1, c2, c3


def random_bits(seed: int, offset: int, n: int):
    """Two 32-bit words per element for elements 0..n-1 of draw ``offset``."""
    i = np.arange(n, dtype=np.uint64)
    mask = np.uint64(MASK32)
    c0 = i & mask
    c1 = i >> np.uint64(32)
    c2 = np.full(n, offset & MASK32, dtype=np.uint64)
    c3 = np.full(n, (offset >> 32) & MASK32, dtype=np.uint64)
    r0, r1, _, _ = philox4x32(c0, c1, c2, c3, seed & MASK32, (seed >> 32) & MASK32)
    return r0, r1


def uniform(seed: int, offset: int, shape: tuple, np_dtype) -> np.ndarray:
    """Uniform numbers in [0, 1): 24 random bits for float32, 11 for float16, 53 for float64."""
    n = int(np.prod(shape, dtype=np.int64))
    r0, r1 = random_bits(int(seed), int(offset), n)
    if np.dtype(np_dtype) == np.float64:
        u = ((r0 >> np.uint64(5)) * 67108864.0 + (r1 >> np.uint64(6))) * (1.0 / 9007199254740992.0)
    else:  # as many bits as the mantissa holds, so that rounding never gives 1.0
        bits = 11 if np.dtype(np_dtype) == np.float16 else 24
        u = (r0 >> np.uint64(32 - bits)).astype(np.float64) * (1.0 / (1 << bits))
    return u.astype(np_dtype).reshape(shape)
