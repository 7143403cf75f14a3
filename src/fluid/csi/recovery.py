"""FUSE recovery: re-bind pods' volumes after their FUSE client restarted.

When a runtime's FUSE process dies, every bind mount of its mount point keeps pointing
at the dead connection and answers "Transport endpoint is not connected", even after the
FUSE pod comes back and mounts ``fluid_path`` afresh. This loop looks at every target the
Node service published on this node (``fluid.csi.state``), and once the FUSE mount is
serving again, replaces the dead bind with a new one and records an Event on the pod.

Owns the periodic sweep and its per-target decision (``plan_recovery``, pure). Takes the
volume's lock, like the Node service, before it looks at a target. Never mounts or
unmounts ``fluid_path`` itself (that belongs to the FUSE client) and never binds a
``fluid_path`` that is not a FUSE mount again (that would publish an empty directory).
Started by ``fluid.csi.server``.
"""

from __future__ import annotations

import asyncio
import enum

import attrs
import structlog

from fluid.csi import errors, locks, mounts, state
from fluid.csi.events import PodEvents

__all__ = ["Recovery", "RecoveryAction", "plan_recovery"]

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

    async def _rebind(self, record: state.PublishedVolume, target: str) -> None:
        key = record.target_path
        try:
            source = await self.mounter.resolve(record.source)
            removed = await mounts.ensure_unmounted(self.mounter, target)
            await self.mounter.bind(source=source, target=target, readonly=record.readonly)
        except errors.CsiError as exc:
            log.error("fuse_recovery_failed", target=key, error=exc.message)
            if key not in self._failing:
                self._failing.add(key)
                await self.events.record(
                    target_path=key, reason=REASON_FAILED, warning=True,
                    message=f"Fluid could not re-bind {record.source} after its FUSE client "
                            f"restarted: {exc.message}",
                )
            return
        self._broken.discard(key)
        self._failing.discard(key)
        log.info("fuse_recovered", target=key, source=source, stale_mounts=removed)
        await self.events.record(
            target_path=key, reason=REASON_SUCCEEDED, warning=False,
            message=f"FUSE mount {record.fluid_path} came back; Fluid re-bound the volume "
                    f"at {key}",
        )
