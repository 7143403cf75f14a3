"""What the end-to-end runtime tests (Alluxio seed 004, Jindo, GooseFS) share: reading the
cluster the way a user would, and the steps every runtime's flow goes through.

``kubectl get`` rows by column name, pod selectors, the nodes holding a runtime's Ready
workers, the labels a dataset put on nodes (seed 000's set), the Dataset Bound with its
columns, the PVC Bound, scaling through the scale subresource, deletion leaving nothing
behind, and the check that no Secret value leaked into objects, Events, commands or logs.
Talks to the real API server only; knows no engine.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml

from fluid.api import constants as c
from fluid.api import kinds
from fluid.api.kinds import KindInfo
from fluid.engines.base import EngineConfig, EngineFactory, EngineSettings, RecordingExecutor
from fluid.kube import KubeClient, resources
from fluid.scheduling.ports import PortAllocator, PortRange, load_from_cluster, owner_key
from fluid.testing.wait import eventually

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "engines"))
from engines_driver import namespace_text

Obj = dict[str, Any]


# -- reading the cluster ----------------------------------------------------------------------


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


def exclusive_node_labels(runtime_type: str, namespace: str, name: str, *, medium: str,
                          size: str) -> dict[str, str]:
    """Seed 000's label set on a cache node of an Exclusive dataset with one tier:
    ``medium`` is the label's medium letter (``m`` MEM, ``d`` SSD), ``size`` the tier's."""
    ns_name = f"{namespace}-{name}"
    return {
        c.LABEL_DATASET_NUM: "1",
        f"fluid.io/s-{runtime_type}-{ns_name}": "true",
        f"fluid.io/s-{ns_name}": "true",
        f"fluid.io/s-h-{runtime_type}-{medium}-{ns_name}": size,
        f"fluid.io/s-h-{runtime_type}-t-{ns_name}": size,
        c.LABEL_EXCLUSIVE: f"{namespace}_{name}",
    }


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


async def objects_text(kube: KubeClient, namespace: str, kind: KindInfo) -> str:
    """Every object a Secret value must never reach, as one text: ConfigMaps, workloads,
    pods, Services, Events, the runtime and the Dataset."""
    return await namespace_text(kube, namespace, (
        resources.CONFIGMAPS, resources.STATEFULSETS, resources.DAEMONSETS, resources.PODS,
        resources.SERVICES, resources.EVENTS, kind.resource, kinds.DATASET.resource))


# -- setting up --------------------------------------------------------------------------------


def engine_settings(kube: KubeClient, *, kind: KindInfo, factory: EngineFactory,
                    executor: RecordingExecutor, ports: PortRange) -> EngineSettings:
    """One engine kind, a recorded exec boundary, fast resyncs, ports rebuilt from the cluster."""
    return EngineSettings(
        factories={kind.kind: factory}, executor=executor,
        ports=PortAllocator(ports, loader=load_from_cluster(kube)),
        config=EngineConfig(sync_retry_seconds=0.0), resync_seconds=1.0, setup_retry_seconds=0.5)


async def create_secret(kube: KubeClient, namespace: str, name: str,
                        values: Mapping[str, str]) -> None:
    """``kubectl create secret generic <name> --from-literal=...``."""
    await kube.create({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": name, "namespace": namespace},
                       "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}})


async def apply_yaml(kube: KubeClient, text: str, namespace: str) -> None:
    """``kubectl apply -n <namespace> -f`` of a multi-document manifest."""
    for doc in yaml.safe_load_all(text):
        if doc:
            doc["metadata"]["namespace"] = namespace
            await kube.create(doc)


# -- the steps of a runtime's flow --------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Expected:
    """One Dataset and its runtime, and what a user should see of them once set up."""

    kind: KindInfo
    namespace: str
    name: str
    fuse_dir: str
    """Last element of the FUSE mount path (PV ``fluid_path``; ``mount_type`` fuse.<it>)."""
    ufs_total: str
    capacity: str
    files: str
    node_labels: dict[str, str]
    """Seed 000's labels on each cache node."""

    @property
    def runtime_type(self) -> str:
        return str(self.kind.runtime_type)

    @property
    def labels(self) -> dict[str, str]:
        return instance(self.runtime_type, self.name)


async def bound_and_labelled(kube: KubeClient, want: Expected) -> dict[str, Any]:
    """Dataset Bound with its ``kubectl get`` columns and status, the runtime Ready, the PVC
    Bound to its PV, the worker's node labelled; the runtime's ``kubectl get`` row."""
    ns, name = want.namespace, want.name

    async def filled() -> bool:
        cells = row(await kube.table(kinds.DATASET.resource, ns), name)
        return (cells["Phase"], cells["Ufs Total Size"], cells["Cache Capacity"]) == (
            "Bound", want.ufs_total, want.capacity)
    await eventually(filled, timeout=60, what="dataset Bound with its columns filled")
    cells = row(await kube.table(kinds.DATASET.resource, ns), name)
    assert (cells["Cached"], cells["Cached Percentage"], cells["TOTAL FILES"]) == (
        "0.00B", "0.0%", want.files)
    status = (await kube.get(kinds.DATASET.resource, name, ns))["status"]
    assert status["runtimes"] == [{"name": name, "namespace": ns, "category": "Accelerate",
                                   "type": want.runtime_type, "masterReplicas": 1}]
    assert [(x["type"], x["status"]) for x in status["conditions"]
            if x["type"] == "Ready"] == [("Ready", "True")]
    runtime_cells = row(await kube.table(want.kind.resource, ns), name)
    assert (runtime_cells["Master Phase"], runtime_cells["Worker Phase"],
            runtime_cells["Fuse Phase"], runtime_cells["Ready Workers"]) == (
        "Ready", "Ready", "Ready", 1)

    async def pvc_bound() -> bool:
        pvc = await kube.get_or_none(resources.PERSISTENT_VOLUME_CLAIMS, name, ns)
        return ((pvc or {}).get("status") or {}).get("phase") == "Bound"
    await eventually(pvc_bound, timeout=30, what=f"PVC {name} Bound")
    pv = await kube.get(resources.PERSISTENT_VOLUMES, f"{ns}-{name}")
    assert pv["spec"]["claimRef"]["name"] == name
    attributes = pv["spec"]["csi"]["volumeAttributes"]
    assert (attributes["fluid_path"], attributes["mount_type"]) == (
        f"/runtime-mnt/{want.runtime_type}/{ns}/{name}/{want.fuse_dir}", f"fuse.{want.fuse_dir}")

    await eventually(lambda: labels_follow_workers(kube, ns, name, want.labels, 1),
                     timeout=30, what="worker node labelled")
    assert list((await labelled_nodes(kube, ns, name)).values()) == [want.node_labels]
    return runtime_cells


async def scale(kube: KubeClient, kind: KindInfo, namespace: str, name: str,
                replicas: int) -> Obj:
    """``kubectl scale <kind> --replicas=N``: a patch of the scale subresource."""
    return await kube.merge_patch(kind.resource, name, namespace,
                                  {"spec": {"replicas": replicas}}, subresource="scale")


async def scale_out_and_back(kube: KubeClient, want: Expected) -> Obj:
    """1 → 3 workers on 3 nodes, each with the node labels, → 1; the Scale read at 3."""
    ns, name = want.namespace, want.name
    await scale(kube, want.kind, ns, name, 3)
    await eventually(lambda: labels_follow_workers(kube, ns, name, want.labels, 3),
                     timeout=60, what="3 workers Ready and labelled")
    assert all(v == want.node_labels for v in (await labelled_nodes(kube, ns, name)).values())
    view: Obj = {}

    async def reported() -> bool:  # the runtime's status follows the StatefulSet's
        nonlocal view
        view = await scale(kube, want.kind, ns, name, 3)  # unchanged: reads the Scale back
        return bool(view["status"].get("replicas") == 3)
    await eventually(reported, timeout=30, what="the Scale reports 3 replicas")
    await scale(kube, want.kind, ns, name, 1)
    await eventually(lambda: labels_follow_workers(kube, ns, name, want.labels, 1),
                     timeout=60, what="back to 1 worker, 1 labelled node")
    runtime = await kube.get(want.kind.resource, name, ns)
    assert {"WorkersScaledOut", "WorkersScaledIn"} <= {
        x["type"] for x in runtime["status"]["conditions"]}
    return view


async def delete_and_wait_clean(kube: KubeClient, want: Expected, ports: PortAllocator) -> None:
    """Delete the Dataset and the runtime; nothing of them stays, their host ports go."""
    await delete_runtime_and_wait_clean(kube, kind=want.kind, namespace=want.namespace,
                                        name=want.name, ports=ports)


async def delete_runtime_and_wait_clean(kube: KubeClient, *, kind: KindInfo, namespace: str,
                                        name: str, ports: PortAllocator) -> None:
    """``delete_and_wait_clean`` for a Dataset and runtime named ``name`` of ``kind``."""
    await kube.delete(kinds.DATASET.resource, name, namespace)
    await kube.delete(kind.resource, name, namespace)
    labels = instance(str(kind.runtime_type), name)

    async def all_gone() -> bool:
        return not await left_behind(kube, kind=kind, namespace=namespace, name=name,
                                     labels=labels)
    await eventually(all_gone, timeout=90, what="no workload, PV, PVC or node label left")
    assert ports.held_by(owner_key(kind.kind, namespace, name)) == {}


def assert_secrets_kept(values: Iterable[str], *, text: str, logs: list[Any],
                        executor: RecordingExecutor) -> None:
    """No Secret value in the objects' text, the commands run in pods or the log events."""
    assert any(e.get("event") == "dataset_bound" for e in logs), "structlog output not captured"
    for value in values:
        assert value not in text, "a Secret value reached an object or Event"
        assert value not in repr(executor.calls), "a Secret value reached a command"
        assert value not in repr(logs), "a Secret value reached the logs"
