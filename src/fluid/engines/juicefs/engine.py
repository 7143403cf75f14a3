"""The JuiceFS engine: the shared cache-runtime lifecycle plus JuiceFS's rendering and ops.

Owns what differs for JuiceFS: no master, host ports only for the community edition's
metrics endpoints in host network, validation of the Dataset's JuiceFS mount, UFS size
and file count from a ready worker, and cache states from the workers' ``.stats``.
Everything else (apply, status, binding, PV/PVC, node labels, shutdown) is
``fluid.engines.base.CacheEngine``'s. Never reads Secret values: credentials stay
``secretKeyRef``s from the Dataset to the pods. Created by the engine registry.
"""

from __future__ import annotations

from typing import ClassVar

import structlog

from fluid.api import constants
from fluid.api.dataset import Dataset
from fluid.api.juicefs import JuiceFSRuntime, JuiceFSRuntimeSpec
from fluid.engines import base, settings_env
from fluid.engines.base import (
    CacheEngine,
    CacheUsage,
    EngineConfig,
    EngineDeps,
    Obj,
    RenderContext,
    RuntimeKey,
    Snapshot,
    UfsUsage,
    ValidationFailed,
    structure_models,
)
from fluid.engines.juicefs import manifests, ops
from fluid.kube import resources

__all__ = ["JuiceFSEngine", "factory", "images_from"]

log = structlog.get_logger(__name__)

_CACHED_BYTES = {manifests.Edition.COMMUNITY: "juicefs_blockcache_bytes",
                 manifests.Edition.ENTERPRISE: "blockcache.bytes"}
_HITS = {manifests.Edition.COMMUNITY: ("juicefs_blockcache_hits", "juicefs_blockcache_miss"),
         manifests.Edition.ENTERPRISE: ("blockcache.hits", "blockcache.miss")}


def images_from(config: EngineConfig) -> manifests.Images:
    """Default images, the operator's ``JUICEFS_CE_IMAGE_ENV`` / ``JUICEFS_EE_IMAGE_ENV`` first."""
    return config.default_images(manifests.Images(), community=settings_env.JUICEFS_CE_IMAGE,
                                 enterprise=settings_env.JUICEFS_EE_IMAGE)


def _models(snap: Snapshot) -> tuple[JuiceFSRuntime, Dataset]:
    return structure_models(snap, JuiceFSRuntime)


class JuiceFSEngine(CacheEngine):
    """A JuiceFSRuntime: cache workers and FUSE clients, community or enterprise."""

    runtime_type: ClassVar[constants.RuntimeType] = constants.RuntimeType.JUICEFS
    fuse_dir: ClassVar[str] = manifests.FUSE_DIR
    mount_type: ClassVar[str] = "JuiceFS"
    has_master: ClassVar[bool] = False

    def __init__(self, deps: EngineDeps, key: RuntimeKey, *,
                 images: manifests.Images | None = None) -> None:
        super().__init__(deps, key)
        self.images = images or images_from(deps.config)

    # -- decisions ---------------------------------------------------------------------------

    def validate(self, snap: Snapshot) -> None:
        if snap.dataset is None:
            return
        _, dataset = _models(snap)
        try:
            config = manifests.parse_config(dataset)
            manifests.quota_command(config)
        except manifests.RenderError as exc:
            raise ValidationFailed(str(exc)) from None
        if len(snap.mounts) > 1:
            raise ValidationFailed("a JuiceFS Dataset has exactly one juicefs:/// mount")

    def port_names(self, snap: Snapshot) -> list[str]:
        """Metrics ports of the community edition's host-network components."""
        if snap.dataset is None:
            return []
        runtime, dataset = _models(snap)
        if manifests.edition_of(dataset) is not manifests.Edition.COMMUNITY:
            return []
        worker_host, fuse_host = manifests.host_network_components(runtime)
        return ([manifests.PORT_WORKER_METRICS] if worker_host else []) + (
            [manifests.PORT_FUSE_METRICS] if fuse_host else [])

    def render(self, snap: Snapshot, ctx: RenderContext) -> list[Obj]:
        runtime, dataset = _models(snap)
        try:
            rendered = manifests.render(manifests.RenderInput(
                runtime=runtime, dataset=dataset, ctx=ctx, images=self.images))
        except manifests.RenderError as exc:
            raise ValidationFailed(str(exc)) from None
        return rendered.objects()

    # -- calls into the runtime ---------------------------------------------------------------

    def _ops(self) -> ops.JuiceFSOps:
        return ops.ExecJuiceFSOps(self.deps.executor, namespace=self.key.namespace,
                                  container=manifests.WORKER_CONTAINER,
                                  timeout=self.deps.config.exec_timeout_seconds)

    def ready_worker_pods(self) -> list[str]:
        pods = self.deps.view.select(resources.PODS, self.key.namespace, {
            base.LABEL_APP_NAME: self.runtime_type.value,
            base.LABEL_APP_INSTANCE: self.key.name,
            base.LABEL_APP_COMPONENT: "worker",
        })
        return sorted(p["metadata"]["name"] for p in pods if base.pod_ready(p))

    async def ufs_usage(self, snap: Snapshot) -> UfsUsage | None:
        pods = self.ready_worker_pods()
        if not pods:
            return None
        runner, path = self._ops(), self.fluid_path()
        used = await runner.used_bytes(pods[0], path)
        files = await runner.file_count(pods[0], path)
        return UfsUsage(total_bytes=used, file_count=files)

    async def cache_usage(self, snap: Snapshot) -> CacheUsage | None:
        pods = self.ready_worker_pods()
        if not pods or snap.dataset is None:
            return None
        runtime, dataset = _models(snap)
        edition = manifests.edition_of(dataset)
        runner, path = self._ops(), self.fluid_path()
        cached = hits = misses = 0.0
        for pod in pods:
            stats = await runner.stats(pod, path)
            cached += stats.get(_CACHED_BYTES[edition], 0.0)
            hits += stats.get(_HITS[edition][0], 0.0)
            misses += stats.get(_HITS[edition][1], 0.0)
        per_worker = manifests.cache_capacity_bytes(runtime.spec or JuiceFSRuntimeSpec())
        capacity = int(per_worker or 0) * len(pods)
        ratio = f"{hits * 100 / (hits + misses):.1f}%" if hits + misses else None
        return CacheUsage(capacity_bytes=capacity, cached_bytes=int(cached), hit_ratio=ratio)


def factory(deps: EngineDeps, key: RuntimeKey) -> JuiceFSEngine:
    """The registry's entry point for JuiceFSRuntime."""
    return JuiceFSEngine(deps, key)
