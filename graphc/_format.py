"""PyTorch's tensor repr: ``tensor([[ 7, 10], [15, 22]])``, precision 4, summarized past 1000."""
from __future__ import annotations

import math

import numpy as np

from .ir import dtypes as dt

PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH = 4, 1000, 3, 80


class _Formatter:
    """Chooses one format for every element so that columns line up (PyTorch's _Formatter)."""

    def __init__(self, values: np.ndarray, kind: int) -> None:
        self.kind, self.int_mode, self.sci_mode, self.width = kind, True, False, 1
        flat = values.ravel()
        if kind != dt.FLOAT:
            self.width = max((len(self._plain(v)) for v in flat.tolist()), default=1)
            return
        finite = flat[np.isfinite(flat)].astype(np.float64)
        nonzero = finite[finite != 0]
        if nonzero.size:
            mag = np.abs(nonzero)
            lo, hi = mag.min(), mag.max()
            self.int_mode = bool(np.all(np.ceil(mag) == mag))
            if self.int_mode:
                self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8
            else:
                self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        # as PyTorch: the column width comes from the nonzero finite values only (nan, inf
        # and zeros, -0. included, don't pad)
        self.width = max((len(self._plain(v)) for v in nonzero.tolist()), default=1)

    def _plain(self, v) -> str:
        if self.kind == dt.BOOL:
            return str(bool(v))
        if self.kind == dt.INT:
            return str(int(v))
        if math.isnan(v) or math.isinf(v):
            return str(v)
        if self.sci_mode:
            return f"{v:.{PRECISION}e}"
        if self.int_mode:
            return f"{v:.0f}."
        return f"{v:.{PRECISION}f}"

    def format(self, v) -> str:
        s = self._plain(v)
        return " " * (self.width - len(s)) + s


def _summarized(v: np.ndarray) -> np.ndarray:
    if v.ndim == 0:
        return v
    if v.shape[0] > 2 * EDGEITEMS:
        v = np.concatenate([v[:EDGEITEMS], v[-EDGEITEMS:]])
    return np.stack([_summarized(r) for r in v]) if v.ndim > 1 else v


def _vector(v: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    per_line = max(1, (LINEWIDTH - indent) // (fmt.width + 2))
    if summarize and v.shape[0] > 2 * EDGEITEMS:
        data = ([fmt.format(x) for x in v[:EDGEITEMS].tolist()] + [" ..."]
                + [fmt.format(x) for x in v[-EDGEITEMS:].tolist()])
    else:
        data = [fmt.format(x) for x in v.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _body(v: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    if v.ndim == 0:
        return fmt.format(v.item()).strip()
    if v.ndim == 1:
        return _vector(v, indent, summarize, fmt)
    if summarize and v.shape[0] > 2 * EDGEITEMS:
        parts = ([_body(v[i], indent + 1, summarize, fmt) for i in range(EDGEITEMS)] + ["..."]
                 + [_body(v[i], indent + 1, summarize, fmt)
                    for i in range(v.shape[0] - EDGEITEMS, v.shape[0])])
    else:
        parts = [_body(v[i], indent + 1, summarize, fmt) for i in range(v.shape[0])]
    return "[" + ("," + "\n" * (v.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _default_dtype(d: dt.DType) -> bool:
    return d is dt.get_default_dtype() or d is dt.int64 or d is dt.bool_


def tensor_repr(t, prefix: str = "tensor(") -> str:
    indent = len(prefix)
    node = t._node
    suffixes = []
    if node.value is None:
        body = f"<traced {node.dtype.short}{list(node.shape)}>"
    elif t.numel() == 0:
        body = "[]"
        if t.ndim != 1:
            suffixes.append(f"size={tuple(t.shape)}")
        if node.dtype is not dt.get_default_dtype():
            suffixes.append(f"dtype={node.dtype!r}")
    else:
        v = t._host("print")
        summarize = v.size > THRESHOLD
        fmt = _Formatter(_summarized(v) if summarize else v, node.dtype.kind)
        body = _body(v, indent, summarize, fmt)
        if not _default_dtype(node.dtype):
            suffixes.append(f"dtype={node.dtype!r}")
    if t.device.type != "cpu":
        suffixes.insert(0, f"device='{t.device}'")
    gf = t.grad_fn
    if gf is not None:
        suffixes.append(f"grad_fn=<{gf.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    out = [prefix + body]
    last = len(out[0]) - out[0].rfind("\n") + 1
    for s in suffixes:
        if last + len(s) + 2 > LINEWIDTH:
            out.append(",\n" + " " * indent + s)
            last = indent + len(s)
        else:
            out.append(", " + s)
            last += len(s) + 2
    return "".join(out) + ")"
