"""The CSI Node service: stage labels the node, publish bind-mounts the FUSE path into pods.

Owns the four volume RPCs and their order of effects:

- NodeStageVolume: record the volume, label the node ``fluid.io/f-<ns>-<name>=true`` (so
  the runtime's FUSE DaemonSet starts a client here), then wait, bounded, for the FUSE
  mount at ``fluid_path`` to be ready. A dead FUSE mount left at ``fluid_path`` is
  unmounted so the new client can mount again.
- NodePublishVolume: bind-mount ``fluid_path[/fluid_sub_path]`` on the target path,
  read-only when asked; repeating it is a no-op, a stale bind of a dead FUSE is redone.
- NodeUnpublishVolume: unmount everything at the target and remove the directory.
- NodeUnstageVolume: forget the volume, and remove the node label once no other staged
  volume on this node holds the same label.

Each RPC parses the request (``fluid.csi.requests``), takes the volume's lock, plans
against the mount table and acts through ``fluid.csi.mounts``. Errors are raised as
``fluid.csi.errors``; the interceptor turns them into status codes. Never talks to the
API server except through the injected ``NodeLabeler``.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import attrs
import structlog

from fluid.csi import errors, locks, mounts, requests, state
from fluid.csi.labels import NodeLabeler
from fluid.csi.proto import csi_pb2, csi_pb2_grpc

__all__ = ["FuseReadiness", "NodeDeps", "NodeServicer", "NodeSettings", "check_fuse"]

log = structlog.get_logger(__name__)

_DEADLINE_MARGIN = 1.0
"""Seconds kept from the caller's deadline to answer with a useful error instead of
letting the kubelet see a bare DEADLINE_EXCEEDED."""


@attrs.frozen
class NodeSettings:
    """Per-node facts and bounds of the Node service.

    ``stage_timeout`` (s, 60): how long NodeStage waits for the FUSE client to mount; the
    kubelet's own call deadline is 2 minutes and it retries, so a pod never waits on us
    alone. ``publish_timeout`` (s, 30): the same wait in NodePublish, which normally finds
    the mount ready. ``poll_interval`` (s, 0.5): how often the wait looks again.
    """

    node_id: str
    stage_timeout: float = 60.0
    publish_timeout: float = 30.0
    poll_interval: float = 0.5
    max_volumes_per_node: int = 0


@attrs.frozen
class NodeDeps:
    """The collaborators the Node service acts through."""

    mounter: mounts.Mounter
    labeler: NodeLabeler
    state: state.StateStore
    locks: locks.KeyedLock


class FuseReadiness(enum.StrEnum):
    READY = "ready"
    NOT_MOUNTED = "not mounted"
    BROKEN = "broken (FUSE client gone: transport endpoint is not connected)"
    HUNG = "not answering"
    SUB_PATH_MISSING = "mounted, but the sub path does not exist"


async def check_fuse(mounter: mounts.Mounter, volume: requests.VolumeSpec) -> FuseReadiness:
    """Whether the FUSE client serves ``volume.fluid_path`` (and its sub path) right now."""
    path_state = await mounter.probe(volume.fluid_path)
    if path_state is mounts.PathState.BROKEN:
        return FuseReadiness.BROKEN
    if path_state is mounts.PathState.HUNG:
        return FuseReadiness.HUNG
    if path_state is mounts.PathState.MISSING:
        return FuseReadiness.NOT_MOUNTED
    if volume.require_mount_point:
        table = await mounter.table()
        if not table.is_mount_point(volume.fluid_path):
            return FuseReadiness.NOT_MOUNTED
    if volume.sub_path and await mounter.probe(volume.source) is not mounts.PathState.OK:
        return FuseReadiness.SUB_PATH_MISSING
    return FuseReadiness.READY


def _budget(context: Any, configured: float) -> float:
    remaining = context.time_remaining() if context is not None else None
    if remaining is None:
        return configured
    return max(0.0, min(configured, float(remaining) - _DEADLINE_MARGIN))


class NodeServicer(csi_pb2_grpc.NodeServicer):
    def __init__(self, deps: NodeDeps, settings: NodeSettings) -> None:
        self._deps = deps
        self._settings = settings
        # Serialises label changes per label key across volumes of the same dataset.
        self._label_locks = locks.KeyedLock()

    # -- info ------------------------------------------------------------------------------

    async def NodeGetInfo(
        self, request: csi_pb2.NodeGetInfoRequest, context: Any
    ) -> csi_pb2.NodeGetInfoResponse:
        return csi_pb2.NodeGetInfoResponse(
            node_id=self._settings.node_id,
            max_volumes_per_node=self._settings.max_volumes_per_node,
        )

    async def NodeGetCapabilities(
        self, request: csi_pb2.NodeGetCapabilitiesRequest, context: Any
    ) -> csi_pb2.NodeGetCapabilitiesResponse:
        rpc = csi_pb2.NodeServiceCapability.RPC(
            type=csi_pb2.NodeServiceCapability.RPC.STAGE_UNSTAGE_VOLUME
        )
        return csi_pb2.NodeGetCapabilitiesResponse(
            capabilities=[csi_pb2.NodeServiceCapability(rpc=rpc)]
        )

    # -- stage / unstage ---------------------------------------------------------------------

    async def NodeStageVolume(
        self, request: csi_pb2.NodeStageVolumeRequest, context: Any
    ) -> csi_pb2.NodeStageVolumeResponse:
        req = requests.parse_stage(request)
        async with self._deps.locks.hold(req.volume_id):
            await self._stage(req, _budget(context, self._settings.stage_timeout))
        return csi_pb2.NodeStageVolumeResponse()

    async def _stage(self, req: requests.StageRequest, budget: float) -> None:
        volume = req.volume
        record = state.StagedVolume(
            volume_id=req.volume_id, staging_target_path=req.staging_target_path,
            label_key=volume.label_key, dataset_namespace=volume.dataset_namespace,
            dataset_name=volume.dataset_name, fluid_path=volume.fluid_path,
        )
        async with self._label_locks.hold(volume.label_key):
            self._deps.state.put_staged(record)
            await self._deps.labeler.add(self._settings.node_id, volume.label_key)
        await self._wait_for_fuse(volume, budget=budget, clean_broken=True)
        log.info("volume_staged", volume_id=req.volume_id, label=volume.label_key,
                 fluid_path=volume.fluid_path)

    async def NodeUnstageVolume(
        self, request: csi_pb2.NodeUnstageVolumeRequest, context: Any
    ) -> csi_pb2.NodeUnstageVolumeResponse:
        req = requests.parse_unstage(request)
        async with self._deps.locks.hold(req.volume_id):
            await self._unstage(req)
        return csi_pb2.NodeUnstageVolumeResponse()

    async def _unstage(self, req: requests.UnstageRequest) -> None:
        record = self._deps.state.get_staged(req.volume_id)
        if record is None:
            log.info("volume_not_staged", volume_id=req.volume_id)
            return
        await self._refuse_if_published(req.volume_id)
        async with self._label_locks.hold(record.label_key):
            holders = [
                s.volume_id for s in self._deps.state.staged()
                if s.label_key == record.label_key and s.volume_id != req.volume_id
            ]
            if holders:
                log.info("node_label_kept", label=record.label_key, staged_by=holders)
            else:
                await self._deps.labeler.remove(self._settings.node_id, record.label_key)
            self._deps.state.drop_staged(req.volume_id)
        log.info("volume_unstaged", volume_id=req.volume_id)

    async def _refuse_if_published(self, volume_id: str) -> None:
        table = await self._deps.mounter.table()
        mounted = []
        for record in self._deps.state.published():
            if record.volume_id != volume_id:
                continue
            target = await self._deps.mounter.resolve(record.target_path)
            if table.is_mount_point(target):
                mounted.append(record.target_path)
            else:
                self._deps.state.drop_published(record.target_path)
        if mounted:
            raise errors.FailedPrecondition(
                f"volume {volume_id} is still published at {', '.join(mounted)}"
            )

    # -- publish / unpublish -----------------------------------------------------------------

    async def NodePublishVolume(
        self, request: csi_pb2.NodePublishVolumeRequest, context: Any
    ) -> csi_pb2.NodePublishVolumeResponse:
        req = requests.parse_publish(request)
        async with self._deps.locks.hold(req.volume_id):
            await self._publish(req, _budget(context, self._settings.publish_timeout))
        return csi_pb2.NodePublishVolumeResponse()

    async def _publish(self, req: requests.PublishRequest, budget: float) -> None:
        await self._wait_for_fuse(req.volume, budget=budget, clean_broken=False)
        mounter = self._deps.mounter
        source = await mounter.resolve(req.volume.source)
        target = await mounter.resolve(req.target_path)
        action = await mounts.ensure_bound(
            mounter, source=source, target=target, readonly=req.readonly
        )
        self._deps.state.put_published(
            state.PublishedVolume(
                volume_id=req.volume_id, target_path=req.target_path, source=req.volume.source,
                fluid_path=req.volume.fluid_path, readonly=req.readonly,
                require_mount_point=req.volume.require_mount_point,
                dataset_namespace=req.volume.dataset_namespace,
                dataset_name=req.volume.dataset_name,
            )
        )
        log.info("volume_published", volume_id=req.volume_id, target=req.target_path,
                 source=source, readonly=req.readonly, action=action)

    async def NodeUnpublishVolume(
        self, request: csi_pb2.NodeUnpublishVolumeRequest, context: Any
    ) -> csi_pb2.NodeUnpublishVolumeResponse:
        req = requests.parse_unpublish(request)
        async with self._deps.locks.hold(req.volume_id):
            mounter = self._deps.mounter
            target = await mounter.resolve(req.target_path)
            removed = await mounts.ensure_unmounted(mounter, target)
            existed = await mounter.remove_dir(target)
            self._deps.state.drop_published(req.target_path)
        log.info("volume_unpublished", volume_id=req.volume_id, target=req.target_path,
                 unmounted=removed, removed_dir=existed)
        return csi_pb2.NodeUnpublishVolumeResponse()

    # -- waiting for the FUSE client ---------------------------------------------------------

    async def _wait_for_fuse(
        self, volume: requests.VolumeSpec, *, budget: float, clean_broken: bool
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        cleaned = False
        while True:
            readiness = await check_fuse(self._deps.mounter, volume)
            if readiness is FuseReadiness.READY:
                return
            if readiness is FuseReadiness.BROKEN and clean_broken and not cleaned:
                # The old client died and left its mount; clear it so a new one can mount.
                await mounts.ensure_unmounted(self._deps.mounter, volume.fluid_path)
                log.info("dead_fuse_mount_cleared", fluid_path=volume.fluid_path)
                cleaned = True
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise errors.Unavailable(
                    f"FUSE mount of {volume.dataset_namespace}/{volume.dataset_name} at "
                    f"{volume.fluid_path} is {readiness.value} after {budget:g}s; the "
                    f"runtime's FUSE pod on this node may still be starting"
                )
            await asyncio.sleep(min(self._settings.poll_interval, remaining))
