"""Dataset and AlluxioRuntime lifecycle on the real control plane, beyond seed 004's flow.

- an ``https://`` mount goes through ``alluxio fs mount`` (exact argv), and mounts added or
  removed at run time are mounted/unmounted while the Dataset passes through Updating;
- a Dataset whose PVC a pod uses is not deleted until the pod is gone (condition + Event
  name the pod), then Dataset and runtime go with everything they created;
- a runtime deleted while a pod uses the PVC waits (an Event names the pod), then goes and
  resets its Dataset to NotBound;
- the port allocator rebuilt from the cluster holds exactly the ports a runtime uses;
- Exclusive and Shared placement and the Dataset's nodeAffinity decide where workers run;
- a bound Dataset turns Failed while no worker is ready and Bound again when they return.
"""

from __future__ import annotations

from typing import Any

import pytest
from lifecycle_support import FluidEnv, fluid_labels, node_labels, source_pvc

from fluid.api import constants as c
from fluid.api import kinds
from fluid.kube import KubeClient, resources
from fluid.scheduling.ports import PortAllocator, PortRange, load_from_cluster, owner_key
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

Obj = dict[str, Any]
HBASE = "https://mirrors.tuna.tsinghua.edu.cn/apache/hbase/stable/"
SPARK = "https://mirrors.bit.edu.cn/apache/spark/"


def dataset(namespace: str, name: str, spec: Obj) -> Obj:
    return {"apiVersion": c.API_VERSION, "kind": "Dataset",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def runtime(namespace: str, name: str, *, replicas: int = 1, quota: str = "2Gi") -> Obj:
    return {"apiVersion": c.API_VERSION, "kind": "AlluxioRuntime",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "tieredstore": {"levels": [
                {"mediumtype": "MEM", "path": "/dev/shm", "quota": quota,
                 "high": "0.95", "low": "0.7"}]}}}


async def bound(fluid: FluidEnv, namespace: str, name: str, timeout: float = 60) -> None:
    async def check() -> bool:
        return await fluid.phase(namespace, name) == "Bound"
    await eventually(check, timeout=timeout, what=f"{namespace}/{name} Bound")


async def pvc_dataset_bound(fluid: FluidEnv, kube: KubeClient, namespace: str) -> None:
    """Dataset ``demo`` over the source PVC, its runtime, both Bound, and its own PVC Bound."""
    await source_pvc(kube, namespace)
    await kube.create(dataset(namespace, "demo", {"mounts": [{"mountPoint": "pvc://fluid-pvc",
                                                               "name": "data", "path": "/"}]}))
    await kube.create(runtime(namespace, "demo"))
    await bound(fluid, namespace, "demo")

    async def pvc_bound() -> bool:
        pvc = await kube.get_or_none(resources.PERSISTENT_VOLUME_CLAIMS, "demo", namespace)
        return ((pvc or {}).get("status") or {}).get("phase") == "Bound"
    await eventually(pvc_bound, timeout=30, what="dataset PVC Bound")


async def ready_worker_nodes(kube: KubeClient, namespace: str, name: str) -> dict[str, str]:
    """Ready worker pod -> node."""
    pods, _ = await kube.list_all(resources.PODS, namespace, label_selector=(
        f"app.kubernetes.io/instance={name},app.kubernetes.io/component=worker"))
    return {p["metadata"]["name"]: p["spec"]["nodeName"] for p in pods
            if any(x["type"] == "Ready" and x["status"] == "True"
                   for x in (p.get("status") or {}).get("conditions") or [])}


async def test_https_mounts_through_alluxio_and_mounts_change_at_run_time(
    fluid: FluidEnv, kube: KubeClient, namespace: str
) -> None:
    # Seed 000's hbase Dataset and AlluxioRuntime (2 workers, 2Gi of MEM).
    await kube.create(dataset(namespace, "hbase", {"mounts": [{"mountPoint": HBASE, "name": "hbase"}]}))
    await kube.create(runtime(namespace, "hbase", replicas=2))
    await bound(fluid, namespace, "hbase")
    mount_hbase = ("alluxio", "fs", "mount", "/hbase", HBASE)
    assert fluid.commands(namespace).count(mount_hbase) == 1
    assert set(fluid.commands(namespace)) >= {("alluxio", "fs", "mount"), mount_hbase}

    async def two_nodes_labelled() -> bool:
        return len(fluid_labels(await node_labels(kube), namespace, "hbase")) == 2
    await eventually(two_nodes_labelled, timeout=60, what="both worker nodes labelled")
    for labels in fluid_labels(await node_labels(kube), namespace, "hbase").values():
        assert labels[f"fluid.io/s-h-alluxio-m-{namespace}-hbase"] == "2GiB"
        assert labels[f"fluid.io/s-h-alluxio-t-{namespace}-hbase"] == "2GiB"

    # A mount added at run time is mounted through the master; the Dataset goes Updating → Bound.
    mounts = [{"mountPoint": HBASE, "name": "hbase"}, {"mountPoint": SPARK, "name": "spark"}]
    await kube.merge_patch(kinds.DATASET.resource, "hbase", namespace, {"spec": {"mounts": mounts}})

    async def spark_mounted() -> bool:
        ds = await fluid.dataset(namespace, "hbase") or {}
        recorded = [m["mountPoint"] for m in (ds.get("status") or {}).get("mounts") or []]
        return recorded == [HBASE, SPARK] and ds["status"]["phase"] == "Bound"
    await eventually(spark_mounted, timeout=30, what="spark mount applied")
    assert fluid.commands(namespace).count(("alluxio", "fs", "mount", "/spark", SPARK)) == 1
    assert fluid.commands(namespace).count(mount_hbase) == 1
    events, _ = await kube.list_all(resources.EVENTS, namespace)
    assert any(e["reason"] == "MountsUpdated" for e in events)

    # Removing it unmounts it.
    await kube.merge_patch(kinds.DATASET.resource, "hbase", namespace,
                           {"spec": {"mounts": mounts[:1]}})

    async def spark_unmounted() -> bool:
        return ("alluxio", "fs", "unmount", "/spark") in fluid.commands(namespace)
    await eventually(spark_unmounted, timeout=30, what="spark unmounted")
    assert not any(cmd[:3] == ("alluxio", "fs", "unmount") and cmd[3] != "/spark"
                   for cmd in fluid.commands(namespace))
    await fluid.teardown(namespace, "hbase")
    assert fluid_labels(await node_labels(kube), namespace, "hbase") == {}


async def test_dataset_deletion_waits_for_pods_using_its_pvc(
    fluid: FluidEnv, kube: KubeClient, namespace: str
) -> None:
    await pvc_dataset_bound(fluid, kube, namespace)
    await kube.create({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nginx", "namespace": namespace},
        "spec": {"containers": [{"name": "nginx", "image": "nginx",
                                 "volumeMounts": [{"mountPath": "/data", "name": "vol"}]}],
                 "volumes": [{"name": "vol", "persistentVolumeClaim": {"claimName": "demo"}}]},
    })
    await kube.delete(kinds.DATASET.resource, "demo", namespace)

    async def in_use_reported() -> bool:
        ds = await fluid.dataset(namespace, "demo") or {}
        conds = (ds.get("status") or {}).get("conditions") or []
        return any(x.get("reason") == "DatasetInUse" and f"{namespace}/nginx" in x["message"]
                   for x in conds)
    await eventually(in_use_reported, timeout=30, what="DatasetInUse condition naming the pod")
    events, _ = await kube.list_all(resources.EVENTS, namespace)
    assert any(e["reason"] == "ErrorDeleteDataset" and f"{namespace}/nginx" in e["message"]
               for e in events)
    assert await fluid.dataset(namespace, "demo") is not None
    assert await kube.get_or_none(resources.PERSISTENT_VOLUMES, f"{namespace}-demo") is not None

    await kube.delete(resources.PODS, "nginx", namespace)

    async def everything_gone() -> bool:
        return (await fluid.dataset(namespace, "demo") is None
                and await fluid.runtime(namespace, "demo") is None
                and await kube.get_or_none(resources.PERSISTENT_VOLUMES, f"{namespace}-demo") is None
                and await kube.get_or_none(resources.PERSISTENT_VOLUME_CLAIMS, "demo", namespace) is None)
    await eventually(everything_gone, timeout=90, what="dataset, runtime, PV and PVC gone")
    assert fluid.ports.held_by(owner_key("AlluxioRuntime", namespace, "demo")) == {}
    assert fluid_labels(await node_labels(kube), namespace, "demo") == {}


async def test_port_allocator_rebuilds_from_the_cluster(
    fluid: FluidEnv, kube: KubeClient, namespace: str
) -> None:
    await kube.create(dataset(namespace, "ports", {"mounts": [{"mountPoint": HBASE, "name": "h"}]}))
    await kube.create(runtime(namespace, "ports"))
    await bound(fluid, namespace, "ports")
    owner = owner_key("AlluxioRuntime", namespace, "ports")
    held = fluid.ports.held_by(owner)
    assert len(held) == 9  # master/job-master rpc+web, worker rpc+web, job-worker rpc/data/web

    fresh = PortAllocator(PortRange(20000, 26000), loader=load_from_cluster(kube))
    extra = await fresh.allocate("test/other", ["x"])
    assert fresh.held_by(owner) == held
    assert extra["x"] not in held.values()
    master = await kube.get(resources.STATEFULSETS, "ports-master", namespace)
    container_ports = {p["containerPort"] for ctr in master["spec"]["template"]["spec"]["containers"]
                       for p in ctr["ports"]}
    assert container_ports == {held[n] for n in ("master-rpc", "master-web", "job-master-rpc",
                                                 "job-master-web")}
    await fluid.teardown(namespace, "ports")
    assert fluid.ports.held_by(owner) == {}


async def test_exclusive_shared_placement_and_node_affinity(
    fluid: FluidEnv, kube: KubeClient, namespace: str, workloads: list[str]
) -> None:
    zone_a = {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["zone-a"]}]}]}
    await kube.create(dataset(namespace, "excl", {
        "mounts": [{"mountPoint": HBASE, "name": "h"}], "nodeAffinity": {"required": zone_a}}))
    await kube.create(runtime(namespace, "excl"))
    await bound(fluid, namespace, "excl")

    async def excl_ready() -> bool:
        return len(await ready_worker_nodes(kube, namespace, "excl")) == 1
    await eventually(excl_ready, timeout=60, what="exclusive worker Ready")
    (excl_node,) = (await ready_worker_nodes(kube, namespace, "excl")).values()
    nodes = await node_labels(kube)
    assert nodes[excl_node]["topology.kubernetes.io/zone"] == "zone-a"

    await kube.create(dataset(namespace, "shared", {
        "mounts": [{"mountPoint": SPARK, "name": "s"}], "placement": "Shared"}))
    await kube.create(runtime(namespace, "shared", replicas=len(workloads)))
    await bound(fluid, namespace, "shared")

    async def shared_spread() -> bool:
        return len(await ready_worker_nodes(kube, namespace, "shared")) == len(workloads) - 1
    await eventually(shared_spread, timeout=60, what="shared workers on every other node")
    shared_nodes = set((await ready_worker_nodes(kube, namespace, "shared")).values())
    assert excl_node not in shared_nodes

    async def labels_settled() -> bool:
        labels = fluid_labels(await node_labels(kube), namespace, "shared")
        return set(labels) == shared_nodes
    await eventually(labels_settled, timeout=30, what="shared nodes labelled")
    nodes = await node_labels(kube)
    assert nodes[excl_node][c.LABEL_EXCLUSIVE] == f"{namespace}_excl"
    for node in shared_nodes:
        assert c.LABEL_EXCLUSIVE not in nodes[node]
        assert nodes[node][c.LABEL_DATASET_NUM] == "1"
        assert nodes[node][f"fluid.io/s-alluxio-{namespace}-shared"] == "true"
    shared_rt = await fluid.runtime(namespace, "shared") or {}
    assert shared_rt["status"]["workerPhase"] == "PartialReady"

    await fluid.teardown(namespace, "shared")
    await fluid.teardown(namespace, "excl")
    assert fluid_labels(await node_labels(kube), namespace, "excl") == {}
    assert fluid_labels(await node_labels(kube), namespace, "shared") == {}


async def test_runtime_deletion_waits_for_the_pvc_then_resets_the_dataset(
    fluid: FluidEnv, kube: KubeClient, namespace: str
) -> None:
    await pvc_dataset_bound(fluid, kube, namespace)
    await kube.create({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reader", "namespace": namespace},
        "spec": {"containers": [{"name": "c", "image": "busybox"}],
                 "volumes": [{"name": "vol", "persistentVolumeClaim": {"claimName": "demo"}}]},
    })

    async def pod_running() -> bool:
        pod = await kube.get(resources.PODS, "reader", namespace)
        return (pod.get("status") or {}).get("phase") == "Running"
    await eventually(pod_running, timeout=30, what="reader pod Running")
    await kube.delete(kinds.ALLUXIO_RUNTIME.resource, "demo", namespace)

    async def waiting_reported() -> bool:
        events, _ = await kube.list_all(resources.EVENTS, namespace)
        return any(e["reason"] == "DeleteVolumeWaiting" and "reader" in e["message"] for e in events)
    await eventually(waiting_reported, timeout=30, what="DeleteVolumeWaiting naming the pod")
    assert await fluid.runtime(namespace, "demo") is not None
    assert await kube.get_or_none(resources.STATEFULSETS, "demo-worker", namespace) is not None

    await kube.delete(resources.PODS, "reader", namespace)

    async def runtime_gone() -> bool:
        return await fluid.runtime(namespace, "demo") is None
    await eventually(runtime_gone, timeout=60, what="runtime gone once the pod left")
    ds = await fluid.dataset(namespace, "demo") or {}
    status = ds.get("status") or {}
    assert status["phase"] == "NotBound"
    assert status.get("conditions") == []
    assert not status.get("runtimes")
    assert not status.get("cacheStates")
    assert not status.get("ufsTotal")
    assert await kube.get_or_none(resources.PERSISTENT_VOLUMES, f"{namespace}-demo") is None
    assert fluid_labels(await node_labels(kube), namespace, "demo") == {}
    await fluid.teardown(namespace, "demo")


async def test_dataset_fails_while_workers_are_down_and_recovers(
    fluid: FluidEnv, kube: KubeClient, namespace: str, workloads: list[str]
) -> None:
    await kube.create(dataset(namespace, "health", {"mounts": [{"mountPoint": HBASE, "name": "h"}]}))
    await kube.create(runtime(namespace, "health"))
    await bound(fluid, namespace, "health")
    try:
        for node in workloads:  # workers that go away cannot come back anywhere
            await kube.merge_patch(resources.NODES, node, None, {"spec": {"unschedulable": True}})
        await kube.delete(resources.PODS, "health-worker-0", namespace)

        async def failed() -> bool:
            return await fluid.phase(namespace, "health") == "Failed"
        await eventually(failed, timeout=60, what="dataset Failed while no worker is ready")
        rt = await fluid.runtime(namespace, "health") or {}
        assert rt["status"]["workerPhase"] == "NotReady"
    finally:
        for node in workloads:
            await kube.merge_patch(resources.NODES, node, None, {"spec": {"unschedulable": False}})
    await bound(fluid, namespace, "health")
    rt = await fluid.runtime(namespace, "health") or {}
    assert rt["status"]["workerPhase"] == "Ready"
    await fluid.teardown(namespace, "health")
