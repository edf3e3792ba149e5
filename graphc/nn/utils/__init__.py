"""``graphc.nn.utils``: helpers around modules, as ``torch.nn.utils`` (``rnn``: padding and
packing of variable-length sequences)."""
from . import rnn

__all__ = ["rnn"]
