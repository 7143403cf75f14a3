"""An editor that changes an object in place and records the RFC 6902 ops that do the same.

Owns JSON Pointer escaping and the choice between ``add`` and ``replace``: plugins say
"set this label", "append this container", and get a patch that reproduces exactly their
edits against the object the API server sent, without diffing two documents afterwards.
Later edits see earlier ones (the chain shares one editor), and ops are recorded in the
order they are applied, so list indices in later ops refer to the already-edited lists.

Never copies the document (the admission request's object belongs to one request) and
never decides anything. Used by the mutation chain and its plugins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

__all__ = ["PatchEditor", "Path", "pointer"]

Path = Sequence[str | int]
"""Keys (dicts) and indices (lists) from the document root."""


def _escape(token: str | int) -> str:
    text = str(token)
    if "~" in text or "/" in text:
        text = text.replace("~", "~0").replace("/", "~1")
    return text


_POINTERS: dict[tuple[str | int, ...], str] = {}
_MAX_CACHED_POINTERS = 4096
"""Paths repeat across admissions (labels, affinity, the first containers): cache their pointers."""


def pointer(path: Path) -> str:
    """The JSON Pointer of ``path``: ``("metadata", "labels", "a/b")`` -> ``/metadata/labels/a~1b``."""
    key = tuple(path)
    cached = _POINTERS.get(key)
    if cached is None:
        cached = "".join(["/" + _escape(token) for token in key])
        if len(_POINTERS) < _MAX_CACHED_POINTERS:
            _POINTERS[key] = cached
    return cached


def _wrap(path: Path, value: Any) -> Any:
    """``value`` nested under the keys of ``path`` (dicts only), innermost last."""
    for key in reversed(path):
        value = {key: value}
    return value


class PatchEditor:
    """Applies edits to ``document`` and keeps the equivalent JSON Patch in ``ops``."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.ops: list[dict[str, Any]] = []

    def get(self, path: Path, default: Any = None) -> Any:
        """The value at ``path``, or ``default`` when any step is missing."""
        node: Any = self.document
        for token in path:
            try:
                node = node[token]
            except (KeyError, IndexError, TypeError):
                return default
        return node

    def _parent(self, path: Path) -> tuple[Any, int]:
        """The deepest existing container on the way to ``path`` and how many steps it took."""
        node: Any = self.document
        for depth, token in enumerate(path[:-1]):
            try:
                child = node[token]
            except (KeyError, IndexError, TypeError):
                return node, depth
            if child is None:
                return node, depth
            node = child
        return node, len(path) - 1

    def set(self, path: Path, value: Any) -> None:
        """Set the value at ``path``, creating missing dicts on the way (one ``add`` for them)."""
        node, depth = self._parent(path)
        if depth < len(path) - 1:
            key = path[depth]
            nested = _wrap(path[depth + 1:], value)
            self.ops.append({"op": "add", "path": pointer(path[:depth + 1]), "value": nested})
            node[key] = _copy(nested)
            return
        key = path[-1]
        exists = (key in node) if isinstance(node, dict) else isinstance(key, int) and key < len(node)
        if exists and node[key] == value:
            return
        self.ops.append({"op": "replace" if exists else "add", "path": pointer(path), "value": value})
        node[key] = _copy(value)

    def setdefault(self, path: Path, value: Any) -> Any:
        """Set ``path`` only when it is missing or null; returns what is there afterwards."""
        current = self.get(path)
        if current is None:
            self.set(path, value)
            return self.get(path)
        return current

    def insert(self, path: Path, index: int, value: Any) -> None:
        """Insert into the list at ``path`` (created when missing); ``index=-1`` appends."""
        items = self.get(path)
        if items is None:
            self.set(path, [value])
            return
        position = len(items) if index < 0 or index > len(items) else index
        suffix = "-" if position == len(items) else str(position)
        self.ops.append({"op": "add", "path": pointer(path) + "/" + suffix, "value": value})
        items.insert(position, _copy(value))

    def append(self, path: Path, value: Any) -> None:
        self.insert(path, -1, value)

    def remove(self, path: Path) -> None:
        """Remove the member or element at ``path`` if it exists."""
        parent = self.get(path[:-1])
        key = path[-1]
        in_dict = isinstance(parent, dict) and key in parent
        in_list = isinstance(parent, list) and isinstance(key, int) and key < len(parent)
        if not (in_dict or in_list):
            return
        del parent[key]
        self.ops.append({"op": "remove", "path": pointer(path)})


def _copy(value: Any) -> Any:
    """A private copy for the document, so later in-place edits never alter recorded ops.

    Containers go through orjson (C) and back: several times faster than a Python deep copy.
    """
    if isinstance(value, dict | list):
        return orjson.loads(orjson.dumps(value))
    return value
