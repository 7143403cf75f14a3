"""Builders of the objects the webhook reads (as Fluid's controllers create them) and of pods.

Shared by the unit, integration and e2e webhook tests so that all of them agree with the
engines' contract: PVC ``<name>`` labelled ``fluid.io/s-<ns>-<name>`` and bound to PV
``<ns>-<name>`` whose CSI attributes carry ``fluid_path``; FUSE DaemonSet ``<name>-fuse``;
Dataset ``status.runtimes[0]`` naming the runtime.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from fluid.api import constants, kinds

Obj = dict[str, Any]
MOUNT_ROOT = "/runtime-mnt"


def fluid_path(ns: str, name: str, runtime_type: str = "alluxio") -> str:
    return f"{MOUNT_ROOT}/{runtime_type}/{ns}/{name}/{runtime_type}-fuse"


def dataset(
    ns: str,
    name: str,
    *,
    phase: str = "Bound",
    runtime_type: str | None = "alluxio",
    mount: str = "s3://bucket/data",
    uid: str | None = None,
) -> Obj:
    status: Obj = {"phase": phase}
    if runtime_type:
        status["runtimes"] = [
            {
                "name": name,
                "namespace": ns,
                "type": runtime_type,
                "category": constants.CATEGORY_ACCELERATE,
            }
        ]
    return {
        "apiVersion": constants.API_VERSION,
        "kind": "Dataset",
        "metadata": {"name": name, "namespace": ns, "uid": uid or str(uuid.uuid4())},
        "spec": {"mounts": [{"name": "data", "mountPoint": mount}]},
        "status": status,
    }


def runtime(
    ns: str,
    name: str,
    *,
    kind: str = "AlluxioRuntime",
    fuse_node_selector: dict[str, str] | None = None,
    cache_affinity: Obj | None = None,
) -> Obj:
    spec: Obj = {"replicas": 1}
    if fuse_node_selector:
        spec["fuse"] = {"nodeSelector": fuse_node_selector}
    obj: Obj = {
        "apiVersion": constants.API_VERSION,
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
        "status": {},
    }
    if cache_affinity:
        obj["status"]["cacheAffinity"] = cache_affinity
    return obj


def pvc(
    ns: str, name: str, *, dataset_labels: bool = True, extra_labels: dict[str, str] | None = None
) -> Obj:
    labels = dict(extra_labels or {})
    if dataset_labels:
        labels[constants.common_label(ns, name)] = "true"
        labels[constants.LABEL_DATASET_ID] = constants.dataset_id(ns, name)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": labels,
            "annotations": {constants.ANNOTATION_CREATED_BY: "fluid"},
        },
        "spec": {
            "accessModes": ["ReadOnlyMany"],
            "resources": {"requests": {"storage": "100Gi"}},
            "storageClassName": "fluid",
            "volumeName": f"{ns}-{name}",
        },
    }


def pv(ns: str, name: str, *, path: str | None = None, sub_path: str | None = None) -> Obj:
    attributes = {
        "fluid_path": path or fluid_path(ns, name),
        "mount_type": "fuse.alluxio-fuse",
        "runtime_name": name,
        "runtime_namespace": ns,
    }
    if sub_path:
        attributes["fluid_sub_path"] = sub_path
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"{ns}-{name}", "labels": {constants.common_label(ns, name): "true"}},
        "spec": {
            "accessModes": ["ReadOnlyMany"],
            "capacity": {"storage": "100Gi"},
            "storageClassName": "fluid",
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": ns, "name": name},
            "csi": {
                "driver": "fuse.csi.fluid.io",
                "volumeHandle": f"{ns}-{name}",
                "volumeAttributes": attributes,
            },
        },
    }


def fuse_daemonset(ns: str, name: str, *, runtime_type: str = "alluxio") -> Obj:
    root = f"{MOUNT_ROOT}/{runtime_type}/{ns}/{name}"
    mount = fluid_path(ns, name, runtime_type)
    container = {
        "name": f"{runtime_type}-fuse",
        "image": "fluid/fuse:test",
        "args": ["fuse", mount, "/"],
        "ports": [
            {"name": "fuse-metrics", "containerPort": 29999},
            {"name": "fuse-rpc", "containerPort": 29998},
        ],
        "securityContext": {"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]}},
        "lifecycle": {"preStop": {"exec": {"command": ["fusermount", "-u", mount]}}},
        "readinessProbe": {"exec": {"command": ["true"]}},
        "volumeMounts": [
            {"name": "fuse-device", "mountPath": "/dev/fuse"},
            {"name": "fuse-mount", "mountPath": root, "mountPropagation": "Bidirectional"},
            {"name": "cache-dir-mem", "mountPath": "/dev/shm"},
        ],
    }
    labels = {"app.kubernetes.io/instance": name, "app.kubernetes.io/component": "fuse"}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": f"{name}-fuse", "namespace": ns},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": {constants.fuse_label(ns, name): "true"},
                    "containers": [container],
                    "volumes": [
                        {"name": "fuse-device", "hostPath": {"path": "/dev/fuse", "type": "CharDevice"}},
                        {"name": "fuse-mount", "hostPath": {"path": root, "type": "DirectoryOrCreate"}},
                        {"name": "cache-dir-mem", "emptyDir": {"medium": "Memory"}},
                    ],
                },
            },
        },
    }


def pod(
    ns: str,
    name: str,
    *,
    claims: tuple[str, ...] = (),
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    init_uses_data: bool = False,
) -> Obj:
    volumes = [{"name": f"data-{c}", "persistentVolumeClaim": {"claimName": c}} for c in claims]
    mounts = [{"name": f"data-{c}", "mountPath": f"/data/{c}"} for c in claims]
    spec: Obj = {
        "containers": [
            {
                "name": "app",
                "image": "busybox",
                "command": ["sh", "-c", "ls /data"],
                "volumeMounts": mounts,
            }
        ],
        "volumes": volumes,
        "restartPolicy": "Never",
    }
    if init_uses_data:
        spec["initContainers"] = [
            {"name": "prepare", "image": "busybox", "volumeMounts": [dict(m) for m in mounts[:1]]}
        ]
    meta: Obj = {"name": name, "namespace": ns}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def review(obj: Obj, *, namespace: str, uid: str = "uid-1", operation: str = "CREATE") -> bytes:
    return orjson.dumps(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": uid,
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "operation": operation,
                "namespace": namespace,
                "name": obj["metadata"].get("name", ""),
                "object": obj,
                "dryRun": False,
            },
        }
    )


def _tokens(pointer: str) -> list[str]:
    assert pointer.startswith("/"), pointer
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def apply_patch(document: Obj, ops: list[Obj]) -> Obj:
    """An independent RFC 6902 applier (add/replace/remove/test) used to check our patches."""
    doc = orjson.loads(orjson.dumps(document))
    for op in ops:
        *parents, last = _tokens(op["path"])
        node: Any = doc
        for token in parents:
            node = node[int(token)] if isinstance(node, list) else node[token]
        if op["op"] == "test":
            current = node[int(last)] if isinstance(node, list) else node[last]
            assert current == op["value"], f"test failed at {op['path']}"
        elif op["op"] == "add":
            if isinstance(node, list):
                node.insert(len(node) if last == "-" else int(last), op["value"])
            else:
                node[last] = op["value"]
        elif op["op"] == "replace":
            if isinstance(node, list):
                node[int(last)] = op["value"]
            else:
                assert last in node, f"replace of a missing member {op['path']}"
                node[last] = op["value"]
        elif op["op"] == "remove":
            del node[int(last) if isinstance(node, list) else last]
        else:
            raise AssertionError(f"unexpected op {op}")
    return doc


def caches(*objects: Obj) -> Any:
    """``fluid.webhook.datasets.Caches`` over real informer Stores holding ``objects``."""
    from fluid.api import kinds
    from fluid.reconcile.store import Store
    from fluid.webhook.datasets import Caches

    stores = {
        key: Store() for key in ("PersistentVolumeClaim", "Dataset", "PersistentVolume", "DaemonSet")
    }
    runtimes = {info.runtime_type: Store() for info in kinds.RUNTIMES if info.runtime_type}
    by_kind = {info.kind: runtimes[info.runtime_type] for info in kinds.RUNTIMES if info.runtime_type}
    for obj in objects:
        store = stores[obj["kind"]] if obj["kind"] in stores else by_kind[obj["kind"]]
        store.upsert(obj)
    return Caches(
        pvcs=stores["PersistentVolumeClaim"],
        datasets=stores["Dataset"],
        runtimes=runtimes,
        pvs=stores["PersistentVolume"],
        daemonsets=stores["DaemonSet"],
    )


def bound_dataset(ns: str, name: str, *, runtime_type: str = "alluxio", **runtime_kwargs: Any) -> list[Obj]:
    """Everything a Bound dataset has once its runtime (Alluxio unless said) is ready."""
    kind = next(i.kind for i in kinds.RUNTIMES if i.runtime_type == runtime_type)
    return [
        dataset(ns, name, runtime_type=runtime_type),
        runtime(ns, name, kind=kind, **runtime_kwargs),
        pvc(ns, name),
        pv(ns, name, path=fluid_path(ns, name, runtime_type)),
        fuse_daemonset(ns, name, runtime_type=runtime_type),
    ]
