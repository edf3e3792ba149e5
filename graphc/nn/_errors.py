"""The exception for argument values that PyTorch's nn functions reject with RuntimeError."""
from __future__ import annotations

from ..ir.errors import GraphcError


class InvalidArgument(GraphcError, RuntimeError):
    """An argument value outside what the op takes (bad padding, kernel geometry, smoothing,
    input values outside the loss's domain), where PyTorch raises RuntimeError."""


class AttentionAssertion(GraphcError, AssertionError):
    """Shapes or arguments that PyTorch's attention layers reject with AssertionError (a
    query of the wrong embedding size, a key_padding_mask of the wrong shape, ...)."""
