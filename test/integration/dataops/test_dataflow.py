"""DataFlow: runAfter ordering, failure propagation and affinity inheritance on kwok nodes."""

from __future__ import annotations

import pytest
from dataops_support import (
    bound_dataset,
    data_load,
    delete_dataset_volume,
    job_pod,
    operation,
    phase_of,
    wait_phase,
)

from fluid.api import kinds
from fluid.kube import KubeClient, resources
from fluid.reconcile import Manager
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]


def _after(name: str, **strategy: object) -> dict[str, object]:
    run_after: dict[str, object] = {"kind": "DataLoad", "name": name}
    if strategy:
        run_after["affinityStrategy"] = strategy
    return run_after


async def _node_of(kube: KubeClient, namespace: str, job: str) -> str:
    return str((await job_pod(kube, namespace, job))["spec"]["nodeName"])


async def test_follower_waits_then_runs_on_the_same_node(
    kube: KubeClient, namespace: str, dataops: Manager
) -> None:
    await bound_dataset(kube, namespace, "phy")
    # The follower exists first: it waits, saying for what.
    await kube.create(data_load(namespace, "load-b", "phy",
                                runAfter=_after("load-a", policy="Require")))

    async def waiting_for_a() -> bool:
        status = (await operation(kube, "DataLoad", namespace, "load-b")).get("status") or {}
        return any(c["reason"] == "PrecedingOperationNotFound" and "load-a" in c["message"]
                   for c in status.get("conditions") or ())

    await eventually(waiting_for_a, timeout=30, what="load-b waiting for load-a")
    status = (await operation(kube, "DataLoad", namespace, "load-b"))["status"]
    assert status["phase"] == "Pending"
    assert status["waitingFor"] == {"operationComplete": True}
    assert await kube.get_or_none(resources.JOBS, "load-b-loader-job", namespace) is None

    await kube.create(data_load(namespace, "load-a", "phy"))
    await wait_phase(kube, "DataLoad", namespace, "load-b", "Complete")
    node_a = await _node_of(kube, namespace, "load-a-loader-job")
    assert await _node_of(kube, namespace, "load-b-loader-job") == node_a
    job_b = await kube.get(resources.JOBS, "load-b-loader-job", namespace)
    required = job_b["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert required == [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": [node_a]}]}]


async def test_failed_predecessor_fails_the_follower(
    kube: KubeClient, namespace: str, dataops: Manager
) -> None:
    await bound_dataset(kube, namespace, "phy")
    await kube.create(data_load(namespace, "broken", "no-such-dataset"))
    await kube.create(data_load(namespace, "follower", "phy", runAfter=_after("broken")))
    failed = await wait_phase(kube, "DataLoad", namespace, "follower", "Failed")
    condition = failed["status"]["conditions"][0]
    assert condition["reason"] == "PrecedingOperationFailed"
    assert f"DataLoad {namespace}/broken" in condition["message"]
    assert "no-such-dataset" in condition["message"]  # the predecessor's own reason
    assert await kube.get_or_none(resources.JOBS, "follower-loader-job", namespace) is None


async def test_prefer_adds_a_weighted_preference(
    kube: KubeClient, namespace: str, dataops: Manager
) -> None:
    await bound_dataset(kube, namespace, "phy")
    await kube.create({**data_load(namespace, "first", "phy"), "metadata": {
        "name": "first", "namespace": namespace,
        "annotations": {"affinity.dataflow.fluid.io/labels": "node.kubernetes.io/instance-type"}}})
    await kube.create(data_load(namespace, "second", "phy", runAfter=_after(
        "first", policy="Prefer",
        prefers=[{"name": "node.kubernetes.io/instance-type", "weight": 30}])))
    await wait_phase(kube, "DataLoad", namespace, "second", "Complete")
    node = await kube.get(resources.NODES, await _node_of(kube, namespace, "first-loader-job"))
    itype = node["metadata"]["labels"]["node.kubernetes.io/instance-type"]
    job = await kube.get(resources.JOBS, "second-loader-job", namespace)
    preferred = job["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred == [{"weight": 30, "preference": {"matchExpressions": [
        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": [itype]}]}}]


async def test_distributed_migration_exports_no_location(
    kube: KubeClient, namespace: str, dataops: Manager
) -> None:
    await bound_dataset(kube, namespace, "jfs", runtime_type="juicefs", volume=True)
    try:
        await _distributed_migration(kube, namespace)
    finally:
        await delete_dataset_volume(kube, namespace, "jfs")


async def _distributed_migration(kube: KubeClient, namespace: str) -> None:
    await kube.create({
        "apiVersion": "data.fluid.io/v1alpha1", "kind": "DataMigrate",
        "metadata": {"name": "spread", "namespace": namespace},
        "spec": {
            "from": {"externalStorage": {"uri": "s3://bucket/data/"}},
            "to": {"dataset": {"name": "jfs", "namespace": namespace, "path": "/imported"}},
            "parallelism": 3, "parallelOptions": {"sshSecretName": "migrate-ssh"},
        },
    })
    await wait_phase(kube, "DataMigrate", namespace, "spread", "Executing")
    workers = await kube.get(resources.STATEFULSETS, "spread-migrate-workers", namespace)
    assert workers["spec"]["replicas"] == 2
    dataset = await kube.get(kinds.DATASET.resource, "jfs", namespace)
    assert dataset["status"]["phase"] == "DataMigrating"
    assert dataset["status"]["operationRef"]["DataMigrate"] == "spread"

    done = await wait_phase(kube, "DataMigrate", namespace, "spread", "Complete")
    assert "nodeAffinity" not in done["status"]
    job = await kube.get(resources.JOBS, "spread-migrate-migrate", namespace)
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["WORKERS"].split() == [
        f"spread-migrate-workers-{i}.spread-migrate-workers.{namespace}.svc" for i in (0, 1)]
    assert env["FROM"] == "s3://bucket/data/"
    assert env["TO"] == "/fluid/to/"

    async def released() -> bool:
        ds = await kube.get(kinds.DATASET.resource, "jfs", namespace)
        return ds["status"]["phase"] == "Bound" and "DataMigrate" not in ds["status"]["operationRef"]

    await eventually(released, timeout=20, what="dataset back to Bound, lock released")
    assert await kube.get_or_none(resources.STATEFULSETS, "spread-migrate-workers", namespace) is None
    assert await phase_of(kube, "DataMigrate", namespace, "spread") == "Complete"
