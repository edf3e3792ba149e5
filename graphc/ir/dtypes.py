"""Element types and PyTorch's type-promotion rules.

Python scalars are *weak*: they never widen a tensor of their own category
(``f16 + 1.0 -> f16``) and take the default type of their category otherwise
(``i32 + 1.5 -> f32``). Zero-dim tensors are weak against tensors with dims.
"""
from __future__ import annotations

import numpy as np


class DType:
    """One element type; ``graphc.float32`` and friends are instances."""

    __slots__ = ("name", "short", "np", "kind", "itemsize")

    def __init__(self, name: str, short: str, np_dtype: type, kind: int) -> None:
        self.name = name
        self.short = short
        self.np = np.dtype(np_dtype)
        self.kind = kind  # 0 bool, 1 integer, 2 floating
        self.itemsize = self.np.itemsize

    @property
    def is_floating_point(self) -> bool:
        return self.kind == FLOAT

    @property
    def is_signed(self) -> bool:
        return self.kind == FLOAT or (self.kind == INT and self.np.kind == "i")

    def __repr__(self) -> str:
        return f"graphc.{self.name}"

    def __reduce__(self):
        return (from_name, (self.name,))


BOOL, INT, FLOAT = 0, 1, 2

bool_ = DType("bool", "b8", np.bool_, BOOL)
uint8 = DType("uint8", "u8", np.uint8, INT)
int8 = DType("int8", "i8", np.int8, INT)
int16 = DType("int16", "i16", np.int16, INT)
int32 = DType("int32", "i32", np.int32, INT)
int64 = DType("int64", "i64", np.int64, INT)
float16 = DType("float16", "f16", np.float16, FLOAT)
float32 = DType("float32", "f32", np.float32, FLOAT)
float64 = DType("float64", "f64", np.float64, FLOAT)

ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64)
_BY_NP = {d.np: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update(half=float16, float=float32, double=float64, long=int64, int=int32, short=int16)

_default_float = float32


def from_name(name: str) -> DType:
    return _BY_NAME[name]


def from_numpy(np_dtype) -> DType:
    """The DType of a numpy dtype; TypeError for types graphc does not have."""
    try:
        return _BY_NP[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        raise TypeError(f"graphc has no dtype for numpy dtype {np_dtype!r}") from None


def get_default_dtype() -> DType:
    return _default_float


def set_default_dtype(dtype: DType) -> None:
    global _default_float
    if not isinstance(dtype, DType) or dtype.kind != FLOAT:
        raise TypeError(f"set_default_dtype: only floating point types are allowed, got {dtype}")
    _default_float = dtype


def of_scalar(value) -> DType:
    """The type a Python scalar gets when it becomes a tensor."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    if isinstance(value, (float, np.floating)):
        return _default_float
    raise TypeError(f"expected a Python number, got {type(value).__name__}")


def promote_types(a: DType, b: DType) -> DType:
    """PyTorch's promote_types: int with float gives the float, never wider."""
    if a is b:
        return a
    if a.kind != b.kind:
        return a if a.kind > b.kind else b
    if a.kind == FLOAT:
        return a if a.itemsize >= b.itemsize else b
    if a.kind == BOOL:
        return a
    return _BY_NP[np.promote_types(a.np, b.np)]


def result_type(operands) -> DType:
    """Promote ``operands`` (nodes with .dtype/.shape, or Python scalars) like PyTorch.

    Three tiers in priority order: tensors with dims, zero-dim tensors, Python
    scalars. A lower tier only counts when its category is higher.
    """
    tiers: list[DType | None] = [None, None, None]
    for x in operands:
        if isinstance(x, (bool, int, float, np.number, np.bool_)):
            d, t = of_scalar(x), 2
        else:
            d, t = x.dtype, (0 if x.shape else 1)
        cur = tiers[t]
        tiers[t] = d if cur is None else promote_types(cur, d)
    result = None
    for d in tiers:
        if d is None:
            continue
        if result is None:
            result = d
        elif d.kind > result.kind:
            result = promote_types(result, d)
    assert result is not None, "result_type of no operands"
    return result


def float_of(d: DType) -> DType:
    """The type of a float-valued op on ``d``: itself if floating, else the default float."""
    return d if d.kind == FLOAT else _default_float
