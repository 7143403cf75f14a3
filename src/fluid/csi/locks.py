"""A keyed asyncio lock: one holder per volume id (or any other key) at a time.

Owns mutual exclusion only. The servicers take the volume's lock before they look at
the mount table, so two RPCs for one volume never plan against the same snapshot; locks
for different keys never wait on each other. Entries are dropped when nobody holds or
waits for them, so the map does not grow with every volume the node has ever seen.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

__all__ = ["KeyedLock"]


class KeyedLock:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                del self._users[key]
                del self._locks[key]

    def __len__(self) -> int:
        """Keys currently held or waited for."""
        return len(self._locks)
