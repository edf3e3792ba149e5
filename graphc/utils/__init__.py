"""``graphc.utils``: data loading utilities (``graphc.utils.data``) and hook handles
(``graphc.utils.hooks``), as ``torch.utils``."""
from . import data, hooks

__all__ = ["data", "hooks"]
