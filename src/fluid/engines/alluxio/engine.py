"""The Alluxio engine: the AlluxioRuntime lifecycle on top of ``fluid.engines.base.CacheEngine``.

Owns what is particular to Alluxio: reading the spec into ``AlluxioRuntimeSpec``, which
host ports it needs, rendering (``manifests``), mounting ``http(s)://``, ``s3://``,
``oss://`` and other non-native UFS through the master (``ops``; ``local://`` and
``pvc://`` are pod volumes and never mounted that way), the UFS size and file count, the
cache capacity and usage from ``fsadmin report summary``, the hit and throughput ratios
from ``fsadmin report metrics`` (``cachehit``), mounts added or removed at run time, and
freeing the cache at shutdown.

It also reads the ``hadoopConfig`` ConfigMap's keys before rendering (the files are
mounted, never read), refuses what rendering would meet (a worker memory limit below the
MEM tier, a ``volumeMount`` naming no volume, an ``encryptOption`` without its Secret key)
and reports ``status.apiGateway`` while the REST gateway is enabled.

Several masters (``master.replicas`` 3, 5...) run the embedded journal: the master is
ready when every one of them is (upstream's rule for a ready runtime), an even count is
refused, and commands go to the first Ready master pod (the Alluxio CLI reaches the
primary from there). Never talks to Alluxio except through ``ops.AlluxioOps``. Built by
the runtime controller through ``fluid.engines.registry``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping, Sequence
from typing import Any

from fluid.api import constants as c
from fluid.api.alluxio import AlluxioRuntimeSpec
from fluid.api.converter import StructureError, structure
from fluid.api.dataset import Dataset
from fluid.engines import base
from fluid.engines.alluxio import cachehit, manifests
from fluid.engines.alluxio import ops as ops_module
from fluid.engines.alluxio.ops import AlluxioOps, ExecAlluxioOps
from fluid.kube import resources

__all__ = ["AlluxioEngine"]

_DEFAULT_CLEAN_RETRIES = 3
_DEFAULT_CLEAN_GRACE = 60


class AlluxioEngine(base.CacheEngine):
    """One AlluxioRuntime; ``ops`` may be injected (tests pass one over a RecordingExecutor).

    ``hit_ratio_window`` is the least number of seconds between two samples of the read
    metrics (upstream's minute; tests shorten it).
    """

    runtime_type = c.RuntimeType.ALLUXIO
    fuse_dir = "alluxio-fuse"
    mount_type = "fuse.alluxio-fuse"
    has_master = True
    supports_mount_update = True

    def __init__(
        self, deps: base.EngineDeps, key: base.RuntimeKey, *, ops: AlluxioOps | None = None,
        hit_ratio_window: float = cachehit.WINDOW_SECONDS,
    ) -> None:
        super().__init__(deps, key)
        self.ops: AlluxioOps = ops or ExecAlluxioOps(
            deps.executor, namespace=key.namespace, name=key.name,
            timeout=deps.config.exec_timeout_seconds, pod=self.exec_pod,
        )
        self._clean_attempts = 0
        self._hits = cachehit.HitRatioWindow(window_seconds=hit_ratio_window)
        self._hadoop: base.HadoopConfig | None = None

    # -- spec --------------------------------------------------------------------------------

    def spec(self, snap: base.Snapshot) -> AlluxioRuntimeSpec:
        try:
            spec = self.deps.config.spec_with_images(  # operator defaults where the spec has none
                snap.spec, alluxioVersion="ALLUXIO_RUNTIME_IMAGE_ENV", fuse="ALLUXIO_FUSE_IMAGE_ENV",
                initUsers="DEFAULT_INIT_IMAGE_ENV")
            return structure(spec, AlluxioRuntimeSpec, path="spec")
        except StructureError as exc:
            raise base.ValidationFailed(str(exc)) from exc

    def dataset(self, snap: base.Snapshot) -> Dataset:
        """The Dataset's spec as a model (its status is not this engine's to read)."""
        try:
            return structure({"spec": snap.dataset_spec}, Dataset, path="dataset")
        except StructureError as exc:
            raise base.ValidationFailed(str(exc)) from exc

    def validate(self, snap: base.Snapshot) -> None:
        spec = self.spec(snap)
        masters = manifests.master_replicas(spec)
        if masters > 1 and masters % 2 == 0:
            raise base.ValidationFailed(
                f"spec.master.replicas: {masters} masters cannot keep a journal quorum when "
                f"one fails; use an odd number such as {masters - 1} or {masters + 1}"
            )
        for tier in manifests.tiers(spec):
            if not any(tier.quotas):
                raise base.ValidationFailed(
                    f"spec.tieredstore: the {tier.alias} level needs a quota or quotaList"
                )
        manifests.check(spec, self.dataset(snap))

    def port_names(self, snap: base.Snapshot) -> list[str]:
        return manifests.port_names(self.spec(snap))

    async def apply_all(self, snap: base.Snapshot) -> base.RenderContext:
        """Read the ``hadoopConfig`` ConfigMap first: ``render`` mounts the files it holds."""
        self._hadoop = await base.read_hadoop_config(
            self.deps.client, self.key.namespace, snap.spec.get("hadoopConfig"))
        return await super().apply_all(snap)

    def render(self, snap: base.Snapshot, ctx: base.RenderContext) -> list[base.Obj]:
        return manifests.render(manifests.RenderInput(
            spec=self.spec(snap), ctx=ctx, dataset=self.dataset(snap),
            fluid_path=self.fluid_path(), restore=self._restore(snap), hadoop=self._hadoop,
            fuse_host_pid=base.fuse_host_pid(snap.runtime.get("metadata", {}).get("annotations")),
        ))

    def component_status(self, snap: base.Snapshot) -> base.Obj:
        """The shared counts plus ``apiGateway`` (removed again when the gateway is off),
        with the port the objects were applied with."""
        status = super().component_status(snap)
        spec = self.spec(snap)
        status["apiGateway"] = None
        if manifests.api_gateway_enabled(spec):
            endpoint = manifests.api_gateway_endpoint(
                spec, key=self.key, allocated=self.deps.ports.held_by(self.ports_owner))
            status["apiGateway"] = {"endpoint": endpoint}
        return status

    def _restore(self, snap: base.Snapshot) -> manifests.RestoreSource | None:
        return manifests.restore_source(
            snap.dataset_spec, name=self.key.name, namespace=self.key.namespace
        )

    def hcfs(self, snap: base.Snapshot, ctx: base.RenderContext) -> base.Obj | None:
        port = manifests.resolved_ports(self.spec(snap), ctx.ports)["master-rpc"]
        version = (snap.spec.get("alluxioVersion") or {}).get("imageTag") or manifests.DEFAULT_TAG
        return {
            "endpoint": f"alluxio://{self.key.name}-master-0.{self.key.namespace}:{port}",
            "underlayerFileSystemVersion": str(version),
        }

    # -- masters -----------------------------------------------------------------------------

    def _master_counts(self) -> tuple[int, int]:
        """(desired, ready) masters from the master StatefulSet in the cache."""
        desired, _, ready = self._statefulset_counts(self.master_name)
        return desired, ready

    def master_ready(self) -> bool:
        """Every master the StatefulSet wants is ready (upstream's rule for a ready runtime)."""
        desired, ready = self._master_counts()
        return ready >= max(desired, 1)

    def exec_pod(self) -> str:
        """The master pod commands run in: the first Ready one by ordinal, else master-0."""
        desired, _ = self._master_counts()
        for index in range(desired):
            name = f"{self.master_name}-{index}"
            pod = self.deps.view.get(resources.PODS, self.key.namespace, name)
            if pod is not None and base.pod_ready(pod):
                return name
        return f"{self.master_name}-0"

    # -- UFS ---------------------------------------------------------------------------------

    def _ops_mounts(self, mounts: Sequence[base.Obj]) -> list[base.Obj]:
        """Mounts that go through ``alluxio fs mount``: non-native and not the root UFS."""
        _, root_mount = manifests.root_ufs(mounts)
        return [m for m in mounts if not base.is_native(m) and m is not root_mount]

    async def _secret_value(self, ref: Mapping[str, Any]) -> str:
        secret = await self.deps.client.get(resources.SECRETS, str(ref["name"]), self.key.namespace)
        raw = (secret.get("data") or {}).get(str(ref.get("key") or ""))
        if raw is None:
            raise base.ValidationFailed(
                f"secret {self.key.namespace}/{ref['name']} has no key {ref.get('key')!r}"
            )
        return base64.b64decode(raw).decode()

    async def _options(self, snap: base.Snapshot, mount: Mapping[str, Any]) -> dict[str, str]:
        """sharedOptions, then the mount's options, then encrypt options read from Secrets."""
        options = {**(snap.dataset_spec.get("sharedOptions") or {}), **(mount.get("options") or {})}
        encrypted = [*(snap.dataset_spec.get("sharedEncryptOptions") or []),
                     *(mount.get("encryptOptions") or [])]
        for item in encrypted:
            ref = ((item.get("valueFrom") or {}).get("secretKeyRef")) or {}
            if ref.get("name"):
                options[str(item["name"])] = await self._secret_value(ref)
        return {k: str(v) for k, v in options.items()}

    async def _mount(self, snap: base.Snapshot, mount: Mapping[str, Any]) -> None:
        path = base.mount_path_in_namespace(mount)
        await self.ops.mount(
            path, str(mount["mountPoint"]), options=await self._options(snap, mount),
            read_only=bool(mount.get("readOnly")), shared=bool(mount.get("shared")),
        )
        self.log.info("ufs_mounted", path=path, scheme=str(mount["mountPoint"]).split("://")[0])

    async def prepare_ufs(self, snap: base.Snapshot) -> None:
        wanted = self._ops_mounts(snap.mounts)
        if not wanted:
            return
        mounted = set(await self.ops.mounted_paths())
        for mount in wanted:
            if base.mount_path_in_namespace(mount) not in mounted:
                await self._mount(snap, mount)

    async def update_mounts(
        self, snap: base.Snapshot, *, added: Sequence[base.Obj], removed: Sequence[base.Obj]
    ) -> None:
        mounted = set(await self.ops.mounted_paths())
        for mount in self._ops_mounts(removed):
            path = base.mount_path_in_namespace(mount)
            if path in mounted:
                await self.ops.unmount(path)
                self.log.info("ufs_unmounted", path=path)
        for mount in self._ops_mounts(added):
            if base.mount_path_in_namespace(mount) not in mounted:
                await self._mount(snap, mount)

    async def ufs_usage(self, snap: base.Snapshot) -> base.UfsUsage | None:
        restore = self._restore(snap)
        if restore is not None:
            # Restored from a DataBackup: its statistics stand in for a scan of the UFS.
            text = await self.ops.read_file(restore.info_file)
            try:
                total, files = ops_module.parse_backup_info(text)
            except ValueError as exc:
                raise base.CommandFailed(["cat", restore.info_file], None, str(exc)) from exc
            self.log.info("metadata_restored", source=restore.info_file, files=files)
            return base.UfsUsage(total_bytes=total, file_count=files)
        await self.ops.load_metadata("/")
        counted = await self.ops.count("/")
        return base.UfsUsage(total_bytes=counted.total_bytes, file_count=counted.files)

    async def cache_usage(self, snap: base.Snapshot) -> base.CacheUsage | None:
        report = await self.ops.report_summary()
        return base.CacheUsage(capacity_bytes=report.capacity_bytes, cached_bytes=report.used_bytes,
                               ratios=dict(await self._hit_ratios()))

    async def _hit_ratios(self) -> Mapping[str, str]:
        """The latest ratios; a new sample of the read metrics once the window has passed."""
        now = time.monotonic()
        if not self._hits.due(now):
            return self._hits.current
        try:
            sample = await self.ops.report_metrics()
        except base.CommandFailed as exc:  # reported again next time; capacity still goes out
            self.log.warning("cache_metrics_failed", error=str(exc))
            return self._hits.current
        return self._hits.record(sample, now)

    # -- shutdown ----------------------------------------------------------------------------

    def _clean_policy(self, snap: base.Snapshot) -> tuple[int, int]:
        policy = (snap.spec.get("management") or {}).get("cleanCachePolicy") or {}
        retries = policy.get("maxRetryAttempts")
        grace = policy.get("gracePeriodSeconds")
        return (int(retries) if retries is not None else _DEFAULT_CLEAN_RETRIES,
                int(grace) if grace is not None else _DEFAULT_CLEAN_GRACE)

    async def clean_cache(self, snap: base.Snapshot) -> None:
        """``alluxio fs free -f /`` while the master is up; gives up after maxRetryAttempts."""
        retries, grace = self._clean_policy(snap)
        desired, ready = self._master_counts()
        if ready <= desired // 2 or self._clean_attempts >= retries:  # no primary without a quorum
            return
        self._clean_attempts += 1
        try:
            await self.ops.free("/", timeout_seconds=grace)
        except base.CommandFailed as exc:
            self.log.warning("cache_clean_failed", attempt=self._clean_attempts, error=str(exc))
            if self._clean_attempts < retries:
                raise
