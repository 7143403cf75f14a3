"""What the end-to-end runtime tests (Alluxio seed 004, Jindo, GooseFS) read from the cluster.

``kubectl get`` rows by column name, pod selectors, the nodes holding a runtime's Ready
workers, the labels a dataset put on nodes (seed 000's set), scaling through the scale
subresource, and the check that a deleted runtime left nothing behind. Talks to the real
API server only; knows no engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fluid.api import constants as c
from fluid.api import kinds
from fluid.api.kinds import KindInfo
from fluid.kube import KubeClient, resources

Obj = dict[str, Any]


def row(table: Obj, name: str) -> dict[str, Any]:
    """The cells of ``name``'s row keyed by column name, as ``kubectl get -o wide`` prints."""
    columns = [col["name"] for col in table["columnDefinitions"]]
    for entry in table["rows"]:
        if entry["object"]["metadata"]["name"] == name:
            return dict(zip(columns, entry["cells"], strict=True))
    raise AssertionError(f"{name} not in table")


def selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items())


def instance(runtime_type: str, name: str) -> dict[str, str]:
    """The labels every pod of the runtime carries."""
    return {"app.kubernetes.io/name": runtime_type, "app.kubernetes.io/instance": name}


def ready(pod: Obj) -> bool:
    return any(x["type"] == "Ready" and x["status"] == "True"
               for x in (pod.get("status") or {}).get("conditions") or [])


async def ready_pod_names(kube: KubeClient, namespace: str, labels: Mapping[str, str]) -> set[str]:
    """Pods matching ``labels`` that are scheduled on a kwok node and Ready."""
    pods, _ = await kube.list_all(resources.PODS, namespace, label_selector=selector(labels))
    return {p["metadata"]["name"] for p in pods
            if p["spec"].get("nodeName", "").startswith("kwok") and ready(p)}


async def worker_nodes(kube: KubeClient, namespace: str, labels: Mapping[str, str]) -> set[str]:
    """Nodes of the Ready worker pods among the pods matching ``labels``."""
    pods, _ = await kube.list_all(resources.PODS, namespace, label_selector=selector(
        {**labels, "app.kubernetes.io/component": "worker"}))
    return {p["spec"].get("nodeName", "") for p in pods if ready(p)}


async def labelled_nodes(kube: KubeClient, namespace: str, name: str) -> dict[str, dict[str, str]]:
    """Per node, every label that names this dataset, plus fluid_exclusive and the counter."""
    nodes, _ = await kube.list_all(resources.NODES)
    token = f"{namespace}-{name}"
    result = {}
    for node in nodes:
        labels = node["metadata"].get("labels") or {}
        mine = {k: v for k, v in labels.items() if token in k}
        if labels.get(c.LABEL_EXCLUSIVE) == f"{namespace}_{name}":
            mine[c.LABEL_EXCLUSIVE] = labels[c.LABEL_EXCLUSIVE]
        if mine:
            mine[c.LABEL_DATASET_NUM] = labels.get(c.LABEL_DATASET_NUM, "")
            result[node["metadata"]["name"]] = mine
    return result


async def labels_follow_workers(kube: KubeClient, namespace: str, name: str,
                                labels: Mapping[str, str], count: int) -> bool:
    """Exactly ``count`` nodes are labelled for the dataset, and they are the workers'."""
    labelled = await labelled_nodes(kube, namespace, name)
    return len(labelled) == count and set(labelled) == await worker_nodes(kube, namespace, labels)


async def scale(kube: KubeClient, kind: KindInfo, namespace: str, name: str,
                replicas: int) -> Obj:
    """``kubectl scale <kind> --replicas=N``: a patch of the scale subresource."""
    return await kube.merge_patch(kind.resource, name, namespace,
                                  {"spec": {"replicas": replicas}}, subresource="scale")


async def left_behind(kube: KubeClient, *, kind: KindInfo, namespace: str, name: str,
                      labels: Mapping[str, str]) -> list[str]:
    """What is still there of a deleted Dataset and runtime: the two objects, the PV and
    PVC, the runtime's workloads, ConfigMaps, Services and pods, and its node labels."""
    named = [(kinds.DATASET.resource, name, namespace), (kind.resource, name, namespace),
             (resources.PERSISTENT_VOLUME_CLAIMS, name, namespace),
             (resources.PERSISTENT_VOLUMES, f"{namespace}-{name}", None)]
    found = [f"{res.kind}/{obj}" for res, obj, ns in named
             if await kube.get_or_none(res, obj, ns) is not None]
    for res in (resources.STATEFULSETS, resources.DAEMONSETS, resources.CONFIGMAPS,
                resources.SERVICES, resources.PODS):
        items, _ = await kube.list_all(res, namespace, label_selector=selector(labels))
        found += [f"{res.kind}/{i['metadata']['name']}" for i in items]
    found += [f"Node/{node} labels" for node in await labelled_nodes(kube, namespace, name)]
    return found
