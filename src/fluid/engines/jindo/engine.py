"""The Jindo engine (JindoCache): the shared lifecycle plus Jindo's names, ports and ops.

Owns what differs for JindoRuntime: object names under ``<name>-jindofs-``, the values
ConfigMap ``<name>-jindocache-values`` (upstream's engine-implementation naming), host
ports (master/worker rpc, Raft for three masters, FUSE metrics), validation of mounts,
tiers and credentials, reading which Hadoop files the ``spec.hadoopConfig`` ConfigMap
holds (each time the objects are applied; a missing ConfigMap fails setup with a message
saying so), the cache report and UFS size from the master, and refreshing cache sets
when the Dataset's mounts change. Never reads Secret values: ``spec.secret`` and the
encrypt options are mounted into the pods. Created by the engine registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from fluid.api import constants
from fluid.api.constants import MediumType
from fluid.api.dataset import Dataset
from fluid.api.jindo import JindoRuntime, JindoRuntimeSpec
from fluid.engines.base import (
    CacheEngine,
    CacheUsage,
    EngineDeps,
    HadoopConfig,
    Obj,
    RenderContext,
    RuntimeKey,
    Snapshot,
    UfsUsage,
    ValidationFailed,
    is_native,
    read_hadoop_config,
    structure_models,
)
from fluid.engines.jindo import manifests, ops

__all__ = ["JindoEngine", "factory"]


def _models(snap: Snapshot) -> tuple[JindoRuntime, Dataset]:
    return structure_models(snap, JindoRuntime)


class JindoEngine(CacheEngine):
    """A JindoRuntime served by JindoCache."""

    runtime_type: ClassVar[constants.RuntimeType] = constants.RuntimeType.JINDO
    fuse_dir: ClassVar[str] = manifests.FUSE_DIR
    mount_type: ClassVar[str] = "fuse.jindofs-fuse"
    has_master: ClassVar[bool] = True
    supports_mount_update: ClassVar[bool] = True

    def __init__(self, deps: EngineDeps, key: RuntimeKey, *,
                 images: manifests.Images | None = None) -> None:
        super().__init__(deps, key)
        self.images = images or deps.config.default_images(
            manifests.Images(), smartdata="JINDO_SMARTDATA_IMAGE_ENV", fuse="JINDO_FUSE_IMAGE_ENV")
        self._hadoop: HadoopConfig | None = None

    @property
    def master_name(self) -> str:
        return manifests.master_name(self.key.name)

    @property
    def worker_name(self) -> str:
        return manifests.worker_name(self.key.name)

    @property
    def fuse_name(self) -> str:
        return manifests.fuse_name(self.key.name)

    @property
    def values_name(self) -> str:
        return f"{self.key.name}-{manifests.ENGINE_IMPL}-values"

    def validate(self, snap: Snapshot) -> None:
        runtime, dataset = _models(snap)
        try:
            manifests.validate(runtime, dataset if snap.dataset is not None else None)
        except (manifests.RenderError, ValueError) as exc:
            raise ValidationFailed(str(exc)) from None

    async def apply_all(self, snap: Snapshot) -> RenderContext:
        """Read the Hadoop ConfigMap first: ``render`` mounts the files it holds."""
        self._hadoop = await read_hadoop_config(
            self.deps.client, self.key.namespace, snap.spec.get("hadoopConfig"))
        return await super().apply_all(snap)

    def port_names(self, snap: Snapshot) -> list[str]:
        runtime, _ = _models(snap)
        return manifests.port_names(runtime)

    def render(self, snap: Snapshot, ctx: RenderContext) -> list[Obj]:
        runtime, dataset = _models(snap)
        try:
            rendered = manifests.render(manifests.RenderInput(
                runtime=runtime, dataset=dataset, ctx=ctx, images=self.images,
                hadoop=self._hadoop))
        except (manifests.RenderError, ValueError) as exc:
            raise ValidationFailed(str(exc)) from None
        return rendered.objects()

    def _ops(self) -> ops.JindoOps:
        return ops.ExecJindoOps(self.deps.executor, namespace=self.key.namespace,
                                container=manifests.MASTER_CONTAINER,
                                timeout=self.deps.config.exec_timeout_seconds)

    @property
    def _master_pod(self) -> str:
        return f"{self.master_name}-0"

    async def cache_usage(self, snap: Snapshot) -> CacheUsage | None:
        runtime, _ = _models(snap)
        tier = manifests.tier_of(runtime.spec or JindoRuntimeSpec())
        report = await self._ops().report(self._master_pod, memory=tier.medium is MediumType.MEM)
        return CacheUsage(capacity_bytes=report.capacity_bytes, cached_bytes=report.used_bytes)

    async def ufs_usage(self, snap: Snapshot) -> UfsUsage | None:
        remote = [str(m["mountPoint"]) for m in snap.mounts if not is_native(m)]
        if not remote:
            return None
        files = total = 0
        for url in remote:
            count, size = await self._ops().ufs_count(self._master_pod, url)
            files, total = files + count, total + size
        return UfsUsage(total_bytes=total, file_count=files)

    async def update_mounts(self, snap: Snapshot, *, added: Sequence[Obj],
                            removed: Sequence[Obj]) -> None:
        """``apply_all`` rewrote cacheset.xml; tell the master to re-read it."""
        await self._ops().refresh_cachesets(self._master_pod)


def factory(deps: EngineDeps, key: RuntimeKey) -> JindoEngine:
    """The registry's entry point for JindoRuntime."""
    return JindoEngine(deps, key)
