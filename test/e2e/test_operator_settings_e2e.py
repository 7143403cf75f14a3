"""The controller-manager's operator settings end to end, through the real controllers.

Real API server, scheduler, controller-manager and kwok nodes; the dataset, runtime and
DataLoad controllers run in-process with the ``EngineConfig`` the controller-manager builds
from its environment (``settings_env.engine_config``), and the admission webhook runs as in
the webhook e2e tests. The only fake is the boundary into Alluxio processes.

An AlluxioRuntime whose workers are pinned to a zone (``worker.nodeSelector``):

- masters and workers run the operator's default images and name its pull secrets; the
  FUSE DaemonSet asks for ``system-node-critical`` and its pod runs at that priority; the
  PV's FUSE path lies under ``MOUNT_ROOT``;
- the runtime's ``status.cacheAffinity`` carries the workers' zone, and the webhook turns
  it into a preference for that zone on an app pod using the dataset;
- a DataLoad's Job runs the operator's Alluxio image and names the pull secrets;
- deleting the Dataset and runtime leaves nothing behind.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from engines_e2e_support import engine_settings, instance, left_behind, ready_pod_names, selector

from fluid.api import constants as c
from fluid.api import kinds
from fluid.engines import settings_env
from fluid.engines.alluxio.engine import AlluxioEngine
from fluid.engines.alluxio.fake import FakeAlluxioMaster
from fluid.kube import KubeClient, resources
from fluid.scheduling.ports import PortRange
from fluid.testing.managers import running_controllers
from fluid.testing.wait import eventually

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "webhook"))

import webhook_env as wenv

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

Obj = dict[str, Any]
NAME = "zoned"
ZONE = "topology.kubernetes.io/zone"
GiB = 2**30
ENV = {
    "ALLUXIO_RUNTIME_IMAGE_ENV": "registry.e2e.local/alluxio/alluxio:2.9.9-op",
    "ALLUXIO_FUSE_IMAGE_ENV": "registry.e2e.local/alluxio/alluxio-fuse:2.9.9-op",
    "IMAGE_PULL_SECRETS": "regcred,mirror-cred",
    "MOUNT_ROOT": "/var/lib/fluid-e2e",
    "CRITICAL_FUSE_POD": "true",
    "FLUID_SYNC_RETRY_DURATION": "0s",
}
SECRETS = [{"name": "regcred"}, {"name": "mirror-cred"}]
SYSTEM_NODE_CRITICAL = 2000001000


@pytest.fixture
async def controllers(kube: KubeClient, fluid_crds: list[str], workloads: list[str]) -> AsyncIterator[None]:
    master = FakeAlluxioMaster(ufs_bytes=2 * GiB, files=3, capacity_bytes=4 * GiB)
    settings = attrs.evolve(
        engine_settings(kube, kind=kinds.ALLUXIO_RUNTIME, factory=AlluxioEngine,
                        executor=master.executor(), ports=PortRange(20000, 26000)),
        config=settings_env.engine_config(ENV))
    async with running_controllers(kube, ["dataset", "runtime", "dataload"], engines=settings):
        yield


@pytest.fixture
async def zone_node(kube: KubeClient, workloads: list[str]) -> AsyncIterator[tuple[str, str]]:
    """A kwok node in a zone of its own; its own zone label is restored afterwards (the nodes
    are shared by the whole session)."""
    node, zone = workloads[2], f"zone-{uuid.uuid4().hex[:6]}"
    original = (await kube.get(resources.NODES, node))["metadata"]["labels"].get(ZONE)
    await kube.merge_patch(resources.NODES, node, None, {"metadata": {"labels": {ZONE: zone}}})
    try:
        yield node, zone
    finally:
        await kube.merge_patch(resources.NODES, node, None, {"metadata": {"labels": {ZONE: original}}})


def dataset(namespace: str) -> Obj:
    return {"apiVersion": c.API_VERSION, "kind": "Dataset",
            "metadata": {"name": NAME, "namespace": namespace},
            "spec": {"mounts": [{"name": "hbase", "mountPoint": "https://mirrors.example.com/hbase/"}]}}


def runtime(namespace: str, zone: str) -> Obj:
    return {"apiVersion": c.API_VERSION, "kind": "AlluxioRuntime",
            "metadata": {"name": NAME, "namespace": namespace},
            "spec": {"replicas": 1, "worker": {"nodeSelector": {ZONE: zone}},
                     "tieredstore": {"levels": [{"mediumtype": "MEM", "path": "/dev/shm",
                                                 "quota": "4Gi"}]}}}


async def status_of(kube: KubeClient, kind: kinds.KindInfo, namespace: str) -> Obj:
    obj = await kube.get_or_none(kind.resource, NAME, namespace)
    return (obj or {}).get("status") or {}


def pod_spec(workload: Obj) -> Obj:
    spec: Obj = workload["spec"]["template"]["spec"]
    return spec


def zone_preferences(pod: Obj) -> list[Obj]:
    preferred = ((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {}).get(
        "preferredDuringSchedulingIgnoredDuringExecution") or []
    return [t for t in preferred if any(e["key"] == ZONE for e in t["preference"]["matchExpressions"])]


async def test_operator_settings_reach_runtime_pods_status_webhook_and_dataload(
    kube: KubeClient, namespace: str, controllers: None, zone_node: tuple[str, str],
) -> None:
    node, zone = zone_node
    await kube.create(dataset(namespace))
    await kube.create(runtime(namespace, zone))

    async def bound() -> bool:
        return (await status_of(kube, kinds.DATASET, namespace)).get("phase") == "Bound"

    await eventually(bound, timeout=90, what="Dataset Bound")

    # Runtime pods: the operator's images and pull secrets; the worker in its zone.
    master = await kube.get(resources.STATEFULSETS, f"{NAME}-master", namespace)
    worker = await kube.get(resources.STATEFULSETS, f"{NAME}-worker", namespace)
    fuse = await kube.get(resources.DAEMONSETS, f"{NAME}-fuse", namespace)
    for sts in (master, worker):
        assert {x["image"] for x in pod_spec(sts)["containers"]} == {ENV["ALLUXIO_RUNTIME_IMAGE_ENV"]}
        assert pod_spec(sts)["imagePullSecrets"] == SECRETS
        assert "priorityClassName" not in pod_spec(sts)
    assert [x["image"] for x in pod_spec(fuse)["containers"]] == [ENV["ALLUXIO_FUSE_IMAGE_ENV"]]
    assert pod_spec(fuse)["imagePullSecrets"] == SECRETS
    assert pod_spec(fuse)["priorityClassName"] == "system-node-critical"
    workers, _ = await kube.list_all(resources.PODS, namespace, label_selector=selector(
        {**instance("alluxio", NAME), "app.kubernetes.io/component": "worker"}))
    assert [p["spec"]["nodeName"] for p in workers] == [node]
    pv = await kube.get(resources.PERSISTENT_VOLUMES, f"{namespace}-{NAME}")
    assert pv["spec"]["csi"]["volumeAttributes"]["fluid_path"] == (
        f"/var/lib/fluid-e2e/alluxio/{namespace}/{NAME}/alluxio-fuse")

    # The runtime reports where its cache workers may run.
    status = await status_of(kube, kinds.ALLUXIO_RUNTIME, namespace)
    terms = status["cacheAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms
    assert all({"key": ZONE, "operator": "In", "values": [zone]} in t["matchExpressions"] for t in terms)

    # The FUSE pod the DaemonSet controller creates once the CSI plugin labels a node.
    await kube.merge_patch(resources.NODES, node, None, {"metadata": {"labels": {
        c.fuse_label(namespace, NAME): "true"}}})
    fuse_labels = {**instance("alluxio", NAME), "app.kubernetes.io/component": "fuse"}
    await eventually(lambda: ready_pod_names(kube, namespace, fuse_labels), timeout=60,
                     what="a FUSE pod Ready")
    fuse_pods, _ = await kube.list_all(resources.PODS, namespace, label_selector=selector(fuse_labels))
    assert [p["spec"]["priority"] for p in fuse_pods] == [SYSTEM_NODE_CRITICAL]

    # The webhook prefers the workers' zone for an app pod using the dataset.
    async with wenv.webhook_env(kube, namespace, [namespace]) as env:
        assert env.server is not None
        await wenv.ensure_service_account(kube, namespace)
        await wenv.wait_cached(env.server, namespace, NAME)
        app = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", "namespace": namespace},
               "spec": {"containers": [{"name": "app", "image": "busybox",
                                        "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": NAME}}]}}
        stored = await env.mutated(app, check=zone_preferences)
        assert zone_preferences(stored) == [{"weight": 50, "preference": {"matchExpressions": [
            {"key": ZONE, "operator": "In", "values": [zone]}]}}]

    # A DataLoad runs the operator's runtime image with its pull secrets.
    await kube.create({"apiVersion": c.API_VERSION, "kind": "DataLoad",
                       "metadata": {"name": "warm", "namespace": namespace},
                       "spec": {"dataset": {"name": NAME, "namespace": namespace}}})
    await eventually(lambda: kube.get_or_none(resources.JOBS, "warm-loader-job", namespace),
                     timeout=60, what="the DataLoad's Job")
    job = await kube.get(resources.JOBS, "warm-loader-job", namespace)
    assert {x["image"] for x in pod_spec(job)["containers"]} == {ENV["ALLUXIO_RUNTIME_IMAGE_ENV"]}
    assert pod_spec(job)["imagePullSecrets"] == SECRETS
    await kube.delete(kinds.DATA_LOAD.resource, "warm", namespace)

    await kube.delete(kinds.DATASET.resource, NAME, namespace)
    await kube.delete(kinds.ALLUXIO_RUNTIME.resource, NAME, namespace)

    async def all_gone() -> bool:
        return not await left_behind(kube, kind=kinds.ALLUXIO_RUNTIME, namespace=namespace, name=NAME,
                                     labels=instance("alluxio", NAME))

    await eventually(all_gone, timeout=90, what="nothing of the runtime left")
