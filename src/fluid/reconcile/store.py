"""The informer's cache: raw API objects keyed by ``namespace/name``, with secondary indexes.

Owns the dicts the API server sent (already stripped of ``managedFields``); callers get
shared, read-only references and must copy before mutating. Never does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["IndexFunc", "Store", "key_of", "split_key"]

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], Iterable[str]]
"""Returns the index values an object is filed under (e.g. the PVC claim names a pod uses)."""


def key_of(obj: Obj) -> str:
    """``namespace/name`` for namespaced objects, ``name`` for cluster-scoped ones."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{namespace}/{meta['name']}" if namespace else str(meta["name"])


def split_key(key: str) -> tuple[str | None, str]:
    """The inverse of ``key_of``: (namespace or None, name)."""
    namespace, sep, name = key.partition("/")
    return (namespace, name) if sep else (None, namespace)


class Store:
    """A thread-unsafe (single event loop) keyed cache with incrementally maintained indexes."""

    def __init__(self) -> None:
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, set[str]]] = {}
        self._filed: dict[str, dict[str, tuple[str, ...]]] = {}

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        """Register an index; existing items are indexed at once."""
        if name in self._indexers:
            raise ValueError(f"indexer {name!r} already registered")
        self._indexers[name] = func
        self._indices[name] = {}
        self._filed[name] = {}
        for key, obj in self._items.items():
            self._file(name, key, obj)

    def get(self, key: str) -> Obj | None:
        return self._items.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        """Iterates over a snapshot of the keys, so callers may change the store meanwhile."""
        return iter(list(self._items))

    def keys(self) -> list[str]:
        return list(self._items)

    def objects(self) -> list[Obj]:
        return list(self._items.values())

    def by_index(self, name: str, value: str) -> list[Obj]:
        """Objects filed under ``value`` in index ``name`` (KeyError for an unknown index)."""
        keys = self._indices[name].get(value, ())
        return [self._items[k] for k in keys]

    def index_keys(self, name: str, value: str) -> list[str]:
        return list(self._indices[name].get(value, ()))

    def upsert(self, obj: Obj) -> Obj | None:
        """Insert or replace; returns the previous object."""
        key = key_of(obj)
        old = self._items.get(key)
        self._items[key] = obj
        for name in self._indexers:
            self._unfile(name, key)
            self._file(name, key, obj)
        return old

    def remove(self, key: str) -> Obj | None:
        old = self._items.pop(key, None)
        if old is not None:
            for name in self._indexers:
                self._unfile(name, key)
        return old

    def _file(self, name: str, key: str, obj: Obj) -> None:
        values = tuple(self._indexers[name](obj))
        if not values:
            return
        self._filed[name][key] = values
        index = self._indices[name]
        for value in values:
            index.setdefault(value, set()).add(key)

    def _unfile(self, name: str, key: str) -> None:
        values = self._filed[name].pop(key, ())
        index = self._indices[name]
        for value in values:
            bucket = index.get(value)
            if bucket is not None:
                bucket.discard(key)
                if not bucket:
                    del index[value]
