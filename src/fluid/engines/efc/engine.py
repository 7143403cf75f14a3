"""The EFC engine: the shared lifecycle plus EFC's rendering and cache removal.

Owns what differs for EFCRuntime: the Dataset's NAS/CPFS mount point checked before
anything is created, the worker's RPC port from the shared allocator on the host network,
the ready workers' endpoints (pod IP and RPC port, from the informer cache) written into
``<name>-worker-endpoints`` on every reconcile, a master that may be ``disabled``, no UFS
size or cache report (upstream's EFC engine reports neither), and removing a host-path
cache from every ready worker before shutdown (bounded by
``cleanCachePolicy.maxRetryAttempts``, the base engine's bounded retry). Upstream's node-level
session manager (``efc-sessmgr``) is not deployed. Created by the engine registry.
"""

from __future__ import annotations

from typing import ClassVar

from fluid.api import constants
from fluid.api.constants import VolumeType
from fluid.api.dataset import Dataset
from fluid.api.efc import EFCRuntime, EFCRuntimeSpec
from fluid.engines.base import (
    LABEL_APP_COMPONENT,
    LABEL_APP_INSTANCE,
    LABEL_APP_NAME,
    CacheEngine,
    EngineDeps,
    Obj,
    RenderContext,
    RuntimeKey,
    Snapshot,
    ValidationFailed,
    pod_ready,
    structure_models,
)
from fluid.engines.efc import manifests, ops
from fluid.kube import resources

__all__ = ["EFCEngine", "factory"]


def _models(snap: Snapshot) -> tuple[EFCRuntime, Dataset]:
    return structure_models(snap, EFCRuntime)


class EFCEngine(CacheEngine):
    """An EFCRuntime: EFC master, cache workers and FUSE over one NAS file system."""

    runtime_type: ClassVar[constants.RuntimeType] = constants.RuntimeType.EFC
    fuse_dir: ClassVar[str] = manifests.FUSE_DIR
    mount_type: ClassVar[str] = manifests.MOUNT_TYPE
    has_master: ClassVar[bool] = True

    def __init__(self, deps: EngineDeps, key: RuntimeKey, *,
                 images: manifests.Images | None = None) -> None:
        super().__init__(deps, key)
        self.images = images or deps.config.default_images(
            manifests.Images(), master="EFC_MASTER_IMAGE_ENV", worker="EFC_WORKER_IMAGE_ENV",
            fuse="EFC_FUSE_IMAGE_ENV")
        self._master_disabled = False

    def validate(self, snap: Snapshot) -> None:
        runtime, dataset = _models(snap)
        try:
            manifests.mount_info(dataset)
            manifests.cache_tier(runtime)
        except manifests.RenderError as exc:
            raise ValidationFailed(str(exc)) from None

    def port_names(self, snap: Snapshot) -> list[str]:
        runtime, _ = _models(snap)
        return manifests.port_names(runtime.spec or EFCRuntimeSpec())

    def _ready_workers(self) -> list[Obj]:
        labels = {LABEL_APP_NAME: self.runtime_type.value, LABEL_APP_INSTANCE: self.key.name,
                  LABEL_APP_COMPONENT: "worker"}
        pods = self.deps.view.select(resources.PODS, self.key.namespace, labels)
        return sorted((p for p in pods if pod_ready(p)), key=lambda p: p["metadata"]["name"])

    def worker_endpoints(self, rpc_port: int) -> list[str]:
        """``ip:port`` of every ready worker, as upstream syncs them into the ConfigMap (the
        port is the one the workers were rendered with: cached pods keep no ports)."""
        ips = ((p.get("status") or {}).get("podIP") for p in self._ready_workers())
        return [f"{ip}:{rpc_port}" for ip in ips if ip]

    def render(self, snap: Snapshot, ctx: RenderContext) -> list[Obj]:
        runtime, dataset = _models(snap)
        self._master_disabled = manifests.master_replicas(runtime.spec or EFCRuntimeSpec()) == 0
        try:
            return manifests.render(manifests.RenderInput(
                runtime=runtime, dataset=dataset, ctx=ctx,
                endpoints=self.worker_endpoints(manifests.rpc_port(ctx)),
                images=self.images))
        except (manifests.RenderError, ValueError) as exc:
            raise ValidationFailed(str(exc)) from None

    def master_ready(self) -> bool:
        """A disabled master is nothing to wait for."""
        return self._master_disabled or super().master_ready()

    async def sync_metadata(self, snap: Snapshot) -> str | None:
        """Upstream's EFC engine never checks the NAS: ``ufsTotal`` stays empty."""
        return None

    async def clean_cache(self, snap: Snapshot) -> None:
        """Remove a host-path cache from every ready worker; after the allowed attempts,
        give up and let shutdown go on. An emptyDir cache goes with its pods."""
        runtime, _ = _models(snap)
        try:
            tier = manifests.cache_tier(runtime)
        except manifests.RenderError:
            return
        if tier.volume_type == VolumeType.EMPTY_DIR:
            return
        runner = ops.EFCWorkerOps(self.deps.executor, namespace=self.key.namespace,
                                  container=manifests.WORKER_CONTAINER,
                                  timeout=self.deps.config.exec_timeout_seconds)

        async def remove_everywhere() -> None:
            for pod in self._ready_workers():
                await runner.remove_cache(pod["metadata"]["name"], tier.path)
        await self.clean_within_attempts(snap, remove_everywhere)


def factory(deps: EngineDeps, key: RuntimeKey) -> EFCEngine:
    """The registry's entry point for EFCRuntime."""
    return EFCEngine(deps, key)
