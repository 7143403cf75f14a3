"""DataLoad against the real API server, scheduler, controller-manager and kwok nodes."""

from __future__ import annotations

import re

import pytest
from dataops_support import bound_dataset, data_load, job_pod, operation, phase_of, wait_phase

from fluid.api import kinds
from fluid.kube import KubeClient, resources
from fluid.reconcile import Manager
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]


async def test_runs_target_paths_to_complete(kube: KubeClient, namespace: str, dataops: Manager) -> None:
    await bound_dataset(kube, namespace, "spark")
    await kube.create(data_load(namespace, "spark", "spark",
                                target=[{"path": "/spark-3.3.1", "replicas": 2}], loadMetadata=True))
    done = await wait_phase(kube, "DataLoad", namespace, "spark", "Complete")

    status = done["status"]
    assert re.fullmatch(r"\d+s|\d+m\d+s", status["duration"])
    assert [c["type"] for c in status["conditions"]] == ["Complete"]
    job = await kube.get(resources.JOBS, "spark-loader-job", namespace)
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels["role"] == "dataload-pod"
    assert labels["app"] == "alluxio"
    assert labels["targetDataset"] == "spark"
    assert labels["fluid.io/managed-by"] == "fluid"
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["TARGETS"] == "/spark-3.3.1\t2"
    assert env["LOAD_METADATA"] == "true"
    assert job["metadata"]["ownerReferences"][0]["uid"] == done["metadata"]["uid"]

    pod = await job_pod(kube, namespace, "spark-loader-job")
    node = await kube.get(resources.NODES, pod["spec"]["nodeName"])
    terms = status["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    exported = {e["key"]: e["values"] for e in terms[0]["matchExpressions"]}
    assert exported["kubernetes.io/hostname"] == [node["metadata"]["name"]]
    zone = node["metadata"]["labels"]["topology.kubernetes.io/zone"]
    assert exported["topology.kubernetes.io/zone"] == [zone]

    dataset = await kube.get(kinds.DATASET.resource, "spark", namespace)
    assert "DataLoad" not in ((dataset["status"].get("operationRef")) or {})
    owners = [o["kind"] for o in done["metadata"]["ownerReferences"]]
    assert owners == ["Dataset"]
    events = await kube.list(resources.EVENTS, namespace, field_selector="involvedObject.name=spark")
    assert "DataOperationSucceed" in {e["reason"] for e in events["items"]}


async def test_missing_dataset_fails_with_message(kube: KubeClient, namespace: str, dataops: Manager) -> None:
    await kube.create(data_load(namespace, "orphan", "nowhere"))
    failed = await wait_phase(kube, "DataLoad", namespace, "orphan", "Failed")
    condition = failed["status"]["conditions"][0]
    assert condition["reason"] == "TargetDatasetNotFound"
    assert f"dataset {namespace}/nowhere not found" in condition["message"]
    events = await kube.list(resources.EVENTS, namespace, field_selector="involvedObject.name=orphan")
    assert any(e["type"] == "Warning" and e["reason"] == "TargetDatasetNotFound" for e in events["items"])


async def test_ttl_deletes_the_finished_operation(kube: KubeClient, namespace: str, dataops: Manager) -> None:
    await bound_dataset(kube, namespace, "phy")
    await kube.create(data_load(namespace, "short", "phy", ttlSecondsAfterFinished=2))
    await wait_phase(kube, "DataLoad", namespace, "short", "Complete")

    async def gone() -> bool:
        return await kube.get_or_none(kinds.DATA_LOAD.resource, "short", namespace) is None

    await eventually(gone, timeout=30, what="DataLoad deleted after its TTL")


async def test_one_load_at_a_time_per_dataset(kube: KubeClient, namespace: str, dataops: Manager) -> None:
    await bound_dataset(kube, namespace, "phy")
    # The first load cannot be scheduled (no node has this label), so it keeps the lock.
    await kube.create(data_load(namespace, "first", "phy", nodeSelector={"fluid.test/none": "x"}))
    await wait_phase(kube, "DataLoad", namespace, "first", "Executing")
    await kube.create(data_load(namespace, "second", "phy"))

    async def waiting() -> bool:
        obj = await operation(kube, "DataLoad", namespace, "second")
        conditions = (obj.get("status") or {}).get("conditions") or []
        return any(c["reason"] == "DatasetLocked" and "DataLoad" in c["message"] and "first" in c["message"]
                   for c in conditions)

    await eventually(waiting, timeout=30, what="second DataLoad waiting on the lock")
    assert await phase_of(kube, "DataLoad", namespace, "second") == "Pending"
    dataset = await kube.get(kinds.DATASET.resource, "phy", namespace)
    assert dataset["status"]["operationRef"]["DataLoad"] == "first"

    await kube.delete(kinds.DATA_LOAD.resource, "first", namespace)
    await wait_phase(kube, "DataLoad", namespace, "second", "Complete")


async def test_a_stale_lock_holder_is_pruned(kube: KubeClient, namespace: str, dataops: Manager) -> None:
    """A holder that no longer exists (e.g. deleted while the controller was down) blocks nobody."""
    await bound_dataset(kube, namespace, "phy", status={"operationRef": {"DataLoad": "ghost"}})
    await kube.create(data_load(namespace, "fresh", "phy"))
    await wait_phase(kube, "DataLoad", namespace, "fresh", "Complete")

    async def released() -> bool:  # the lock goes in a write after the phase's
        dataset = await kube.get(kinds.DATASET.resource, "phy", namespace)
        return "DataLoad" not in (dataset["status"].get("operationRef") or {})

    await eventually(released, timeout=30, what="the DataLoad lock released on the Dataset")
