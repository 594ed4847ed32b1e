"""Forward hook handles for nn.Module."""
from __future__ import annotations

import itertools

_ids = itertools.count()


class RemovableHandle:
    """``handle.remove()`` unregisters the hook."""

    def __init__(self, store, key) -> None:
        self._store = store
        self._key = key

    def remove(self) -> None:
        self._store.pop(self._key, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def add_hook(store, hook) -> RemovableHandle:
    key = next(_ids)
    store[key] = hook
    return RemovableHandle(store, key)
