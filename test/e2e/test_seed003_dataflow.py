"""Seed 003 end to end: DataFlow with affinity inheritance, on a real API server, scheduler,
controller-manager and kwok nodes, with Fluid's controllers running in-process.

The seed's YAML (test/data/seeds/003-*.yaml) is applied as written except for what the
API server itself refuses (test/data/seeds/expectations.yaml): the names ``loadA`` and
``loadB`` become ``loada``/``loadb`` (object names are lowercase), namespace ``default``
becomes the test's namespace, and the four-step example's elided ``# ...`` parts (dataset
and processor) are filled in. The second example pins loadA to nodes whose
``node.kubernetes.io/instance-type`` is ``GPU``; the test adds such a kwok node.

Every registered controller runs (``setup_all(["*"])``): the Dataset and runtime
controllers bind ``phy`` through the Alluxio engine and create its PV/PVC, the operation
controllers run the flow. The only fake is the boundary into Alluxio processes (kwok runs no
containers): a ``FakeAlluxioMaster`` answers the engine's commands.

Two more end-to-end cases of the same issue live here with the same machinery: a Cron
DataLoad (``* * * * *``) runs on schedule through a real CronJob, and a DataLoad against a
missing dataset fails with a message saying what to do.
"""

from __future__ import annotations

import contextlib
import copy
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fluid.api import kinds
from fluid.engines.alluxio.fake import FakeAlluxioMaster
from fluid.engines.base import EngineConfig, EngineSettings
from fluid.kube import KubeClient, resources
from fluid.reconcile import Manager
from fluid.scheduling.ports import PortAllocator, PortRange
from fluid.testing import controlplane
from fluid.testing.managers import running_controllers
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

Obj = dict[str, Any]
SEEDS = Path(__file__).resolve().parents[1] / "data" / "seeds"
ITYPE = "node.kubernetes.io/instance-type"
HOST = "kubernetes.io/hostname"


# -- the seed, adapted only where the API server requires it ----------------------------------


def _rename(value: str) -> str:
    return value.lower() if value in ("loadA", "loadB") else value


def adapt(doc: Obj, namespace: str) -> Obj:
    """Namespace ``default`` -> the test's, ``loadA``/``loadB`` -> lowercase."""
    doc = copy.deepcopy(doc)
    meta = doc["metadata"]
    meta["name"] = _rename(meta["name"])
    meta["namespace"] = namespace
    spec = doc.get("spec") or {}
    dataset = spec.get("dataset")
    if isinstance(dataset, dict) and dataset.get("namespace") == "default":
        dataset["namespace"] = namespace
    run_after = spec.get("runAfter") or {}
    for ref in (run_after, (run_after.get("affinityStrategy") or {}).get("dependOn") or {}):
        if ref:
            ref["name"] = _rename(ref["name"])
            if ref.get("namespace") == "default":
                ref["namespace"] = namespace
    return doc


def seed(file: str, namespace: str) -> list[Obj]:
    docs = [d for d in yaml.safe_load_all((SEEDS / file).read_text()) if d]
    return [adapt(d, namespace) for d in docs]


# -- cluster pieces ---------------------------------------------------------------------------


def engine_settings() -> EngineSettings:
    """Engines from the registry; Alluxio's processes answered by a fake master."""
    master = FakeAlluxioMaster(ufs_bytes=512 * 2**20, files=12, capacity_bytes=2**30)
    return EngineSettings(executor=master.executor(), ports=PortAllocator(PortRange(20000, 26000)),
                          config=EngineConfig(sync_retry_seconds=0.0), resync_seconds=1.0,
                          setup_retry_seconds=1.0)


@contextlib.asynccontextmanager
async def fluid(kube: KubeClient) -> AsyncIterator[Manager]:
    """Every registered Fluid controller, in one manager, as the controller-manager runs them."""
    async with running_controllers(kube, ["*"], engines=engine_settings()) as manager:
        yield manager


@pytest.fixture
async def gpu_node(kube: KubeClient, workloads: list[str]) -> AsyncIterator[str]:
    """A kwok node labelled ``node.kubernetes.io/instance-type=GPU``, as in the seed."""
    name = f"kwok-gpu-{uuid.uuid4().hex[:6]}"
    node = controlplane.fake_node(name, 0)
    node["metadata"]["labels"][ITYPE] = "GPU"
    await kube.create(node)

    async def ready() -> bool:
        current = await kube.get(resources.NODES, name)
        return any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (current.get("status") or {}).get("conditions") or ())

    await eventually(ready, timeout=30, what=f"node {name} Ready")
    yield name
    await kube.delete(resources.NODES, name)


async def apply(kube: KubeClient, docs: list[Obj]) -> None:
    for doc in docs:
        await kube.create(doc)


async def bound(kube: KubeClient, namespace: str, name: str) -> None:
    """Wait for the Dataset and runtime controllers to bind ``name`` and create its PVC."""
    async def is_bound() -> bool:
        ds = await kube.get(kinds.DATASET.resource, name, namespace)
        pvc = await kube.get_or_none(resources.PERSISTENT_VOLUME_CLAIMS, name, namespace)
        return (ds.get("status") or {}).get("phase") == "Bound" and pvc is not None

    await eventually(is_bound, timeout=120, what=f"dataset {namespace}/{name} Bound with its PVC")


async def teardown(kube: KubeClient, namespace: str, name: str) -> None:
    """Delete the dataset while the controllers run, so its PV goes too."""
    await kube.delete(kinds.DATASET.resource, name, namespace)

    async def gone() -> bool:
        return await kube.get_or_none(resources.PERSISTENT_VOLUMES, f"{namespace}-{name}") is None

    await eventually(gone, timeout=60, what=f"PV {namespace}-{name} deleted")


async def phase(kube: KubeClient, kind: str, namespace: str, name: str) -> str:
    obj = await kube.get_or_none(kinds.BY_KIND[kind].resource, name, namespace)
    return str(((obj or {}).get("status") or {}).get("phase") or "")


async def complete(kube: KubeClient, kind: str, namespace: str, name: str, timeout: float = 90) -> Obj:
    async def done() -> bool:
        current = await phase(kube, kind, namespace, name)
        assert current != "Failed", f"{kind} {name} failed: {await status(kube, kind, namespace, name)}"
        return current == "Complete"

    await eventually(done, timeout=timeout, what=f"{kind} {namespace}/{name} Complete")
    return await kube.get(kinds.BY_KIND[kind].resource, name, namespace)


async def status(kube: KubeClient, kind: str, namespace: str, name: str) -> Obj:
    return dict((await kube.get(kinds.BY_KIND[kind].resource, name, namespace)).get("status") or {})


async def pod_of(kube: KubeClient, namespace: str, job: str) -> Obj:
    listing = await kube.list(resources.PODS, namespace, label_selector=f"job-name={job}")
    pods = [p for p in listing.get("items") or () if (p.get("status") or {}).get("phase") == "Succeeded"]
    assert pods, f"no succeeded pod of Job {job}"
    return dict(pods[0])


async def node_labels(kube: KubeClient, node: str) -> dict[str, str]:
    return dict((await kube.get(resources.NODES, node))["metadata"].get("labels") or {})


def required_terms(job: Obj) -> list[Obj]:
    affinity = job["spec"]["template"]["spec"].get("affinity") or {}
    node = affinity.get("nodeAffinity") or {}
    required = node.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    return list(required.get("nodeSelectorTerms") or [])


# -- the three examples -----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def flow(kube: KubeClient, namespace: str, setup: list[Obj], operations: list[Obj],
               last: tuple[str, str]) -> AsyncIterator[None]:
    """Run the controllers, bind ``phy``, apply ``operations``, wait for ``last`` to complete;
    the body runs its checks before the dataset (and with it every operation) is deleted."""
    async with fluid(kube):
        await apply(kube, setup)
        try:
            await bound(kube, namespace, "phy")
            await apply(kube, operations)
            await complete(kube, last[0], namespace, last[1], timeout=120)
            yield
        finally:
            await teardown(kube, namespace, "phy")


async def test_loadb_runs_on_loada_node(
    kube: KubeClient, namespace: str, fluid_crds: list[str], workloads: list[str]
) -> None:
    docs = seed("003-dataflow-same-node.yaml", namespace)
    async with flow(kube, namespace, docs[:2], docs[2:], ("DataLoad", "loadb")):
        loada = await status(kube, "DataLoad", namespace, "loada")
        node_a = (await pod_of(kube, namespace, "loada-loader-job"))["spec"]["nodeName"]
        exported = {e["key"]: e["values"] for e in loada["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchExpressions"]}
        labels = await node_labels(kube, node_a)
        assert exported == {key: [labels[key]] for key in (HOST, "topology.kubernetes.io/zone",
                                                           "topology.kubernetes.io/region")}
        job_b = await kube.get(resources.JOBS, "loadb-loader-job", namespace)
        assert required_terms(job_b) == [{"matchExpressions": [
            {"key": HOST, "operator": "In", "values": [node_a]}]}]
        assert (await pod_of(kube, namespace, "loadb-loader-job"))["spec"]["nodeName"] == node_a


async def test_loadb_follows_loada_instance_type(
    kube: KubeClient, namespace: str, fluid_crds: list[str], gpu_node: str
) -> None:
    docs = seed("003-dataflow-custom-label.yaml", namespace)
    async with flow(kube, namespace, docs[:2], docs[2:], ("DataLoad", "loadb")):
        assert (await pod_of(kube, namespace, "loada-loader-job"))["spec"]["nodeName"] == gpu_node
        loada = await status(kube, "DataLoad", namespace, "loada")
        expressions = loada["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"][0]["matchExpressions"]
        assert {"key": ITYPE, "operator": "In", "values": ["GPU"]} in expressions
        job_b = await kube.get(resources.JOBS, "loadb-loader-job", namespace)
        assert required_terms(job_b) == [{"matchExpressions": [
            {"key": ITYPE, "operator": "In", "values": ["GPU"]}]}]
        node_b = (await pod_of(kube, namespace, "loadb-loader-job"))["spec"]["nodeName"]
        assert (await node_labels(kube, node_b))[ITYPE] == "GPU"


def _fill_four_steps(docs: list[Obj], namespace: str) -> list[Obj]:
    """The seed elides each step's dataset and processor ("# ..."): fill them in."""
    dataset = {"name": "phy", "namespace": namespace, "mountPath": "/models"}
    step1 = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "DataProcess",
             "metadata": {"name": "step1-download-model", "namespace": namespace},
             "spec": {"dataset": dataset, "processor": {"script": {
                 "image": "python", "imageTag": "3.11", "source": "download the model"}}}}
    step2, step3, step4 = docs
    step2["spec"] |= {"dataset": dataset, "processor": {"job": {"podSpec": {
        "nodeSelector": {ITYPE: "GPU"},
        "containers": [{"name": "convert", "image": "nvcr.io/nvidia/tritonserver:24.05-trtllm-python-py3"}],
        "restartPolicy": "Never"}}}}
    step3["spec"] |= {"dataset": {"name": "phy", "namespace": namespace}}
    step4["spec"] |= {"dataset": dataset, "processor": {"script": {
        "image": "nvcr.io/nvidia/tritonserver", "imageTag": "24.05-trtllm-python-py3",
        "source": "start the inference server"}}}
    return [step1, step2, step3, step4]


async def test_step4_inherits_from_step2_through_depend_on(
    kube: KubeClient, namespace: str, fluid_crds: list[str], gpu_node: str
) -> None:
    docs = _fill_four_steps(seed("003-dataflow-depend-on.yaml", namespace), namespace)
    dataset = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
               "metadata": {"name": "phy", "namespace": namespace},
               "spec": {"mounts": [{"mountPoint": "https://mirrors.tuna.tsinghua.edu.cn/apache/flink",
                                    "name": "flink"}]}}
    runtime = seed("003-dataflow-same-node.yaml", namespace)[1]
    # Followers first: each must wait for its predecessor.
    async with flow(kube, namespace, [dataset, runtime], list(reversed(docs)),
                    ("DataProcess", "step4-infer-server")):
        step2_pod = await pod_of(kube, namespace, "step2-trtllm-convert-processor-job")
        assert step2_pod["spec"]["nodeName"] == gpu_node
        step3 = await kube.get(resources.JOBS, "step3-warmup-cache-loader-job", namespace)
        assert required_terms(step3) == []  # step 3 asks for no affinity
        step4 = await kube.get(resources.JOBS, "step4-infer-server-processor-job", namespace)
        assert required_terms(step4) == [{"matchExpressions": [
            {"key": ITYPE, "operator": "In", "values": ["GPU"]}]}]
        node4 = (await pod_of(kube, namespace, "step4-infer-server-processor-job"))["spec"]["nodeName"]
        assert (await node_labels(kube, node4))[ITYPE] == "GPU"
        order = [await status(kube, k, namespace, n) for k, n in (
            ("DataProcess", "step1-download-model"), ("DataProcess", "step2-trtllm-convert"),
            ("DataLoad", "step3-warmup-cache"), ("DataProcess", "step4-infer-server"))]
        finished = [s["conditions"][0]["lastTransitionTime"] for s in order]
        started = [s["lastScheduleTime"] for s in order]
        for before, after in zip(finished, started[1:], strict=False):
            assert before <= after  # each step started only after the previous one finished


# -- the other end-to-end cases, with every controller running ------------------------


async def test_cron_dataload_runs_on_schedule(
    kube: KubeClient, namespace: str, fluid_crds: list[str], workloads: list[str]
) -> None:
    """``* * * * *``: the next minute's run completes (< 2 minutes) and is mirrored."""
    setup = seed("003-dataflow-same-node.yaml", namespace)[:2]
    cron = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "DataLoad",
            "metadata": {"name": "every-minute", "namespace": namespace},
            "spec": {"dataset": {"name": "phy", "namespace": namespace},
                     "policy": "Cron", "schedule": "* * * * *"}}
    async with fluid(kube):
        await apply(kube, setup)
        try:
            await bound(kube, namespace, "phy")
            await apply(kube, [cron])
            done = await complete(kube, "DataLoad", namespace, "every-minute", timeout=110)
            cronjob = await kube.get(resources.CRONJOBS, "every-minute-loader-job", namespace)
            assert done["status"]["lastScheduleTime"] == cronjob["status"]["lastScheduleTime"]
            run = await kube.get(resources.JOBS, done["status"]["infos"]["lastJob"], namespace)
            assert run["metadata"]["labels"]["cronjob"] == "every-minute-loader-job"
        finally:
            await teardown(kube, namespace, "phy")


async def test_dataload_against_a_missing_dataset_fails_with_a_message(
    kube: KubeClient, namespace: str, fluid_crds: list[str], workloads: list[str]
) -> None:
    load = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "DataLoad",
            "metadata": {"name": "nowhere", "namespace": namespace},
            "spec": {"dataset": {"name": "no-such-dataset", "namespace": namespace}}}
    async with fluid(kube):
        await apply(kube, [load])

        async def failed() -> bool:
            return await phase(kube, "DataLoad", namespace, "nowhere") == "Failed"

        await eventually(failed, timeout=30, what="DataLoad nowhere Failed")
    condition = (await status(kube, "DataLoad", namespace, "nowhere"))["conditions"][0]
    assert condition["reason"] == "TargetDatasetNotFound"
    assert condition["message"].startswith(f"dataset {namespace}/no-such-dataset not found: create it")
    listing = await kube.list(resources.EVENTS, namespace, field_selector="involvedObject.name=nowhere")
    assert [e["type"] for e in listing["items"] if e["reason"] == "TargetDatasetNotFound"] == ["Warning"]
