"""Variable-length sequences for recurrent layers, as ``torch.nn.utils.rnn``: padding
(``pad_sequence``, ``unpad_sequence``) and packing (``PackedSequence``,
``pack_padded_sequence``, ``pad_packed_sequence``, ``pack_sequence``, ``unpack_sequence``).

A packed sequence's ``data`` holds the steps of every sequence time-major, longest
sequence first, ``batch_sizes[t]`` rows for step t. Packing and unpacking are one
``index_select`` each (indices computed from the lengths, which are always concrete), so
they differentiate and trace like any op.
"""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence

import numpy as np

from ...composite import cat, stack
from ...creation import full, tensor
from ...ir import dtypes as dt
from ...ir import ops as P
from ...ir.errors import ShapeError, TraceError, ValueArgumentError
from ...tensor import Tensor, _bind
from .._errors import InvalidArgument

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


class PackedSequence(namedtuple("PackedSequence_",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """``(data, batch_sizes, sorted_indices, unsorted_indices)``; build it with
    ``pack_padded_sequence`` or ``pack_sequence``. ``unsorted_indices`` defaults to the
    inverse of ``sorted_indices``."""

    def __new__(cls, data: Tensor, batch_sizes: Tensor | None = None,
                sorted_indices: Tensor | None = None,
                unsorted_indices: Tensor | None = None) -> PackedSequence:
        if batch_sizes is None:  # PackedSequence((data, batch_sizes)), as PyTorch takes it
            data, batch_sizes = data
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> PackedSequence:
        """``data.to(...)``; the index tensors follow only to another device."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = (lambda t: t) if data.device == self.data.device else \
            (lambda t: None if t is None else t.to(data.device))
        return packed_like(self, data, move)

    def cuda(self, *args, **kwargs) -> PackedSequence:
        return self.to("cuda", *args, **kwargs)

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def double(self) -> PackedSequence:
        return self.to(dtype=dt.float64)

    def float(self) -> PackedSequence:
        return self.to(dtype=dt.float32)

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda


def packed_like(packed: PackedSequence, data: Tensor, move=lambda t: t) -> PackedSequence:
    """``packed`` with new data for the same steps (a recurrent layer's output), keeping
    what packing knew in Python (see ``_packed``)."""
    out = PackedSequence(data, packed.batch_sizes, move(packed.sorted_indices),
                         move(packed.unsorted_indices))
    if hasattr(packed, "_host"):
        out._host = packed._host
    return out


def packed_sizes(packed: PackedSequence) -> list[int]:
    """The batch sizes as Python ints (from packing, else read from ``batch_sizes``)."""
    host = getattr(packed, "_host", None)
    return list(host[0]) if host is not None else _ints(packed.batch_sizes)


def _unsorted_order(packed: PackedSequence) -> list[int] | None:
    host = getattr(packed, "_host", None)
    if host is not None:
        return None if host[1] is None else list(host[1])
    u = packed.unsorted_indices
    return None if u is None else _ints(u)


def _ints(t: Tensor) -> list[int]:
    try:
        return [int(v) for v in t.tolist()]
    except TraceError:
        raise TraceError("a PackedSequence that is an argument of a compiled function: its "
                         "batch sizes decide the steps, and a compiled function knows only "
                         "the shapes of its tensor arguments; pack inside the compiled "
                         "function (lengths as a Python list) or outside it unpack "
                         "first") from None


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    if permutation is None:
        return None
    order = np.asarray(permutation.tolist(), dtype=np.int64)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    return tensor(inverse, device=permutation.device)


def _lengths(lengths) -> list[int]:
    if isinstance(lengths, Tensor):
        if lengths.ndim != 1:
            raise ShapeError(f"pack_padded_sequence(): lengths must be 1-D, got shape "
                             f"{list(lengths.shape)}")
        lengths = lengths.tolist()
    return [int(v) for v in lengths]


def _check_lengths(lengths: list[int], steps: int, batch: int, shape: list[int]) -> None:
    if len(lengths) != batch:
        raise InvalidArgument(f"pack_padded_sequence(): Expected `len(lengths)` to be equal to "
                              f"batch_size, but got {len(lengths)} (batch_size={batch})")
    if any(v <= 0 for v in lengths):
        raise InvalidArgument("pack_padded_sequence(): Length of all samples has to be greater "
                              f"than 0, but found an element in 'lengths' that is <= 0: "
                              f"{lengths}")
    if max(lengths) > steps:
        raise ShapeError(f"pack_padded_sequence(): a length of {max(lengths)} exceeds the "
                         f"{steps} steps of the input of shape {shape}")


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) (``batch_first``: (B, T, *)) of sequences of the
    given lengths. With ``enforce_sorted`` the lengths must be decreasing; otherwise the
    sequences are sorted here (stably: equal lengths keep their order) and
    ``sorted_indices`` records how."""
    x = input.transpose(0, 1) if batch_first else input
    if x.ndim < 2:
        raise ShapeError(f"pack_padded_sequence(): expected an input of at least 2 dims "
                         f"(steps, batch, *), got shape {list(input.shape)}")
    steps, batch = x.shape[0], x.shape[1]
    lengths = _lengths(lengths)
    if enforce_sorted and any(a < b for a, b in zip(lengths, lengths[1:])):
        raise InvalidArgument(
            f"pack_padded_sequence(): `lengths` array must be sorted in decreasing order when "
            f"`enforce_sorted` is True (got {lengths}). You can pass `enforce_sorted=False` "
            "to pack_padded_sequence and/or pack_sequence to sidestep this requirement if you "
            "do not need ONNX exportability.")
    _check_lengths(lengths, steps, batch, list(input.shape))
    order = list(range(batch)) if enforce_sorted else \
        sorted(range(batch), key=lambda b: -lengths[b])
    sorted_lengths = [lengths[b] for b in order]
    sizes = [sum(n > t for n in sorted_lengths) for t in range(sorted_lengths[0])]
    rows = [t * batch + order[j] for t, n in enumerate(sizes) for j in range(n)]
    flat = x.reshape(steps * batch, *x.shape[2:])
    data = flat.index_select(0, tensor(rows, dtype=dt.int64, device=input.device))
    return _packed(data, sizes, None if enforce_sorted else order)


def _packed(data: Tensor, sizes: list[int], order: list[int] | None) -> PackedSequence:
    """A PackedSequence that also keeps its sizes and unsorted order as Python ints: inside
    a traced function its index tensors have no values yet, and the steps of a recurrent
    layer and the rows of unpacking depend on them."""
    device = data.device
    if order is None:
        sorted_indices = unsorted_indices = unsorted = None
    else:
        unsorted = np.argsort(order).tolist()
        sorted_indices = tensor(order, dtype=dt.int64, device=device)
        unsorted_indices = tensor(unsorted, dtype=dt.int64, device=device)
    out = PackedSequence(data, tensor(sizes, dtype=dt.int64), sorted_indices, unsorted_indices)
    out._host = (tuple(sizes), None if unsorted is None else tuple(unsorted))
    return out


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length: int | None = None
                        ) -> tuple[Tensor, Tensor]:
    """The padded batch (T, B, *) (``batch_first``: (B, T, *)) in the original order of
    the sequences, and their lengths (int64)."""
    sizes = packed_sizes(sequence)
    batch, longest = sizes[0], len(sizes)
    steps = longest if total_length is None else total_length
    if steps < longest:
        raise ValueArgumentError(
            "pad_packed_sequence(): Expected total_length to be at least the length of the "
            f"longest sequence in input, but got total_length={total_length} and max "
            f"sequence length being {longest}")
    unsorted = _unsorted_order(sequence) or list(range(batch))
    offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    data = sequence.data
    pad_row = offsets[-1]  # the row appended below
    rows = [offsets[t] + j if t < longest and j < sizes[t] else pad_row
            for t in range(steps) for j in unsorted]
    fill = full((1, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    padded = cat([data, fill], 0).index_select(0, tensor(rows, dtype=dt.int64,
                                                         device=data.device))
    padded = padded.reshape(steps, batch, *data.shape[1:])
    sorted_lengths = [sum(s > j for s in sizes) for j in range(batch)]
    lengths = tensor([sorted_lengths[j] for j in unsorted], dtype=dt.int64)
    return (padded.transpose(0, 1) if batch_first else padded), lengths


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences of shapes (L_i, *) into (T, B, *) (``batch_first``: (B, T, *)),
    padding each to the longest on the right (or the left) with ``padding_value``."""
    if padding_side not in ("left", "right"):
        raise InvalidArgument(f"pad_sequence(): Expected padding_side to be one of left or "
                              f"right, but got {padding_side}.")
    seqs = list(sequences)
    if not seqs:
        raise InvalidArgument("pad_sequence(): received an empty list of sequences")
    rest = tuple(seqs[0].shape[1:])
    for s in seqs:
        if s.ndim == 0 or tuple(s.shape[1:]) != rest:
            raise ShapeError(f"pad_sequence(): every sequence must have shape (L, "
                             f"{', '.join(map(str, rest))}) but got shapes "
                             f"{[list(q.shape) for q in seqs]}")
    longest = max(s.shape[0] for s in seqs)
    padded = []
    for s in seqs:
        gap = longest - s.shape[0]
        widths = ((0, gap) if padding_side == "right" else (gap, 0),) + ((0, 0),) * len(rest)
        padded.append(_bind(P.PAD, s._node, widths=widths, value=padding_value) if gap else s)
    return stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False
                   ) -> list[Tensor]:
    """The sequences of a padded batch, each cut to its length."""
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    lengths = [int(v) for v in (lengths.tolist() if isinstance(lengths, Tensor) else lengths)]
    return [x[i, :n] for i, n in enumerate(lengths)]


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """``pack_padded_sequence(pad_sequence(sequences), lengths)``."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The sequences of a packed batch, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
