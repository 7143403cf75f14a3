"""The Thin engine: the shared lifecycle around the user's own FUSE image.

Owns what differs for ThinRuntime: reading the cluster-scoped ThinRuntimeProfile and the
PV behind a ``pvc://`` mount before rendering, copying a CSI publish Secret when the
profile's policy says so, the optional worker (only when ``spec.worker.enabled``),
labelling the mounted PVC ``fluid.io/managed-by=<dataset>`` (and removing it at
shutdown from ``status.mounts``), refreshing FUSE pods when the Dataset's mounts change,
and UFS size/file count from a ready FUSE pod.

Never handles a ThinRuntime with an empty ``profileName`` (a reference dataset): the
registry sends those to ``fluid.engines.reference``. Never logs Secret data; a copied
publish Secret goes straight from one API call to the next. Created by the registry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
import structlog

from fluid.api import constants, converter
from fluid.api.constants import NodePublishSecretPolicy
from fluid.api.dataset import Dataset
from fluid.api.kinds import BY_KIND
from fluid.api.thin import ThinRuntime, ThinRuntimeProfile
from fluid.engines import base
from fluid.engines.base import (
    CacheEngine,
    EngineDeps,
    Obj,
    RenderContext,
    RuntimeKey,
    Snapshot,
    UfsUsage,
    ValidationFailed,
    structure_models,
)
from fluid.engines.thin import manifests, ops
from fluid.kube import errors, resources

__all__ = ["FUSE_CONFIG_ANNOTATION", "ThinEngine", "factory"]

log = structlog.get_logger(__name__)

FUSE_CONFIG_ANNOTATION = "fluid.io/f-update-fuse-config"
"""Bumped on running FUSE pods when the config changes, so kubelet refreshes the volume."""
WRAPPED_BY_LABEL = "fluid.io/wrapped-by"
"""The deprecated spelling of ``fluid.io/managed-by`` on a mounted PVC; still read."""


@attrs.frozen
class _Inputs:
    profile: ThinRuntimeProfile
    pvc_mounts: tuple[manifests.PvcMount, ...]


def _models(snap: Snapshot) -> tuple[ThinRuntime, Dataset]:
    return structure_models(snap, ThinRuntime)


def _pvc_claims(mounts: Sequence[Mapping[str, Any]]) -> list[str]:
    return [c for m in mounts if (c := manifests.pvc_name_of(str(m.get("mountPoint", ""))))]


class ThinEngine(CacheEngine):
    """A ThinRuntime with a profile: FUSE DaemonSet, config, optional workers."""

    runtime_type: ClassVar[constants.RuntimeType] = constants.RuntimeType.THIN
    fuse_dir: ClassVar[str] = manifests.FUSE_DIR
    mount_type: ClassVar[str] = "thin-fuse-mount"
    has_master: ClassVar[bool] = False
    supports_mount_update: ClassVar[bool] = True

    def __init__(self, deps: EngineDeps, key: RuntimeKey) -> None:
        super().__init__(deps, key)
        self._inputs: _Inputs | None = None

    # -- decisions ---------------------------------------------------------------------------

    def validate(self, snap: Snapshot) -> None:
        if not snap.spec.get("profileName"):
            raise ValidationFailed("spec.profileName is empty: only reference datasets "
                                   "(dataset://) use a ThinRuntime without a profile")
        if any(str(m.get("mountPoint", "")).startswith("dataset://") for m in snap.mounts):
            raise ValidationFailed("a dataset:// mount needs a ThinRuntime without profileName")
        if len(_pvc_claims(snap.mounts)) > 1:
            raise ValidationFailed("a ThinRuntime supports at most one pvc:// mount")
        _models(snap)

    def worker_enabled(self, snap: Snapshot) -> bool:
        return bool((snap.spec.get("worker") or {}).get("enabled"))

    def workers_ready(self, snap: Snapshot) -> bool:
        return not self.worker_enabled(snap) or super().workers_ready(snap)

    def component_status(self, snap: Snapshot) -> Obj:
        status = super().component_status(snap)
        if not self.worker_enabled(snap):
            status.update(workerPhase=constants.RuntimePhase.READY.value,
                          desiredWorkerNumberScheduled=0, currentWorkerNumberScheduled=0,
                          workerNumberReady=0, workerNumberAvailable=0,
                          workerNumberUnavailable=0)
        return status

    # -- what render needs from the cluster ------------------------------------------------------

    async def _profile(self, snap: Snapshot) -> ThinRuntimeProfile:
        name = str(snap.spec.get("profileName") or "")
        res = BY_KIND["ThinRuntimeProfile"].resource
        raw = await self.deps.client.get_or_none(res, name)
        if raw is None:
            raise ValidationFailed(f"ThinRuntimeProfile {name!r} not found; create it first")
        try:
            return converter.structure(raw, ThinRuntimeProfile)
        except converter.StructureError as exc:
            raise ValidationFailed(f"ThinRuntimeProfile {name!r}: {exc}") from None

    async def _pvc_mount(self, snap: Snapshot, claim: str,
                         policy: NodePublishSecretPolicy | None) -> manifests.PvcMount:
        client = self.deps.client
        pvc = await client.get_or_none(resources.PERSISTENT_VOLUME_CLAIMS, claim,
                                       self.key.namespace)
        if pvc is None:
            raise ValidationFailed(f"PersistentVolumeClaim {claim!r} of the pvc:// mount "
                                   "does not exist")
        volume = (pvc.get("spec") or {}).get("volumeName")
        if not volume or (pvc.get("status") or {}).get("phase") != "Bound":
            raise RuntimeError(f"PersistentVolumeClaim {claim} is not bound yet")
        pv = await client.get(resources.PERSISTENT_VOLUMES, str(volume))
        pv_spec = pv.get("spec") or {}
        csi = pv_spec.get("csi")
        if not csi:
            raise ValidationFailed(f"PersistentVolume {volume} of claim {claim} is not a CSI "
                                   "volume; a ThinRuntime mounts only CSI volumes")
        options = pv_spec.get("mountOptions") or [
            o for o in str((pv.get("metadata", {}).get("annotations") or {}).get(
                "volume.beta.kubernetes.io/mount-options", "")).split(",") if o]
        ref = csi.get("nodePublishSecretRef") or {}
        mounted, copy = manifests.plan_publish_secret(
            policy=policy, name=self.key.name, secret_name=ref.get("name"))
        if copy and mounted:
            await self._copy_secret(snap, source_ns=ref.get("namespace") or "default",
                                    source=str(ref["name"]), target=mounted)
        return manifests.PvcMount(claim=claim, csi=csi, mount_options=tuple(options),
                                  publish_secret=mounted, publish_secret_dir=ref.get("name"))

    async def _copy_secret(self, snap: Snapshot, *, source_ns: str, source: str,
                           target: str) -> None:
        """Copy a CSI publish Secret into the runtime's namespace unless it is there."""
        client = self.deps.client
        if await client.get_or_none(resources.SECRETS, target, self.key.namespace) is not None:
            return
        secret = await client.get(resources.SECRETS, source, source_ns)
        copy = {"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": target, "namespace": self.key.namespace,
                             "labels": {constants.LABEL_DATASET_ID: self.key.id},
                             "ownerReferences": [self.owner_reference(snap)]},
                "type": secret.get("type", "Opaque"), "data": secret.get("data") or {}}
        try:
            await client.create(copy)
        except errors.AlreadyExists:
            return
        self.log.info("publish_secret_copied", source=f"{source_ns}/{source}", target=target)

    async def _gather(self, snap: Snapshot) -> _Inputs:
        profile = await self._profile(snap)
        policy = profile.spec.node_publish_secret_policy if profile.spec else None
        pvcs = [await self._pvc_mount(snap, claim, policy) for claim in _pvc_claims(snap.mounts)]
        return _Inputs(profile=profile, pvc_mounts=tuple(pvcs))

    async def apply_all(self, snap: Snapshot) -> RenderContext:
        """Look up the profile and pvc:// volumes, then render and apply as usual."""
        self._inputs = await self._gather(snap)
        return await super().apply_all(snap)

    def render(self, snap: Snapshot, ctx: RenderContext) -> list[Obj]:
        if self._inputs is None:  # render is only called from apply_all
            raise RuntimeError("ThinEngine.render called before the profile was read")
        runtime, dataset = _models(snap)
        try:
            rendered = manifests.render(manifests.RenderInput(
                runtime=runtime, profile=self._inputs.profile, dataset=dataset, ctx=ctx,
                pvc_mounts=self._inputs.pvc_mounts))
        except manifests.RenderError as exc:
            raise ValidationFailed(str(exc)) from None
        return rendered.objects()

    # -- lifecycle additions -------------------------------------------------------------------

    async def setup(self, snap: Snapshot) -> bool:
        ready = await super().setup(snap)
        if ready:
            await self._wrap_pvcs(snap)
            if snap.status.get("mounts") != snap.mounts:
                await self.deps.client.patch_status(self.key.resource, self.key.name,
                                                    self.key.namespace, {"mounts": snap.mounts})
        return ready

    async def _wrap_pvcs(self, snap: Snapshot) -> None:
        """Label each mounted PVC ``fluid.io/managed-by=<dataset>`` (once)."""
        for claim in _pvc_claims(snap.mounts):
            pvc = await self.deps.client.get_or_none(resources.PERSISTENT_VOLUME_CLAIMS, claim,
                                                     self.key.namespace)
            labels = ((pvc or {}).get("metadata") or {}).get("labels") or {}
            if pvc is None or constants.LABEL_MANAGED_BY in labels:
                continue
            await self.deps.client.merge_patch(
                resources.PERSISTENT_VOLUME_CLAIMS, claim, self.key.namespace,
                {"metadata": {"labels": {constants.LABEL_MANAGED_BY: self.key.name}}})
            self.log.info("pvc_wrapped", pvc=claim)

    async def _unwrap_pvcs(self, snap: Snapshot) -> None:
        mounts = snap.status.get("mounts") or snap.mounts
        for claim in _pvc_claims(mounts):
            pvc = await self.deps.client.get_or_none(resources.PERSISTENT_VOLUME_CLAIMS, claim,
                                                     self.key.namespace)
            labels = ((pvc or {}).get("metadata") or {}).get("labels") or {}
            ours = [k for k in (constants.LABEL_MANAGED_BY, WRAPPED_BY_LABEL)
                    if labels.get(k) == self.key.name]
            if pvc is None or not ours:
                continue
            await self.deps.client.merge_patch(
                resources.PERSISTENT_VOLUME_CLAIMS, claim, self.key.namespace,
                {"metadata": {"labels": dict.fromkeys(ours)}})
            self.log.info("pvc_unwrapped", pvc=claim)

    async def shutdown(self, snap: Snapshot) -> bool:
        await self._unwrap_pvcs(snap)
        done = await super().shutdown(snap)
        secret = manifests.publish_secret_copy_name(self.key.name)
        await self.deps.client.delete(resources.SECRETS, secret, self.key.namespace)
        # upstream's deprecated runtime-set ConfigMap, left by clusters upstream Fluid ran
        await self.deps.client.delete(resources.CONFIGMAPS, f"{self.key.name}-runtimeset",
                                      self.key.namespace)
        return done

    async def update_mounts(self, snap: Snapshot, *, added: Sequence[Obj],
                            removed: Sequence[Obj]) -> None:
        """The config was re-rendered by ``apply_all``; nudge running FUSE pods to reload."""
        for pod in self._fuse_pods():
            meta = pod["metadata"]
            count = int((meta.get("annotations") or {}).get(FUSE_CONFIG_ANNOTATION, "0") or 0)
            await self.deps.client.merge_patch(
                resources.PODS, meta["name"], self.key.namespace,
                {"metadata": {"annotations": {FUSE_CONFIG_ANNOTATION: str(count + 1)}}})
            self.log.info("fuse_config_refreshed", pod=meta["name"], generation=count + 1)

    # -- calls into the runtime ------------------------------------------------------------------

    def _fuse_pods(self) -> list[Obj]:
        pods = self.deps.view.select(resources.PODS, self.key.namespace, {
            base.LABEL_APP_NAME: self.runtime_type.value,
            base.LABEL_APP_INSTANCE: self.key.name,
            base.LABEL_APP_COMPONENT: "fuse",
        })
        return sorted((p for p in pods if base.pod_ready(p)), key=lambda p: str(p["metadata"]["name"]))

    async def ufs_usage(self, snap: Snapshot) -> UfsUsage | None:
        pods = self._fuse_pods()
        if not pods:
            return None
        runner = ops.ExecThinOps(self.deps.executor, namespace=self.key.namespace,
                                 container=manifests.FUSE_CONTAINER,
                                 timeout=self.deps.config.exec_timeout_seconds)
        pod, target = str(pods[0]["metadata"]["name"]), self.fluid_path()
        return UfsUsage(total_bytes=await runner.used_bytes(pod, target),
                        file_count=await runner.file_count(pod, target))


def factory(deps: EngineDeps, key: RuntimeKey) -> ThinEngine:
    """The registry's entry point for a ThinRuntime that names a profile."""
    return ThinEngine(deps, key)
