"""The Vineyard engine: the shared lifecycle plus Vineyard's rendering.

Owns what differs for VineyardRuntime: host ports for the etcd master and the vineyardd
workers on the host network, no master at all when ``master.endpoint`` names an external
etcd, and no under storage (a Vineyard Dataset has no mounts, so no metadata sync and no
UFS size; upstream reads cache usage from a metrics exporter it never deploys, so no
cache states either). It runs nothing inside runtime pods, so it has no ``ops.py``.
Everything else (apply, status, binding, PV/PVC, node labels, scale, shutdown) is
``fluid.engines.base.CacheEngine``'s. Created by the engine registry.
"""

from __future__ import annotations

from typing import ClassVar

from fluid.api import constants
from fluid.api.vineyard import VineyardRuntime, VineyardRuntimeSpec
from fluid.engines.base import (
    CacheEngine,
    EngineDeps,
    Obj,
    RenderContext,
    RuntimeKey,
    Snapshot,
    ValidationFailed,
    structure_models,
)
from fluid.engines.vineyard import manifests

__all__ = ["VineyardEngine", "factory"]


def _spec(snap: Snapshot) -> tuple[VineyardRuntime, VineyardRuntimeSpec]:
    runtime, _ = structure_models(snap, VineyardRuntime)
    return runtime, runtime.spec or VineyardRuntimeSpec()


class VineyardEngine(CacheEngine):
    """A VineyardRuntime: etcd master, vineyardd workers, socket clients."""

    runtime_type: ClassVar[constants.RuntimeType] = constants.RuntimeType.VINEYARD
    fuse_dir: ClassVar[str] = manifests.FUSE_DIR
    mount_type: ClassVar[str] = manifests.MOUNT_TYPE
    has_master: ClassVar[bool] = True

    def __init__(self, deps: EngineDeps, key: RuntimeKey, *,
                 images: manifests.Images | None = None) -> None:
        super().__init__(deps, key)
        self.images = images or deps.config.default_images(
            manifests.Images(), master="VINEYARD_MASTER_IMAGE_ENV",
            worker="VINEYARD_WORKER_IMAGE_ENV", fuse="VINEYARD_FUSE_IMAGE_ENV")
        self._external_master = False

    def validate(self, snap: Snapshot) -> None:
        _, spec = _spec(snap)
        try:
            manifests.memory_quota(spec)
        except manifests.RenderError as exc:
            raise ValidationFailed(str(exc)) from None

    def port_names(self, snap: Snapshot) -> list[str]:
        return manifests.port_names(_spec(snap)[1])

    def render(self, snap: Snapshot, ctx: RenderContext) -> list[Obj]:
        runtime, spec = _spec(snap)
        self._external_master = manifests.master_replicas(spec) == 0
        try:
            return manifests.render(manifests.RenderInput(runtime=runtime, ctx=ctx,
                                                          images=self.images))
        except (manifests.RenderError, ValueError) as exc:
            raise ValidationFailed(str(exc)) from None

    def master_ready(self) -> bool:
        """An external etcd is the user's to run: nothing to wait for."""
        return self._external_master or super().master_ready()

    async def sync_metadata(self, snap: Snapshot) -> str | None:
        """No under storage: ``ufsTotal`` and ``fileNum`` stay empty, as upstream shows."""
        return None


def factory(deps: EngineDeps, key: RuntimeKey) -> VineyardEngine:
    """The registry's entry point for VineyardRuntime."""
    return VineyardEngine(deps, key)
