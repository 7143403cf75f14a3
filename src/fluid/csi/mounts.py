"""The node's mount table and the idempotent mount primitives the CSI servicers act through.

Owns: parsing ``/proc/self/mountinfo`` into a ``MountTable`` (pure), the ``Mounter``
protocol (the only way the plugin touches mounts and the paths under them; Linux and fake
implementations live in ``fluid.csi.linux`` and ``fluid.csi.fake``), the pure bind plan,
and the ``ensure_*`` primitives that observe, plan and act so that repeating them is
harmless. Never talks to Kubernetes and never decides *what* to publish: ``fluid.csi.node``
and ``fluid.csi.recovery`` call in here with paths they already validated.
"""

from __future__ import annotations

import enum
import posixpath
from typing import Protocol

import attrs
import structlog

from fluid.csi import errors

__all__ = [
    "BindAction",
    "MountEntry",
    "MountTable",
    "Mounter",
    "Origin",
    "PathState",
    "ensure_bound",
    "ensure_unmounted",
    "parse_mountinfo",
    "plan_bind",
]

log = structlog.get_logger(__name__)

_UNMOUNT_LIMIT = 64
"""Most mounts ``ensure_unmounted`` peels off one path (recovery bugs elsewhere have
stacked dozens; more than this means something keeps mounting and we should stop)."""


class PathState(enum.StrEnum):
    """What ``stat`` says about a path."""

    OK = "ok"
    MISSING = "missing"
    BROKEN = "broken"
    """stat failed with ENOTCONN, EIO, ESTALE or similar: a FUSE server died under it."""
    HUNG = "hung"
    """stat did not answer in time: the FUSE server is alive but stuck."""


@attrs.frozen
class Origin:
    """Where a mount's content comes from: the filesystem (device) and the path inside it.

    A bind mount of ``path`` carries the origin of ``path``, so comparing origins tells
    whether a target shows the source we meant, whatever either path is called.
    """

    dev: str
    root: str


@attrs.frozen
class MountEntry:
    """One line of /proc/self/mountinfo (see proc(5))."""

    mount_id: int
    parent_id: int
    dev: str
    root: str
    mount_point: str
    options: tuple[str, ...]
    optional: tuple[str, ...]
    fs_type: str
    source: str
    super_options: tuple[str, ...]

    @property
    def read_only(self) -> bool:
        return "ro" in self.options

    @property
    def origin(self) -> Origin:
        return Origin(self.dev, self.root)


def _unescape(field: str) -> str:
    r"""Undo the kernel's octal escapes (``\040`` for a space, ``\134`` for a backslash)."""
    if "\\" not in field:
        return field
    out: list[str] = []
    index = 0
    while index < len(field):
        chunk = field[index : index + 4]
        if len(chunk) == 4 and chunk[0] == "\\" and chunk[1:].isdigit():
            out.append(chr(int(chunk[1:], 8)))
            index += 4
        else:
            out.append(field[index])
            index += 1
    return "".join(out)


def _parse_line(line: str) -> MountEntry:
    fields = line.split(" ")
    separator = fields.index("-", 6)
    major_minor = fields[2]
    return MountEntry(
        mount_id=int(fields[0]),
        parent_id=int(fields[1]),
        dev=major_minor,
        root=_unescape(fields[3]),
        mount_point=_unescape(fields[4]),
        options=tuple(fields[5].split(",")),
        optional=tuple(fields[6:separator]),
        fs_type=fields[separator + 1],
        source=_unescape(fields[separator + 2]),
        super_options=tuple(fields[separator + 3].split(",")) if len(fields) > separator + 3
        else (),
    )


def parse_mountinfo(text: str) -> MountTable:
    """Parse mountinfo text; a malformed line raises ValueError naming it."""
    entries: list[MountEntry] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(_parse_line(line))
        except (ValueError, IndexError) as exc:
            raise ValueError(f"mountinfo line {number} is malformed: {line!r}") from exc
    return MountTable(tuple(entries))


def _contains(mount_point: str, path: str) -> bool:
    return mount_point == "/" or path == mount_point or path.startswith(mount_point + "/")


@attrs.frozen
class MountTable:
    """A snapshot of the mounts this process sees; all lookups take normalised absolute paths."""

    entries: tuple[MountEntry, ...]

    def stack(self, path: str) -> tuple[MountEntry, ...]:
        """The mounts at exactly ``path``, bottom first (a later mount hides an earlier one)."""
        here = [e for e in self.entries if e.mount_point == path]
        if len(here) < 2:
            return tuple(here)
        ids = {e.mount_id for e in here}
        ordered = [e for e in here if e.parent_id not in ids][:1] or here[:1]
        children = {e.parent_id: e for e in here}
        while len(ordered) < len(here) and ordered[-1].mount_id in children:
            ordered.append(children[ordered[-1].mount_id])
        if len(ordered) < len(here):  # not a simple chain: keep the kernel's order
            return tuple(here)
        return tuple(ordered)

    def top(self, path: str) -> MountEntry | None:
        """The visible mount at exactly ``path``, if ``path`` is a mount point."""
        stack = self.stack(path)
        return stack[-1] if stack else None

    def is_mount_point(self, path: str) -> bool:
        return any(e.mount_point == path for e in self.entries)

    def covering(self, path: str) -> MountEntry | None:
        """The visible mount whose tree holds ``path`` (the longest mount-point prefix)."""
        best = ""
        for entry in self.entries:
            if _contains(entry.mount_point, path) and len(entry.mount_point) > len(best):
                best = entry.mount_point
        return self.top(best) if best else None

    def origin(self, path: str) -> Origin | None:
        """The origin a bind mount of ``path`` would have."""
        entry = self.covering(path)
        if entry is None:
            return None
        relative = posixpath.relpath(path, entry.mount_point)
        root = posixpath.normpath(posixpath.join(entry.root, relative))
        return Origin(entry.dev, root)

    def under(self, prefix: str) -> tuple[MountEntry, ...]:
        """Mounts at or below ``prefix``."""
        return tuple(e for e in self.entries if _contains(prefix, e.mount_point))


class Mounter(Protocol):
    """Every effect the plugin has on the node's mounts and the directories under them."""

    async def table(self) -> MountTable:
        """The current mount table of this process's mount namespace."""

    async def resolve(self, path: str) -> str:
        """``path`` with symlinks resolved as far as they can be (broken mounts stop it)."""

    async def probe(self, path: str) -> PathState:
        """Stat ``path`` with a timeout."""

    async def make_dir(self, path: str) -> None:
        """Create ``path`` and its parents; an existing path (even a broken mount) is fine."""

    async def remove_dir(self, path: str) -> bool:
        """Remove the empty directory ``path``; False when it did not exist."""

    async def bind(self, *, source: str, target: str, readonly: bool) -> None:
        """Bind-mount ``source`` on ``target`` (read-only if asked); raises MountError."""

    async def unmount(self, target: str) -> None:
        """Unmount the top mount at ``target``; raises MountError."""


class BindAction(enum.StrEnum):
    NOOP = "noop"
    """The target already shows the source with the requested mode."""
    BIND = "bind"
    """The target is not a mount point."""
    REBIND = "rebind"
    """The target is a stale bind of a dead FUSE mount: unmount, then bind again."""


def plan_bind(
    table: MountTable, *, source: str, target: str, readonly: bool, target_state: PathState
) -> BindAction:
    """Decide how to make ``target`` a bind mount of ``source`` (pure).

    Raises ``AlreadyExists`` when the target is a healthy mount of something else, or of
    the source with the other read-only mode: the CO asked for two incompatible things.
    """
    current = table.top(target)
    if current is None:
        return BindAction.BIND
    if target_state in (PathState.BROKEN, PathState.HUNG):
        return BindAction.REBIND
    wanted = table.origin(source)
    if wanted is None or current.origin != wanted:
        raise errors.AlreadyExists(
            f"{target} is already a mount of {current.source} ({current.dev}{current.root}), "
            f"not of {source}"
        )
    if current.read_only != readonly:
        mode = "read-only" if current.read_only else "read-write"
        raise errors.AlreadyExists(f"{target} is already published {mode}")
    return BindAction.NOOP


async def ensure_unmounted(mounter: Mounter, target: str) -> int:
    """Unmount everything stacked at ``target``; returns how many mounts were removed."""
    removed = 0
    while (await mounter.table()).is_mount_point(target):
        if removed >= _UNMOUNT_LIMIT:
            raise errors.Internal(f"{target} still mounted after {removed} unmounts")
        await mounter.unmount(target)
        removed += 1
    if removed:
        log.info("target_unmounted", target=target, mounts=removed)
    return removed


async def ensure_bound(
    mounter: Mounter, *, source: str, target: str, readonly: bool
) -> BindAction:
    """Make ``target`` a bind mount of ``source``: observe, plan, act; repeatable."""
    target_state = await mounter.probe(target)
    table = await mounter.table()
    action = plan_bind(
        table, source=source, target=target, readonly=readonly, target_state=target_state
    )
    if action is BindAction.NOOP:
        return action
    if action is BindAction.REBIND:
        await ensure_unmounted(mounter, target)
    else:
        await mounter.make_dir(target)
    await mounter.bind(source=source, target=target, readonly=readonly)
    log.info("target_bound", source=source, target=target, readonly=readonly, action=action)
    return action
