"""FUSE recovery: re-bind pods' volumes after their FUSE client restarted.

When a runtime's FUSE process dies, every bind mount of its mount point keeps pointing
at the dead connection and answers "Transport endpoint is not connected", even after the
FUSE pod comes back and mounts ``fluid_path`` afresh. This loop looks at every target the
Node service published on this node (``fluid.csi.state``), and once the FUSE mount is
serving again, replaces the dead bind with a new one and records an Event on the pod and
on its Dataset (named by the volume context, kept in the published or staged record).
The kubelet's ``subPath`` binds of the volume (``pods/<uid>/volume-subpaths/<pv>/...``)
break the same way and are re-bound from the same place inside ``fluid_path``.

Owns the periodic sweep and its per-target decision (``plan_recovery``, pure). Takes the
volume's lock, like the Node service, before it looks at a target. Never mounts or
unmounts ``fluid_path`` itself (that belongs to the FUSE client) and never binds a
``fluid_path`` that is not a FUSE mount again (that would publish an empty directory).
Started by ``fluid.csi.server``.
"""

from __future__ import annotations

import asyncio
import enum
import posixpath
import re

import attrs
import structlog

from fluid.csi import errors, locks, mounts, state
from fluid.csi.events import DatasetRef, PodEvents

__all__ = ["Recovery", "RecoveryAction", "plan_recovery", "subpath_dir", "subpath_source"]

log = structlog.get_logger(__name__)

REASON_SUCCEEDED = "FuseRecoverSucceed"
REASON_FAILED = "FuseRecoverFailed"


class RecoveryAction(enum.StrEnum):
    SKIP = "skip"
    """The target is not mounted (any more): nothing of ours to repair."""
    HEALTHY = "healthy"
    WAIT = "wait"
    """The target is broken and the FUSE client is not back yet."""
    REBIND = "rebind"


def plan_recovery(
    *, target_mounted: bool, target_state: mounts.PathState, source_ready: bool
) -> RecoveryAction:
    if not target_mounted:
        return RecoveryAction.SKIP
    if target_state not in (mounts.PathState.BROKEN, mounts.PathState.HUNG):
        return RecoveryAction.HEALTHY
    return RecoveryAction.REBIND if source_ready else RecoveryAction.WAIT


_CSI_TARGET = re.compile(r"^(?P<pod>.*/pods/[^/]+)/volumes/kubernetes\.io~csi/(?P<pv>[^/]+)/mount$")


def subpath_dir(target_path: str) -> str | None:
    """Where the kubelet bind-mounts containers' ``subPath`` views of this target's volume."""
    match = _CSI_TARGET.match(target_path)
    if match is None:
        return None
    return f"{match['pod']}/volume-subpaths/{match['pv']}"


def subpath_source(*, fluid_path: str, fluid_root: str, entry_root: str) -> str | None:
    """The path under ``fluid_path`` that a subPath mount with ``entry_root`` showed.

    ``entry_root`` is the mount's root inside the FUSE filesystem and ``fluid_root`` the
    root ``fluid_path`` shows of it (usually ``/``); None when it lies outside.
    """
    relative = posixpath.relpath(entry_root, fluid_root)
    if relative == ".." or relative.startswith("../"):
        return None
    return posixpath.normpath(posixpath.join(fluid_path, relative))


@attrs.define
class Recovery:
    """The sweep over published targets; ``period`` (s, default 5) is the pause between sweeps,
    short because a pod reading a broken mount sees errors until the sweep runs."""

    mounter: mounts.Mounter
    store: state.StateStore
    locks: locks.KeyedLock
    events: PodEvents
    period: float = 5.0
    _broken: set[str] = attrs.field(factory=set, init=False)
    _failing: set[str] = attrs.field(factory=set, init=False)

    async def run(self) -> None:
        log.info("fuse_recovery_started", period_s=self.period)
        while True:
            await self.sweep()
            await asyncio.sleep(self.period)

    async def sweep(self) -> dict[str, RecoveryAction]:
        """One pass over every published target; returns what was decided for each."""
        outcome: dict[str, RecoveryAction] = {}
        for record in self.store.published():
            try:
                outcome[record.target_path] = await self._check(record)
            except errors.CsiError as exc:
                log.warning("fuse_recovery_check_failed", target=record.target_path,
                            error=exc.message)
        return outcome

    async def _check(self, record: state.PublishedVolume) -> RecoveryAction:
        async with self.locks.hold(record.volume_id):
            current = self.store.get_published(record.target_path)
            if current is None:  # unpublished while we waited for the lock
                return RecoveryAction.SKIP
            target = await self.mounter.resolve(current.target_path)
            table = await self.mounter.table()
            action = plan_recovery(
                target_mounted=table.is_mount_point(target),
                target_state=await self.mounter.probe(target),
                source_ready=await self._source_ready(current, table),
            )
            await self._act(current, target, action)
            if action is not RecoveryAction.SKIP:
                await self._repair_subpaths(current, target)
            return action

    async def _source_ready(self, record: state.PublishedVolume, table: mounts.MountTable) -> bool:
        fluid_path = await self.mounter.resolve(record.fluid_path)
        if record.require_mount_point and not table.is_mount_point(fluid_path):
            return False
        return await self.mounter.probe(record.source) is mounts.PathState.OK

    async def _act(
        self, record: state.PublishedVolume, target: str, action: RecoveryAction
    ) -> None:
        key = record.target_path
        if action in (RecoveryAction.SKIP, RecoveryAction.HEALTHY):
            self._broken.discard(key)
            return
        if key not in self._broken:
            self._broken.add(key)
            log.warning("published_target_broken", target=key, fluid_path=record.fluid_path)
        if action is RecoveryAction.REBIND:
            await self._rebind(record, target)

    async def _repair_subpaths(self, record: state.PublishedVolume, target: str) -> None:
        """Re-bind the kubelet's subPath mounts of this volume that still show the dead FUSE."""
        directory = subpath_dir(target)
        table = await self.mounter.table()
        fluid_path = await self.mounter.resolve(record.fluid_path)
        fluid_origin = table.origin(fluid_path)
        if directory is None or fluid_origin is None:
            return
        if not await self._source_ready(record, table):
            return
        for entry in table.under(directory):
            if entry.dev == fluid_origin.dev:
                continue  # already on the live FUSE connection
            if await self.mounter.probe(entry.mount_point) not in (
                mounts.PathState.BROKEN, mounts.PathState.HUNG
            ):
                continue
            source = subpath_source(
                fluid_path=fluid_path, fluid_root=fluid_origin.root, entry_root=entry.root
            )
            if source is not None:
                await self._rebind_path(
                    record, path=entry.mount_point, source=source, readonly=entry.read_only
                )

    async def _rebind(self, record: state.PublishedVolume, target: str) -> None:
        source = await self.mounter.resolve(record.source)
        await self._rebind_path(record, path=target, source=source, readonly=record.readonly)

    async def _rebind_path(
        self, record: state.PublishedVolume, *, path: str, source: str, readonly: bool
    ) -> None:
        try:
            removed = await mounts.ensure_unmounted(self.mounter, path)
            await self.mounter.bind(source=source, target=path, readonly=readonly)
        except errors.CsiError as exc:
            log.error("fuse_recovery_failed", target=path, error=exc.message)
            if path not in self._failing:
                self._failing.add(path)
                await self.events.record(
                    target_path=path, reason=REASON_FAILED, warning=True,
                    dataset=self._dataset_of(record),
                    message=f"Fluid could not re-bind {source} at {path} after its FUSE "
                            f"client restarted: {exc.message}",
                )
            return
        self._broken.discard(record.target_path)
        self._failing.discard(path)
        log.info("fuse_recovered", target=path, source=source, stale_mounts=removed)
        await self.events.record(
            target_path=path, reason=REASON_SUCCEEDED, warning=False,
            dataset=self._dataset_of(record),
            message=f"FUSE mount {record.fluid_path} came back; Fluid re-bound {source} "
                    f"at {path}",
        )

    def _dataset_of(self, record: state.PublishedVolume) -> DatasetRef | None:
        """The Dataset the publish recorded, else the one its volume was staged for."""
        if record.dataset_namespace and record.dataset_name:
            return DatasetRef(record.dataset_namespace, record.dataset_name)
        staged = self.store.get_staged(record.volume_id)
        if staged is not None and staged.dataset_namespace and staged.dataset_name:
            return DatasetRef(staged.dataset_namespace, staged.dataset_name)
        return None
