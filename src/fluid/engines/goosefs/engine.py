"""The GooseFS engine: the shared lifecycle plus GooseFS's rendering and master commands.

Owns what differs for GooseFSRuntime: host ports for every component the runtime does
not pin (the REST API gateway's too), ``status.apiGateway.endpoint`` while the gateway is
enabled, mounting non-root UFS paths through the master (``goosefs fs mount``, skipped
when already mounted), UFS size and cache report from the master, and freeing the cache
before shutdown (bounded by ``cleanCachePolicy.maxRetryAttempts`` so deletion never
wedges), and reading which Hadoop files the ``spec.hadoopConfig`` ConfigMap holds (its
keys only) before rendering. Never reads Secret values: mount options from Secrets are expanded inside the
master container. Created by the engine registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from fluid.api import constants
from fluid.api.dataset import Dataset
from fluid.api.goosefs import GooseFSRuntime, GooseFSRuntimeSpec
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
    mount_path_in_namespace,
    read_hadoop_config,
    structure_models,
)
from fluid.engines.goosefs import manifests, ops

__all__ = ["GooseFSEngine", "factory"]



def _models(snap: Snapshot) -> tuple[GooseFSRuntime, Dataset]:
    return structure_models(snap, GooseFSRuntime)


class GooseFSEngine(CacheEngine):
    """A GooseFSRuntime: master + job master, workers + job workers, FUSE."""

    runtime_type: ClassVar[constants.RuntimeType] = constants.RuntimeType.GOOSEFS
    fuse_dir: ClassVar[str] = manifests.FUSE_DIR
    mount_type: ClassVar[str] = "fuse.goosefs-fuse"
    has_master: ClassVar[bool] = True
    supports_mount_update: ClassVar[bool] = True

    def __init__(self, deps: EngineDeps, key: RuntimeKey, *,
                 images: manifests.Images | None = None) -> None:
        super().__init__(deps, key)
        self.images = images or deps.config.default_images(
            manifests.Images(), runtime="GOOSEFS_RUNTIME_IMAGE_ENV", fuse="GOOSEFS_FUSE_IMAGE_ENV",
            init_users="DEFAULT_INIT_IMAGE_ENV")
        self._hadoop: HadoopConfig | None = None

    def validate(self, snap: Snapshot) -> None:
        runtime, dataset = _models(snap)
        try:
            manifests.encrypt_envs(dataset)
            manifests.port_names(runtime.spec or GooseFSRuntimeSpec())
        except (manifests.RenderError, ValueError) as exc:
            raise ValidationFailed(str(exc)) from None

    def port_names(self, snap: Snapshot) -> list[str]:
        runtime, _ = _models(snap)
        return manifests.port_names(runtime.spec or GooseFSRuntimeSpec())

    def render(self, snap: Snapshot, ctx: RenderContext) -> list[Obj]:
        runtime, dataset = _models(snap)
        try:
            rendered = manifests.render(manifests.RenderInput(
                runtime=runtime, dataset=dataset, ctx=ctx, images=self.images,
                hadoop=self._hadoop))
        except (manifests.RenderError, ValueError) as exc:
            raise ValidationFailed(str(exc)) from None
        return rendered.objects()

    async def apply_all(self, snap: Snapshot) -> RenderContext:
        """Read the ``hadoopConfig`` ConfigMap first: ``render`` mounts the files it holds."""
        self._hadoop = await read_hadoop_config(
            self.deps.client, self.key.namespace, snap.spec.get("hadoopConfig"))
        return await super().apply_all(snap)

    def component_status(self, snap: Snapshot) -> Obj:
        """The shared counts plus ``apiGateway`` (removed again when the gateway is off);
        the port is the one the objects were just applied with."""
        status = super().component_status(snap)
        runtime, _ = _models(snap)
        endpoint = manifests.api_gateway_endpoint(runtime, self.deps.ports.held_by(self.ports_owner))
        status["apiGateway"] = {"endpoint": endpoint} if endpoint else None
        return status

    # -- calls into the master ------------------------------------------------------------------

    def _ops(self) -> ops.GooseFSOps:
        return ops.ExecGooseFSOps(self.deps.executor, namespace=self.key.namespace,
                                  container="goosefs-master",
                                  timeout=self.deps.config.exec_timeout_seconds)

    @property
    def _master_pod(self) -> str:
        return f"{self.master_name}-0"

    def _mount_requests(self, snap: Snapshot, mounts: Sequence[Obj]) -> list[ops.MountRequest]:
        """Non-native mounts below the root, as ``goosefs fs mount`` requests."""
        _, dataset = _models(snap)
        models = (dataset.spec.mounts if dataset.spec else None) or []
        root = manifests.root_index(models)
        wanted = {(str(m.get("mountPoint")), mount_path_in_namespace(m)) for m in mounts}
        shared = (dataset.spec.shared_options if dataset.spec else None) or {}
        requests = []
        for index, mount in enumerate(models):
            path = mount_path_in_namespace({"name": mount.name, "path": mount.path})
            raw = {"mountPoint": mount.mount_point}
            if index == root or is_native(raw) or (mount.mount_point, path) not in wanted:
                continue
            secrets = manifests.mount_secrets(dataset, index)
            requests.append(ops.MountRequest(
                path=path, ufs=mount.mount_point, read_only=bool(mount.read_only),
                shared=bool(mount.shared), options={**shared, **(mount.options or {})},
                secret_options={s.option: s.env_name for s in secrets}))
        return requests

    async def _mount(self, snap: Snapshot, mounts: Sequence[Obj]) -> None:
        runner = self._ops()
        requests = self._mount_requests(snap, mounts)
        if not requests:
            return
        mounted = await runner.mounted(self._master_pod)
        for req in requests:
            if mounted.get(req.path) == req.ufs:
                continue
            await runner.mount(self._master_pod, req)
            self.log.info("ufs_mounted", path=req.path)

    async def prepare_ufs(self, snap: Snapshot) -> None:
        await self._mount(snap, snap.mounts)

    async def update_mounts(self, snap: Snapshot, *, added: Sequence[Obj],
                            removed: Sequence[Obj]) -> None:
        await self._mount(snap, added)
        for mount in removed:
            if is_native(mount):
                continue
            path = mount_path_in_namespace(mount)
            await self.deps.executor.exec(
                namespace=self.key.namespace, pod=self._master_pod, container="goosefs-master",
                command=["goosefs", "fs", "unmount", path],
                timeout=self.deps.config.exec_timeout_seconds)
            self.log.info("ufs_unmounted", path=path)

    async def ufs_usage(self, snap: Snapshot) -> UfsUsage | None:
        files, total = await self._ops().count(self._master_pod)
        return UfsUsage(total_bytes=total, file_count=files)

    async def cache_usage(self, snap: Snapshot) -> CacheUsage | None:
        total, used = await self._ops().summary(self._master_pod)
        return CacheUsage(capacity_bytes=total, cached_bytes=used)

    async def clean_cache(self, snap: Snapshot) -> None:
        """Free the cache; after the allowed attempts, give up and let shutdown go on."""
        if not self.master_ready():
            return
        await self.clean_within_attempts(snap, lambda: self._ops().free(self._master_pod))


def factory(deps: EngineDeps, key: RuntimeKey) -> GooseFSEngine:
    """The registry's entry point for GooseFSRuntime."""
    return GooseFSEngine(deps, key)
