"""Slim copies of high-volume core objects for informer caches (client-go's TransformFunc).

A cluster has far more pods and nodes than Fluid objects, and a pod as the API server
sends it is mostly fields no Fluid controller reads (container specs, env, probes, image
lists on nodes). Keeping only what controllers read cuts the cache's memory several-fold.

Owns the list of kept fields: a controller that starts reading another pod or node field
adds it here (and the informer benchmark shows the cost). Never used on objects that are
written back: the cache is read-only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fluid.kube import resources
from fluid.kube.resources import Resource

__all__ = ["TRANSFORMS", "slim_node", "slim_pod"]

Obj = dict[str, Any]

_META_KEYS = (
    "name", "namespace", "uid", "resourceVersion", "generation", "labels", "annotations",
    "ownerReferences", "deletionTimestamp", "creationTimestamp", "finalizers",
)
_DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)
_POD_SPEC_KEYS = ("nodeName", "schedulerName", "hostNetwork", "serviceAccountName", "nodeSelector")
_POD_STATUS_KEYS = ("phase", "hostIP", "podIP", "reason", "message", "startTime")


def _meta(meta: Obj) -> Obj:
    slim = {k: meta[k] for k in _META_KEYS if k in meta}
    annotations = slim.get("annotations")
    if annotations and any(k in annotations for k in _DROPPED_ANNOTATIONS):
        slim["annotations"] = {k: v for k, v in annotations.items() if k not in _DROPPED_ANNOTATIONS}
    return slim


def _containers(containers: list[Obj] | None) -> list[Obj]:
    return [
        {k: c[k] for k in ("name", "image", "restartPolicy") if k in c} for c in containers or ()
    ]


def _volume(volume: Obj) -> Obj:
    """Name plus the source kinds controllers look at (PVC claims, ephemeral, hostPath)."""
    return {
        k: volume[k] for k in ("name", "persistentVolumeClaim", "ephemeral", "hostPath") if k in volume
    }


def _container_status(status: Obj) -> Obj:
    return {k: status[k] for k in ("name", "ready", "started", "state", "restartCount") if k in status}


def slim_pod(pod: Obj) -> Obj:
    """Metadata, where it runs, which volumes and containers it has, and their state."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    slim_spec: Obj = {k: spec[k] for k in _POD_SPEC_KEYS if k in spec}
    slim_spec["containers"] = _containers(spec.get("containers"))
    if spec.get("initContainers"):
        slim_spec["initContainers"] = _containers(spec["initContainers"])
    if spec.get("volumes"):
        slim_spec["volumes"] = [_volume(v) for v in spec["volumes"]]
    slim_status: Obj = {k: status[k] for k in _POD_STATUS_KEYS if k in status}
    if status.get("conditions"):
        slim_status["conditions"] = [
            {"type": c.get("type"), "status": c.get("status")} for c in status["conditions"]
        ]
    for key in ("containerStatuses", "initContainerStatuses"):
        if status.get(key):
            slim_status[key] = [_container_status(s) for s in status[key]]
    return {
        "apiVersion": pod.get("apiVersion", "v1"), "kind": pod.get("kind", "Pod"),
        "metadata": _meta(pod.get("metadata") or {}), "spec": slim_spec, "status": slim_status,
    }


def slim_node(node: Obj) -> Obj:
    """Metadata, schedulability and capacity; never the image list or node info."""
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    return {
        "apiVersion": node.get("apiVersion", "v1"), "kind": node.get("kind", "Node"),
        "metadata": _meta(node.get("metadata") or {}),
        "spec": {k: spec[k] for k in ("taints", "unschedulable", "podCIDR") if k in spec},
        "status": {
            "capacity": status.get("capacity") or {},
            "allocatable": status.get("allocatable") or {},
            "conditions": [
                {"type": c.get("type"), "status": c.get("status")} for c in status.get("conditions") or ()
            ],
            "addresses": status.get("addresses") or [],
        },
    }


TRANSFORMS: Mapping[Resource, Callable[[Obj], Obj]] = {
    resources.PODS: slim_pod,
    resources.NODES: slim_node,
}
