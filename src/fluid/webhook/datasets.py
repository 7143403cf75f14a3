"""Which Fluid datasets a pod uses, resolved from informer caches only.

Owns the rules that turn a pod's volumes into ``DatasetUse`` records: a PVC is a dataset
PVC when it carries a ``fluid.io/s-<ns>-<name>`` label (the PVC is named after its
dataset) or ``fluid.io/managed-by`` (a PVC wrapped by a Thin dataset of that name); a
dataset whose mount is ``dataset://<ns>/<name>[/sub]`` is a reference and its source
dataset supplies the runtime, the cache label and the FUSE settings.

Never calls the API server: everything comes from ``Caches`` (informer stores, shared and
read-only), so an admission costs a few dict lookups. A PVC missing from the cache is
treated as not a dataset's (Fluid creates dataset PVCs long before pods use them).
Called by ``fluid.webhook.mutation`` for every pod admission; plugins read the records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from fluid.api import constants
from fluid.api import pod_labels as labels

__all__ = ["Caches", "DatasetUse", "ObjectSource", "dataset_of_claim", "resolve"]

_REFERENCE_SCHEME = "dataset://"
_COMMON_LABEL_PREFIX = constants.LABEL_PREFIX + "s-"


class ObjectSource(Protocol):
    """Read access to cached objects by ``namespace/name`` (or ``name``): an informer Store."""

    def get(self, key: str) -> dict[str, Any] | None: ...


@attrs.frozen
class Caches:
    """The caches the webhook reads; ``runtimes`` maps a runtime type (``alluxio``) to its cache."""

    pvcs: ObjectSource
    datasets: ObjectSource
    runtimes: Mapping[str, ObjectSource]
    pvs: ObjectSource
    daemonsets: ObjectSource


@attrs.frozen
class DatasetUse:
    """One dataset a pod mounts, through one PVC (possibly from several pod volumes).

    ``namespace``/``name`` is the dataset the PVC belongs to; ``source_*`` is the dataset
    that holds the data (the same one unless the dataset is a ``dataset://`` reference).
    ``runtime`` is the source's runtime object from the cache (None before binding).
    """

    namespace: str
    name: str
    claim: str
    volumes: tuple[str, ...]
    source_namespace: str
    source_name: str
    source_uid: str | None
    sub_path: str
    phase: str
    runtime_type: str | None
    runtime: Mapping[str, Any] | None
    pv_name: str | None
    cache_label: str
    """The node label ``fluid.io/s-<ns>-<name>`` marking nodes that cache the (source's) data."""
    fuse_label: str
    """The node label ``fluid.io/f-<ns>-<name>`` marking nodes running its FUSE client."""

    @property
    def reference(self) -> bool:
        return (self.namespace, self.name) != (self.source_namespace, self.source_name)

    @property
    def bound(self) -> bool:
        return self.phase == constants.DatasetPhase.BOUND

    @property
    def runtime_name(self) -> str | None:
        return None if self.runtime is None else str(self.runtime["metadata"]["name"])

    @property
    def runtime_namespace(self) -> str | None:
        return None if self.runtime is None else str(self.runtime["metadata"].get("namespace", ""))

    def fuse_node_selector(self) -> dict[str, str]:
        """The runtime's ``spec.fuse.nodeSelector``: where its FUSE clients may run."""
        if self.runtime is None:
            return {}
        selector = ((self.runtime.get("spec") or {}).get("fuse") or {}).get("nodeSelector")
        return dict(selector) if isinstance(selector, dict) else {}

    def cache_affinity(self) -> Mapping[str, Any]:
        """The runtime's ``status.cacheAffinity`` (a core/v1 NodeAffinity), or empty."""
        if self.runtime is None:
            return {}
        affinity = (self.runtime.get("status") or {}).get("cacheAffinity")
        return affinity if isinstance(affinity, dict) else {}


def dataset_of_claim(pvc: Mapping[str, Any]) -> str | None:
    """The name of the dataset a PVC belongs to, or None for a PVC that is not Fluid's."""
    meta = pvc.get("metadata") or {}
    pvc_labels = meta.get("labels") or {}
    managed_by = pvc_labels.get(constants.LABEL_MANAGED_BY) or pvc_labels.get(labels.LABEL_WRAPPED_BY)
    if managed_by:
        return str(managed_by)
    if any(key.startswith(_COMMON_LABEL_PREFIX) for key in pvc_labels):
        return str(meta.get("name", "")) or None
    return None


def _claims(pod: Mapping[str, Any]) -> dict[str, list[str]]:
    """PVC name -> the pod volumes that use it, in volume order."""
    claims: dict[str, list[str]] = {}
    for volume in (pod.get("spec") or {}).get("volumes") or ():
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if claim:
            claims.setdefault(str(claim), []).append(str(volume.get("name", "")))
    return claims


def _parse_reference(dataset: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(namespace, name, sub path) of a ``dataset://`` mount, else None."""
    mounts: list[dict[str, Any]] = (dataset.get("spec") or {}).get("mounts") or []
    if len(mounts) != 1:
        return None
    point = str(mounts[0].get("mountPoint", ""))
    if not point.startswith(_REFERENCE_SCHEME):
        return None
    parts = point[len(_REFERENCE_SCHEME):].strip("/").split("/", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return None
    sub_path = parts[2] if len(parts) > 2 else ""
    return parts[0], parts[1], sub_path


def _runtime_of(dataset: Mapping[str, Any], caches: Caches) -> tuple[str | None, Mapping[str, Any] | None]:
    entries = (dataset.get("status") or {}).get("runtimes") or ()
    if not entries:
        return None, None
    entry = entries[0]
    runtime_type = str(entry.get("type") or "").lower() or None
    source = caches.runtimes.get(runtime_type or "")
    if source is None:
        return runtime_type, None
    namespace = entry.get("namespace") or (dataset.get("metadata") or {}).get("namespace")
    return runtime_type, source.get(f"{namespace}/{entry.get('name')}")


_LABELS: dict[tuple[str, str, str | None], tuple[str, str]] = {}


def _node_labels(namespace: str, name: str, uid: str | None) -> tuple[str, str]:
    """(cache label, FUSE label) of a dataset, memoized: every admission needs them."""
    key = (namespace, name, uid)
    found = _LABELS.get(key)
    if found is None:
        found = (constants.common_label(namespace, name, uid=uid),
                 constants.fuse_label(namespace, name, uid=uid))
        if len(_LABELS) < 65536:
            _LABELS[key] = found
    return found


def _use(
    namespace: str, name: str, claim: str, volumes: list[str], pvc: Mapping[str, Any], caches: Caches
) -> DatasetUse:
    dataset = caches.datasets.get(f"{namespace}/{name}") or {}
    source_ns, source_name, sub_path = namespace, name, ""
    reference = _parse_reference(dataset) if dataset else None
    source = dataset
    if reference is not None:
        source_ns, source_name, sub_path = reference
        source = caches.datasets.get(f"{source_ns}/{source_name}") or {}
    runtime_type, runtime = _runtime_of(source, caches) if source else (None, None)
    uid = (source.get("metadata") or {}).get("uid")
    cache_label, fuse_label = _node_labels(source_ns, source_name, uid)
    return DatasetUse(
        namespace=namespace, name=name, claim=claim, volumes=tuple(volumes),
        source_namespace=source_ns, source_name=source_name,
        source_uid=uid, sub_path=sub_path,
        phase=str((source.get("status") or {}).get("phase") or ""),
        runtime_type=runtime_type, runtime=runtime,
        pv_name=(pvc.get("spec") or {}).get("volumeName"),
        cache_label=cache_label, fuse_label=fuse_label,
    )


def resolve(pod: Mapping[str, Any], namespace: str, caches: Caches) -> tuple[DatasetUse, ...]:
    """The datasets ``pod`` (in ``namespace``) mounts through PVCs, sorted by PVC name."""
    uses = []
    for claim, volumes in sorted(_claims(pod).items()):
        pvc = caches.pvcs.get(f"{namespace}/{claim}")
        if pvc is None:
            continue
        name = dataset_of_claim(pvc)
        if name is not None:
            uses.append(_use(namespace, name, claim, volumes, pvc, caches))
    return tuple(uses)
