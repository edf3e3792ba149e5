"""``RemovableHandle``: what registering a hook returns (PyTorch's ``torch.utils.hooks``)."""
from __future__ import annotations

import itertools
import weakref
from collections import OrderedDict
from collections.abc import Iterable

_ids = itertools.count()
# module hooks registered or removed so far: compiled programs retrace when it changes
module_hook_changes = 0


class RemovableHandle:
    """``handle.remove()`` unregisters the hook; ``with handle:`` removes it on exit."""

    def __init__(self, hooks_dict: OrderedDict | None,
                 *, extra_dict: OrderedDict | Iterable[OrderedDict] | None = None) -> None:
        self.id = next(_ids)
        self.hooks_dict_ref = weakref.ref(hooks_dict) if hooks_dict is not None else None
        extra = [] if extra_dict is None else \
            [extra_dict] if isinstance(extra_dict, dict) else list(extra_dict)
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extra)

    def remove(self) -> None:
        refs = self.extra_dict_ref if self.hooks_dict_ref is None else \
            (self.hooks_dict_ref, *self.extra_dict_ref)
        for ref in refs:
            table = ref()
            if table is not None:
                table.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.id}>"
