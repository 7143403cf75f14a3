"""In-memory ``Mounter`` and ``NodeLabeler`` for tests that must not need root.

Owns a simulated mount table with FUSE servers that can be started and killed; the
directories themselves are real (tests point paths into a temporary directory), so the
servicers' directory handling is exercised for real. Never used by the plugin binary;
imported by test/unit/csi and by anyone wiring the servicers without privileges.
"""

from __future__ import annotations

import itertools
import os
import posixpath

import attrs

from fluid.csi import errors, mounts

__all__ = ["FakeLabeler", "FakeMounter"]


class FakeMounter:
    """A mount namespace in memory: FUSE mounts, bind mounts, and dead FUSE servers."""

    def __init__(self) -> None:
        self._entries: list[mounts.MountEntry] = [
            mounts.MountEntry(
                mount_id=1, parent_id=0, dev="8:1", root="/", mount_point="/",
                options=("rw",), optional=(), fs_type="ext4", source="/dev/sda1",
                super_options=("rw",),
            )
        ]
        self._ids = itertools.count(100)
        self._minors = itertools.count(50)
        self._dead: set[str] = set()
        # A fake FUSE filesystem serves the real directory it was mounted on.
        self._backing: dict[str, str] = {}
        self.calls: list[tuple[str, ...]] = []

    # -- simulation controls ------------------------------------------------------------------

    def start_fuse(self, mount_point: str, *, fs_type: str = "fuse.test") -> str:
        """A FUSE client mounts ``mount_point``; returns its device id."""
        os.makedirs(mount_point, exist_ok=True)
        dev = f"0:{next(self._minors)}"
        self._backing[dev] = mount_point
        self._add(dev=dev, root="/", mount_point=mount_point, fs_type=fs_type,
                  source="fake-fuse", readonly=False)
        return dev

    def kill_fuse(self, mount_point: str) -> None:
        """The FUSE server behind ``mount_point`` dies: every bind of it breaks."""
        entry = self.table_now().top(mount_point)
        if entry is None:
            raise AssertionError(f"nothing mounted at {mount_point}")
        self._dead.add(entry.dev)

    def table_now(self) -> mounts.MountTable:
        return mounts.MountTable(tuple(self._entries))

    def _add(
        self, *, dev: str, root: str, mount_point: str, fs_type: str, source: str, readonly: bool
    ) -> None:
        parent = self.table_now().covering(mount_point)
        self._entries.append(
            mounts.MountEntry(
                mount_id=next(self._ids), parent_id=parent.mount_id if parent else 0, dev=dev,
                root=root, mount_point=mount_point, options=("ro" if readonly else "rw",),
                optional=(), fs_type=fs_type, source=source, super_options=("rw",),
            )
        )

    # -- the Mounter protocol -------------------------------------------------------------

    async def table(self) -> mounts.MountTable:
        return self.table_now()

    async def resolve(self, path: str) -> str:
        return posixpath.normpath(path)

    async def probe(self, path: str) -> mounts.PathState:
        entry = self.table_now().covering(path)
        if entry is not None and entry.dev in self._dead:
            return mounts.PathState.BROKEN
        return mounts.PathState.OK if _exists(self._real(path)) else mounts.PathState.MISSING

    def _real(self, path: str) -> str:
        """The real directory behind ``path``, following fake FUSE and bind mounts."""
        entry = self.table_now().covering(path)
        if entry is None or entry.dev not in self._backing:
            return path
        inside = posixpath.relpath(path, entry.mount_point)
        return posixpath.normpath(
            posixpath.join(self._backing[entry.dev], entry.root.lstrip("/"), inside)
        )

    async def make_dir(self, path: str) -> None:
        self.calls.append(("mkdir", path))
        if await self.probe(path) is mounts.PathState.BROKEN:
            return
        os.makedirs(path, exist_ok=True)

    async def remove_dir(self, path: str) -> bool:
        self.calls.append(("rmdir", path))
        if self.table_now().is_mount_point(path):
            raise errors.Internal(f"rmdir {path}: device or resource busy")
        try:
            os.rmdir(path)
        except FileNotFoundError:
            return False
        return True

    async def bind(self, *, source: str, target: str, readonly: bool) -> None:
        self.calls.append(("bind", source, target, "ro" if readonly else "rw"))
        if await self.probe(source) is not mounts.PathState.OK:
            raise errors.MountError(f"mount --bind {source}: transport endpoint not connected")
        if not _is_dir(target):
            raise errors.MountError(f"mount --bind: {target} does not exist")
        table = self.table_now()
        origin = table.origin(source)
        covering = table.covering(source)
        assert origin is not None
        assert covering is not None
        self._add(dev=origin.dev, root=origin.root, mount_point=target,
                  fs_type=covering.fs_type, source=covering.source, readonly=readonly)

    async def unmount(self, target: str) -> None:
        self.calls.append(("umount", target))
        top = self.table_now().top(target)
        if top is None:
            return
        self._entries.remove(top)


def _exists(path: str) -> bool:
    return os.path.exists(path)


def _is_dir(path: str) -> bool:
    return os.path.isdir(path)


@attrs.define
class FakeLabeler:
    """Node labels in a dict; ``fail_with`` makes the next call raise (then clears)."""

    labels: dict[str, dict[str, str]] = attrs.field(factory=dict)
    fail_with: errors.CsiError | None = None
    calls: list[tuple[str, str, str]] = attrs.field(factory=list)

    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            error, self.fail_with = self.fail_with, None
            raise error

    async def add(self, node: str, key: str) -> None:
        self.calls.append(("add", node, key))
        self._maybe_fail()
        self.labels.setdefault(node, {})[key] = "true"

    async def remove(self, node: str, key: str) -> None:
        self.calls.append(("remove", node, key))
        self._maybe_fail()
        self.labels.get(node, {}).pop(key, None)
