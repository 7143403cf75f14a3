"""The reference-dataset engine: a ThinRuntime without ``profileName`` that serves a Dataset
whose only mount is ``dataset://<namespace>/<name>[/<subpath>]`` from the source dataset's
runtime, so another namespace reads the same cache.

Owns, for one referencing dataset:

- checks: exactly one mount, of ``dataset://`` form; the source exists, is not itself a
  reference, and is Bound (until then setup waits);
- the source's ``status.datasetRef`` entry ``<ns>/<name>`` (added at setup and kept by
  sync, removed at shutdown), which keeps the source from being deleted while referenced;
- copies, in the referencing namespace, of what a FUSE sidecar needs: the source's FUSE
  DaemonSet as ``<name>-fuse`` pinned by ``fluid.io/fuse-balloon=true`` to no node (a
  template only) and the ConfigMaps its pods use, under their own names;
- the volume: PV ``<ns>-<name>`` copied from the source's PV with ``fluid_sub_path`` set
  and ``claimRef`` to PVC ``<name>``, labelled with the source's name and namespace
  (``fluid.io/dataset.referring-name``/``-namespace``); pods mount the source's FUSE
  path through the CSI plugin;
- sync: the source dataset's status mirrored into the referencing dataset (except
  ``datasetRef``, ``operationRef`` and ``runtimes``, which lists this ThinRuntime) and the
  source runtime's status into the ThinRuntime (``mounts`` = the referencing dataset's).

Never writes the source's spec, never touches the source's runtime objects, and never
runs data operations (the operation controllers refuse reference datasets). Created by
the engine registry for a ThinRuntime with an empty ``profileName``.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import structlog

from fluid.api import constants as c
from fluid.api.kinds import BY_KIND, RUNTIMES, KindInfo
from fluid.engines.base import (
    EngineDeps,
    Obj,
    RuntimeKey,
    Snapshot,
    ValidationFailed,
)
from fluid.kube import KubeClient, errors, resources
from fluid.kube.events import NORMAL, WARNING

__all__ = [
    "BALLOON_SELECTOR",
    "LABEL_REFERRING_NAME",
    "LABEL_REFERRING_NAMESPACE",
    "SUB_PATH_ATTRIBUTE",
    "Reference",
    "ReferenceEngine",
    "config_maps_used",
    "factory",
    "reference_of",
]

log = structlog.get_logger(__name__)

SCHEME = "dataset://"
LABEL_REFERRING_NAME = "fluid.io/dataset.referring-name"
LABEL_REFERRING_NAMESPACE = "fluid.io/dataset.referring-namespace"
BALLOON_SELECTOR = {"fluid.io/fuse-balloon": "true"}
"""The copied FUSE DaemonSet's node selector: no node has it, so it runs no pod."""
SUB_PATH_ATTRIBUTE = "fluid_sub_path"
"""PV volume attribute: the path inside the source's FUSE mount that the CSI plugin binds."""
NOT_MIRRORED = ("datasetRef", "operationRef", "runtimes")
"""Source dataset status fields that describe the source itself, not the data."""
_ATTEMPTS = 5


@attrs.frozen
class Reference:
    """``dataset://<namespace>/<name>[/<subpath>]``."""

    namespace: str
    name: str
    sub_path: str = ""

    @classmethod
    def parse(cls, mount_point: str) -> Reference:
        if not mount_point.startswith(SCHEME):
            raise ValueError(f"{mount_point!r} is not a dataset:// mount")
        namespace, _, rest = mount_point[len(SCHEME):].partition("/")
        name, _, sub_path = rest.partition("/")
        if not namespace or not name:
            raise ValueError(f"{mount_point!r} must be dataset://<namespace>/<name>[/<subpath>]")
        return cls(namespace, name, sub_path.strip("/"))

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def reference_of(mounts: Sequence[Mapping[str, Any]]) -> Reference:
    """The one ``dataset://`` mount; ValidationFailed says what is wrong otherwise."""
    points = [str(m.get("mountPoint", "")) for m in mounts]
    if len(points) != 1 or not points[0].startswith(SCHEME):
        raise ValidationFailed(
            "a reference dataset has exactly one mount, dataset://<namespace>/<name>; got "
            f"{points or 'none'}"
        )
    try:
        return Reference.parse(points[0])
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None


def _is_reference(dataset: Obj) -> bool:
    mounts = (dataset.get("spec") or {}).get("mounts") or []
    return any(str(m.get("mountPoint", "")).startswith(SCHEME) for m in mounts)


def _runtime_info(runtime_type: str) -> KindInfo | None:
    return next((i for i in RUNTIMES if i.runtime_type == runtime_type), None)


def config_maps_used(pod_spec: Mapping[str, Any]) -> list[str]:
    """ConfigMaps a pod spec reads: volumes, envFrom and env valueFrom, in order, once each."""
    names: list[str] = []
    for volume in pod_spec.get("volumes") or ():
        if (volume.get("configMap") or {}).get("name"):
            names.append(volume["configMap"]["name"])
        for source in (volume.get("projected") or {}).get("sources") or ():
            if (source.get("configMap") or {}).get("name"):
                names.append(source["configMap"]["name"])
    for container in [*(pod_spec.get("initContainers") or ()), *(pod_spec.get("containers") or ())]:
        for source in container.get("envFrom") or ():
            if (source.get("configMapRef") or {}).get("name"):
                names.append(source["configMapRef"]["name"])
        for env in container.get("env") or ():
            ref = (env.get("valueFrom") or {}).get("configMapKeyRef") or {}
            if ref.get("name"):
                names.append(ref["name"])
    return list(dict.fromkeys(names))


class ReferenceEngine:
    """Serves one referencing Dataset from its source's runtime."""

    def __init__(self, deps: EngineDeps, key: RuntimeKey) -> None:
        self.deps = deps
        self.key = key
        self.log = log.bind(runtime=str(key))

    # -- reading the source ---------------------------------------------------------------------

    async def _source(self, ref: Reference) -> Obj | None:
        return await self.deps.client.get_or_none(BY_KIND["Dataset"].resource, ref.name, ref.namespace)

    async def _source_runtime(self, source: Obj) -> Obj | None:
        runtimes = (source.get("status") or {}).get("runtimes") or []
        if not runtimes:
            return None
        entry = runtimes[0]
        info = _runtime_info(str(entry.get("type") or ""))
        if info is None:
            return None
        meta = source["metadata"]
        return await self.deps.client.get_or_none(
            info.resource, str(entry.get("name") or meta["name"]),
            str(entry.get("namespace") or meta["namespace"]),
        )

    # -- Engine protocol ------------------------------------------------------------------------

    def validate(self, snap: Snapshot) -> None:
        ref = reference_of(snap.mounts)
        if (ref.namespace, ref.name) == (self.key.namespace, self.key.name):
            raise ValidationFailed("a dataset cannot refer to itself")

    async def setup(self, snap: Snapshot) -> bool:
        ref = reference_of(snap.mounts)
        source = await self._source(ref)
        if source is None:
            await self._warn(snap, "SourceDatasetNotFound",
                             f"dataset {ref.key} does not exist; create it, or fix the dataset:// mount")
            return False
        if _is_reference(source):
            raise ValidationFailed(f"dataset {ref.key} is itself a reference; refer to its source")
        if (source.get("status") or {}).get("phase") != c.DatasetPhase.BOUND:
            self.log.info("setup_waiting", step="source bound", source=ref.key)
            return False
        await self._register(ref)
        await self._copy_fuse(snap, source)
        await self._mirror(snap, source)
        self.log.info("reference_bound", source=ref.key)
        return True

    async def create_volume(self, snap: Snapshot) -> None:
        ref = reference_of(snap.mounts)
        client = self.deps.client
        source_pvc = await client.get_or_none(resources.PERSISTENT_VOLUME_CLAIMS, ref.name, ref.namespace)
        volume = (source_pvc or {}).get("spec", {}).get("volumeName")
        source_pv = await client.get_or_none(resources.PERSISTENT_VOLUMES, volume) if volume else None
        if source_pvc is None or source_pv is None:
            raise RuntimeError(f"the volume of dataset {ref.key} does not exist yet")
        modes = self.access_modes(snap, source_pv)
        if await client.get_or_none(resources.PERSISTENT_VOLUMES, self.key.id) is None:
            await _create(client, self.render_pv(snap, ref, source_pv, modes))
            self.log.info("pv_created", pv=self.key.id)
        if await client.get_or_none(resources.PERSISTENT_VOLUME_CLAIMS, self.key.name,
                                    self.key.namespace) is None:
            await _create(client, self.render_pvc(snap, ref, source_pvc, modes))
            self.log.info("pvc_created", pvc=self.key.name)

    async def sync(self, snap: Snapshot) -> None:
        ref = reference_of(snap.mounts)
        source = await self._source(ref)
        if source is None:
            await self._warn(snap, "SourceDatasetNotFound",
                             f"dataset {ref.key} no longer exists; this reference serves nothing")
            return
        await self._register(ref)
        await self._mirror(snap, source)

    async def delete_volume(self, snap: Snapshot) -> bool:
        client = self.deps.client
        pvc = await client.get_or_none(resources.PERSISTENT_VOLUME_CLAIMS, self.key.name,
                                       self.key.namespace)
        if pvc is not None and _created_by_fluid(pvc):
            if not pvc["metadata"].get("deletionTimestamp"):
                await client.delete(resources.PERSISTENT_VOLUME_CLAIMS, self.key.name, self.key.namespace)
            return False
        pv = await client.get_or_none(resources.PERSISTENT_VOLUMES, self.key.id)
        if pv is not None and _created_by_fluid(pv):
            if not pv["metadata"].get("deletionTimestamp"):
                await client.delete(resources.PERSISTENT_VOLUMES, self.key.id)
            return False
        return True

    async def shutdown(self, snap: Snapshot) -> bool:
        try:
            ref: Reference | None = reference_of(snap.mounts)
        except ValidationFailed:
            ref = None
        if ref is not None:
            await self._unregister(ref)
        client = self.deps.client
        await client.delete(resources.DAEMONSETS, self.fuse_name, self.key.namespace)
        selector = f"{c.LABEL_MANAGED_BY}=fluid,{self._copy_label_key()}={self._copy_label_value(snap)}"
        copies, _ = await client.list_all(resources.CONFIGMAPS, self.key.namespace, label_selector=selector)
        for config_map in copies:
            await client.delete(resources.CONFIGMAPS, config_map["metadata"]["name"], self.key.namespace)
        self.log.info("reference_shut_down", config_maps=len(copies))
        return True

    async def close(self) -> None:
        return None

    # -- the source's datasetRef ----------------------------------------------------------------

    @property
    def _entry(self) -> str:
        return f"{self.key.namespace}/{self.key.name}"

    async def _register(self, ref: Reference) -> None:
        await self._edit_refs(ref, add=True)

    async def _unregister(self, ref: Reference) -> None:
        await self._edit_refs(ref, add=False)

    async def _edit_refs(self, ref: Reference, *, add: bool) -> None:
        """Add or remove this dataset in the source's ``status.datasetRef`` (guarded patch)."""
        client = self.deps.client
        res = BY_KIND["Dataset"].resource
        for _ in range(_ATTEMPTS):
            source = await client.get_or_none(res, ref.name, ref.namespace)
            if source is None:
                return
            current = list((source.get("status") or {}).get("datasetRef") or [])
            if (self._entry in current) == add:
                return
            wanted = [*current, self._entry] if add else [e for e in current if e != self._entry]
            ops: list[Obj] = [{"op": "test", "path": "/metadata/resourceVersion",
                               "value": source["metadata"]["resourceVersion"]}]
            if source.get("status") is None:
                ops.append({"op": "add", "path": "/status", "value": {}})
            ops.append({"op": "add", "path": "/status/datasetRef", "value": wanted})
            try:
                await client.json_patch(res, ref.name, ref.namespace, ops, subresource="status")
            except (errors.Conflict, errors.Invalid):
                continue
            self.log.info("dataset_ref_added" if add else "dataset_ref_removed", source=ref.key)
            return
        raise errors.Conflict(409, "Conflict", f"dataset {ref.key} kept changing")

    # -- copies for FUSE sidecars ---------------------------------------------------------------

    @property
    def fuse_name(self) -> str:
        return f"{self.key.name}-fuse"

    def _copy_label_key(self) -> str:
        return c.LABEL_DATASET_ID

    def _copy_label_value(self, snap: Snapshot | None = None) -> str:
        """``<ns>-<name>``, or the dataset's UID when that is too long for a label value."""
        if len(self.key.id) <= 63 or snap is None or not snap.dataset_uid:
            return self.key.id[:63]
        return snap.dataset_uid

    def _owner(self, snap: Snapshot) -> Obj:
        return {"apiVersion": c.API_VERSION, "kind": self.key.kind, "name": self.key.name,
                "uid": snap.uid, "controller": True, "blockOwnerDeletion": True}

    def _copy_meta(self, snap: Snapshot, name: str, source: Obj) -> Obj:
        labels = {k: v for k, v in ((source.get("metadata") or {}).get("labels") or {}).items()
                  if k != c.LABEL_DATASET_ID}
        labels |= {c.LABEL_MANAGED_BY: "fluid", self._copy_label_key(): self._copy_label_value(snap)}
        return {"name": name, "namespace": self.key.namespace, "labels": labels,
                "ownerReferences": [self._owner(snap)]}

    async def _source_fuse(self, source: Obj) -> Obj | None:
        meta = source["metadata"]
        runtimes = (source.get("status") or {}).get("runtimes") or [{}]
        name = str(runtimes[0].get("name") or meta["name"])
        found, _ = await self.deps.client.list_all(
            resources.DAEMONSETS, meta["namespace"], label_selector=f"app.kubernetes.io/instance={name}")
        for daemonset in found:
            template = (daemonset.get("spec") or {}).get("template") or {}
            labels = (template.get("metadata") or {}).get("labels") or {}
            if labels.get("app.kubernetes.io/component") == "fuse":
                return daemonset
        return await self.deps.client.get_or_none(resources.DAEMONSETS, f"{name}-fuse", meta["namespace"])

    async def _copy_fuse(self, snap: Snapshot, source: Obj) -> None:
        daemonset = await self._source_fuse(source)
        if daemonset is None:
            self.log.info("source_fuse_missing", source=source["metadata"]["name"])
            return
        template = copy.deepcopy(daemonset["spec"]["template"])
        template["spec"]["nodeSelector"] = dict(BALLOON_SELECTOR)
        client = self.deps.client
        await client.apply({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": self._copy_meta(snap, self.fuse_name, daemonset),
            "spec": {"selector": copy.deepcopy(daemonset["spec"]["selector"]), "template": template},
        })
        for name in config_maps_used(template["spec"]):
            config_map = await client.get_or_none(resources.CONFIGMAPS, name, source["metadata"]["namespace"])
            if config_map is None:
                continue
            await client.apply({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": self._copy_meta(snap, name, config_map),
                **{k: config_map[k] for k in ("data", "binaryData") if k in config_map},
            })

    # -- the volume ------------------------------------------------------------------------------

    def access_modes(self, snap: Snapshot, source_pv: Obj) -> list[str]:
        """The referencing dataset's modes; ReadOnlyMany if it has none or the source is read-only."""
        spec = source_pv.get("spec") or {}
        read_only = bool((spec.get("csi") or {}).get("readOnly")) or (
            spec.get("accessModes") == ["ReadOnlyMany"])
        modes = list(snap.dataset_spec.get("accessModes") or [])
        return ["ReadOnlyMany"] if read_only or not modes else modes

    def _labels(self, snap: Snapshot) -> dict[str, str]:
        return {c.common_label(self.key.namespace, self.key.name, uid=snap.dataset_uid): "true",
                c.LABEL_DATASET_ID: self._copy_label_value(snap)}

    def render_pv(self, snap: Snapshot, ref: Reference, source_pv: Obj, modes: list[str]) -> Obj:
        spec = copy.deepcopy(source_pv.get("spec") or {})
        csi = spec.get("csi") or {}
        attributes = dict(csi.get("volumeAttributes") or {})
        attributes[SUB_PATH_ATTRIBUTE] = ref.sub_path
        pv_spec: Obj = {
            "accessModes": modes,
            "capacity": spec.get("capacity") or {"storage": c.DEFAULT_PVC_STORAGE},
            "storageClassName": spec.get("storageClassName", "fluid"),
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": self.key.namespace, "name": self.key.name},
            "csi": {**csi, "volumeHandle": self.key.id, "volumeAttributes": attributes},
        }
        for optional in ("nodeAffinity", "mountOptions", "volumeMode"):
            if optional in spec:
                pv_spec[optional] = spec[optional]
        return {
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": self.key.id, "labels": self._labels(snap),
                         "annotations": {c.ANNOTATION_CREATED_BY: "fluid"}},
            "spec": pv_spec,
        }

    def render_pvc(self, snap: Snapshot, ref: Reference, source_pvc: Obj, modes: list[str]) -> Obj:
        spec = source_pvc.get("spec") or {}
        return {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": self.key.name, "namespace": self.key.namespace,
                "labels": {**self._labels(snap), LABEL_REFERRING_NAME: ref.name,
                           LABEL_REFERRING_NAMESPACE: ref.namespace},
                "annotations": {c.ANNOTATION_CREATED_BY: "fluid"},
            },
            "spec": {
                "accessModes": modes,
                "resources": copy.deepcopy(spec.get("resources") or {
                    "requests": {"storage": c.DEFAULT_PVC_STORAGE}}),
                "storageClassName": spec.get("storageClassName", "fluid"),
                "volumeName": self.key.id,
            },
        }

    # -- mirroring status ------------------------------------------------------------------------

    def _runtime_entry(self) -> Obj:
        return {"name": self.key.name, "namespace": self.key.namespace,
                "category": c.CATEGORY_ACCELERATE, "type": c.RuntimeType.THIN.value,
                "masterReplicas": 1}

    def dataset_status(self, snap: Snapshot, source: Obj) -> Obj:
        """The referencing dataset's status: the source's, with its own runtime entry."""
        status = {k: copy.deepcopy(v) for k, v in (source.get("status") or {}).items()
                  if k not in NOT_MIRRORED}
        status["runtimes"] = [self._runtime_entry()]
        return status

    async def _mirror(self, snap: Snapshot, source: Obj) -> None:
        client = self.deps.client
        wanted = self.dataset_status(snap, source)
        current = snap.dataset_status
        if any(current.get(k) != v for k, v in wanted.items()):
            was_bound = current.get("phase") == c.DatasetPhase.BOUND
            await client.patch_status(BY_KIND["Dataset"].resource, self.key.name, self.key.namespace, wanted)
            if not was_bound and wanted.get("phase") == c.DatasetPhase.BOUND:
                await self.deps.events.record(
                    snap.runtime, NORMAL, "DatasetBound",
                    f"Dataset {self.key.namespace}/{self.key.name} shares the cache of "
                    f"{source['metadata']['namespace']}/{source['metadata']['name']}.",
                )
        runtime = await self._source_runtime(source)
        runtime_status = copy.deepcopy((runtime or {}).get("status") or {})
        runtime_status["mounts"] = snap.mounts
        for own in ("selector", "valueFile"):
            runtime_status.pop(own, None)
        if any(snap.status.get(k) != v for k, v in runtime_status.items()):
            await client.patch_status(self.key.resource, self.key.name, self.key.namespace, runtime_status)

    async def _warn(self, snap: Snapshot, reason: str, message: str) -> None:
        await self.deps.events.record(snap.runtime, WARNING, reason, message)
        self.log.warning("reference_not_ready", reason=reason, detail=message)


def _created_by_fluid(obj: Obj) -> bool:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(c.ANNOTATION_CREATED_BY) == "fluid"


async def _create(client: KubeClient, obj: Obj) -> None:
    with contextlib.suppress(errors.AlreadyExists):
        await client.create(obj)


def factory(deps: EngineDeps, key: RuntimeKey) -> ReferenceEngine:
    return ReferenceEngine(deps, key)
