"""Cross-namespace sharing: the reference controller and engine against a real API server.

The source dataset (development/spark) is prepared the way its runtime controller leaves
it: Bound, with cache states, its PV/PVC, its FUSE DaemonSet and the ConfigMap that one
uses, and an AlluxioRuntime with status. The reference controller runs in a Manager; the
reference engine is driven step by step as the runtime controller drives engines.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from dataops_support import bound_dataset, delete_dataset_volume, ensure_service_account

from fluid.api import kinds
from fluid.controllers import ControllerContext, reference
from fluid.engines import base
from fluid.engines.reference import ReferenceEngine
from fluid.kube import KubeClient, events, resources, slim
from fluid.reconcile import Manager, ManagerConfig
from fluid.scheduling.ports import PortAllocator
from fluid.testing.managers import running
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

FUSE_CONTAINER = {"name": "alluxio-fuse", "image": "alluxio/alluxio-dev:2.9.0",
                  "envFrom": [{"configMapRef": {"name": "spark-config"}}]}
SOURCE_STATUS = {"ufsTotal": "3.41GiB", "fileNum": "1024", "cacheStates": {
    "cached": "1.31GiB", "cacheCapacity": "4.00GiB", "cachedPercentage": "38.4%"}}


@pytest.fixture
async def production(kube: KubeClient) -> AsyncIterator[str]:
    name = f"p-{uuid.uuid4().hex[:10]}"
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    await kube.delete(resources.NAMESPACES, name)


async def source(kube: KubeClient, namespace: str) -> None:
    """development/spark as its Alluxio runtime controller leaves it."""
    await bound_dataset(kube, namespace, "spark", volume=True, status=SOURCE_STATUS,
                        mounts=[{"mountPoint": "https://mirrors.bit.edu.cn/apache/spark/",
                                 "name": "spark", "path": "/"}])
    await kube.create({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "spark-config", "namespace": namespace},
                       "data": {"ALLUXIO_JAVA_OPTS": "-Dalluxio.master.hostname=spark-master-0"}})
    labels = {"app.kubernetes.io/name": "alluxio", "app.kubernetes.io/instance": "spark",
              "app.kubernetes.io/component": "fuse"}
    await kube.create({"apiVersion": "apps/v1", "kind": "DaemonSet",
                       "metadata": {"name": "spark-fuse", "namespace": namespace, "labels": labels},
                       "spec": {"selector": {"matchLabels": labels}, "template": {
                           "metadata": {"labels": labels},
                           "spec": {"nodeSelector": {f"fluid.io/f-{namespace}-spark": "true"},
                                    "containers": [FUSE_CONTAINER]}}}})
    await kube.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "AlluxioRuntime",
                       "metadata": {"name": "spark", "namespace": namespace},
                       "spec": {"replicas": 1}})
    await kube.patch_status(kinds.ALLUXIO_RUNTIME.resource, "spark", namespace, {
        "masterPhase": "Ready", "workerPhase": "Ready", "fusePhase": "Ready",
        "workerNumberReady": 1, "masterNumberReady": 1})


def deps(kube: KubeClient) -> base.EngineDeps:
    return base.EngineDeps(client=kube, view=base.MemoryView(), ports=PortAllocator(),
                           events=events.EventRecorder(kube, "test"), executor=base.RecordingExecutor())


async def snapshot(kube: KubeClient, namespace: str) -> base.Snapshot:
    return base.Snapshot(runtime=await kube.get(kinds.THIN_RUNTIME.resource, "spark", namespace),
                         dataset=await kube.get(kinds.DATASET.resource, "spark", namespace))


@contextlib.asynccontextmanager
async def reference_controller(kube: KubeClient) -> AsyncIterator[Manager]:
    manager = Manager(kube, ManagerConfig(health_port=None, transforms=slim.TRANSFORMS))
    reference.setup(manager, ControllerContext(client=kube))
    async with running(manager):
        yield manager


async def test_reference_dataset_shares_the_source(
    kube: KubeClient, namespace: str, production: str, fluid_crds: list[str], workloads: list[str]
) -> None:
    await source(kube, namespace)
    try:
        await _share(kube, namespace, production)
    finally:
        await delete_dataset_volume(kube, namespace, "spark")
        await kube.delete(resources.PERSISTENT_VOLUMES, f"{production}-spark")


async def _share(kube: KubeClient, development: str, production: str) -> None:
    await ensure_service_account(kube, production)
    ref = await kube.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
                             "metadata": {"name": "spark", "namespace": production},
                             "spec": {"mounts": [{"mountPoint": f"dataset://{development}/spark"}]}})
    async with reference_controller(kube):
        async def runtime_created() -> bool:
            return await kube.get_or_none(kinds.THIN_RUNTIME.resource, "spark", production) is not None

        await eventually(runtime_created, timeout=20, what="ThinRuntime for the reference dataset")
    thin = await kube.get(kinds.THIN_RUNTIME.resource, "spark", production)
    assert thin["spec"].get("profileName", "") == ""
    assert thin["metadata"]["ownerReferences"][0]["uid"] == ref["metadata"]["uid"]
    assert thin["metadata"]["labels"]["fluid.io/dataset-id"] == f"{production}-spark"

    engine = ReferenceEngine(deps(kube), base.RuntimeKey("ThinRuntime", production, "spark"))
    snap = await snapshot(kube, production)
    engine.validate(snap)
    assert await engine.setup(snap)
    await engine.create_volume(await snapshot(kube, production))
    await engine.sync(await snapshot(kube, production))

    src = await kube.get(kinds.DATASET.resource, "spark", development)
    assert src["status"]["datasetRef"] == [f"{production}/spark"]
    mirrored = (await kube.get(kinds.DATASET.resource, "spark", production))["status"]
    assert mirrored["phase"] == "Bound"
    assert mirrored["cacheStates"] == SOURCE_STATUS["cacheStates"]
    assert mirrored["runtimes"] == [{"name": "spark", "namespace": production, "category": "Accelerate",
                                     "type": "thin", "masterReplicas": 1}]
    assert "datasetRef" not in mirrored
    assert await columns(kube, production) == await columns(kube, development)

    thin_status = (await kube.get(kinds.THIN_RUNTIME.resource, "spark", production))["status"]
    assert thin_status["workerPhase"] == "Ready"
    assert thin_status["mounts"] == [{"mountPoint": f"dataset://{development}/spark"}]

    copy = await kube.get(resources.DAEMONSETS, "spark-fuse", production)
    assert copy["spec"]["template"]["spec"]["nodeSelector"] == {"fluid.io/fuse-balloon": "true"}
    config = await kube.get(resources.CONFIGMAPS, "spark-config", production)
    assert config["data"]["ALLUXIO_JAVA_OPTS"] == "-Dalluxio.master.hostname=spark-master-0"

    source_pv = await kube.get(resources.PERSISTENT_VOLUMES, f"{development}-spark")
    pv = await kube.get(resources.PERSISTENT_VOLUMES, f"{production}-spark")
    attributes = pv["spec"]["csi"]["volumeAttributes"]
    assert attributes["fluid_path"] == source_pv["spec"]["csi"]["volumeAttributes"]["fluid_path"]
    assert attributes["fluid_sub_path"] == ""
    claim_ref = pv["spec"]["claimRef"]
    assert (claim_ref["namespace"], claim_ref["name"]) == (production, "spark")
    assert pv["spec"]["accessModes"] == ["ReadOnlyMany"]
    pvc = await kube.get(resources.PERSISTENT_VOLUME_CLAIMS, "spark", production)
    assert pvc["metadata"]["labels"]["fluid.io/dataset.referring-name"] == "spark"
    assert pvc["metadata"]["labels"]["fluid.io/dataset.referring-namespace"] == development

    await kube.create({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": "nginx", "namespace": production},
                       "spec": {"containers": [{"name": "nginx", "image": "nginx", "volumeMounts": [
                           {"mountPath": "/data", "name": "spark"}]}],
                           "volumes": [{"name": "spark", "persistentVolumeClaim": {"claimName": "spark"}}]}})

    async def pod_running() -> bool:
        pod = await kube.get(resources.PODS, "nginx", production)
        return (pod.get("status") or {}).get("phase") == "Running"

    await eventually(pod_running, timeout=30, what="the production pod running on the shared volume")
    await kube.delete(resources.PODS, "nginx", production)

    # Shutdown: the source forgets the reference, the copies go.
    await eventually(lambda: _volume_deleted(engine, kube, production), timeout=60,
                     what="reference PVC and PV deleted")
    assert await engine.shutdown(await snapshot(kube, production))
    src = await kube.get(kinds.DATASET.resource, "spark", development)
    assert not src["status"].get("datasetRef")
    assert await kube.get_or_none(resources.DAEMONSETS, "spark-fuse", production) is None
    assert await kube.get_or_none(resources.CONFIGMAPS, "spark-config", production) is None


async def _volume_deleted(engine: ReferenceEngine, kube: KubeClient, namespace: str) -> bool:
    return await engine.delete_volume(await snapshot(kube, namespace))


async def columns(kube: KubeClient, namespace: str) -> dict[str, object]:
    """What ``kubectl get dataset`` prints, minus AGE."""
    table = await kube.table(kinds.DATASET.resource, namespace)
    names = [c["name"] for c in table["columnDefinitions"]]
    row = dict(zip(names, table["rows"][0]["cells"], strict=True))
    row.pop("Age")
    row.pop("Name")
    return row


async def test_waits_for_the_source_and_refuses_a_reference_to_a_reference(
    kube: KubeClient, namespace: str, production: str, fluid_crds: list[str]
) -> None:
    await kube.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
                       "metadata": {"name": "ref", "namespace": production},
                       "spec": {"mounts": [{"mountPoint": f"dataset://{namespace}/later"}]}})
    await kube.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "ThinRuntime",
                       "metadata": {"name": "ref", "namespace": production}, "spec": {}})
    engine = ReferenceEngine(deps(kube), base.RuntimeKey("ThinRuntime", production, "ref"))
    snap = base.Snapshot(runtime=await kube.get(kinds.THIN_RUNTIME.resource, "ref", production),
                         dataset=await kube.get(kinds.DATASET.resource, "ref", production))
    assert not await engine.setup(snap)  # the source does not exist yet
    reasons = await event_reasons(kube, production)
    assert "SourceDatasetNotFound" in reasons

    await kube.create({"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
                       "metadata": {"name": "later", "namespace": namespace},
                       "spec": {"mounts": [{"mountPoint": f"dataset://{production}/other"}]}})
    with pytest.raises(base.ValidationFailed, match="is itself a reference"):
        await engine.setup(snap)


async def event_reasons(kube: KubeClient, namespace: str) -> set[str]:
    listing = await kube.list(resources.EVENTS, namespace)
    await asyncio.sleep(0)
    return {e["reason"] for e in listing.get("items") or ()}
