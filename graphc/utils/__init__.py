"""``graphc.utils``: data loading utilities (``graphc.utils.data``), as ``torch.utils``."""
from . import data

__all__ = ["data"]
