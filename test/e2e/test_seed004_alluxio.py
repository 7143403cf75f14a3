"""Seed 004 end to end: a ``pvc://`` Dataset cached by an AlluxioRuntime with a MEM tier.

Real API server, scheduler, controller-manager and kwok nodes; Fluid's dataset and runtime
controllers run in-process in a Manager. The seed's YAML (test/data/seeds/004-*.yaml) is
applied as written, in the test's namespace. The only fake is the boundary into Alluxio
processes (kwok runs no containers): a ``RecordingExecutor`` answered by
``FakeAlluxioMaster`` as the seed's cluster would answer (3.31 GiB in one file, 20 GiB of
MEM cache, nothing cached yet); the test asserts the exact commands issued.

The flow: StatefulSets and DaemonSet created → pods scheduled on kwok nodes and Ready,
the worker asking for the MEM tier's 20Gi of memory, FUSE read-only with the tier path
mounted for short-circuit reads →
Dataset Bound with the seed's ``kubectl get`` columns → PVC Bound → scale the runtime to
3 workers and back to 1 through the scale subresource, node labels following the workers
→ delete Dataset and runtime → no workload, PV, PVC, port or node label left.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from engines_e2e_support import (
    Expected,
    delete_and_wait_clean,
    engine_settings,
    exclusive_node_labels,
    instance,
    labelled_nodes,
    labels_follow_workers,
    ready_pod_names,
    row,
    scale,
)
from prometheus_client import REGISTRY

from fluid.api import kinds
from fluid.engines.alluxio.engine import AlluxioEngine
from fluid.engines.alluxio.fake import FakeAlluxioMaster
from fluid.engines.base import RecordingExecutor
from fluid.kube import KubeClient, resources
from fluid.scheduling.ports import PortAllocator, PortRange, owner_key
from fluid.testing.managers import running_controllers
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

Obj = dict[str, Any]
SEEDS = Path(__file__).resolve().parents[1] / "data" / "seeds"
NAME = "pv-demo-dataset"
GiB = 2**30
INSTANCE = instance("alluxio", NAME)


def seed_objects(filename: str, namespace: str) -> list[Obj]:
    objects = [o for o in yaml.safe_load_all((SEEDS / filename).read_text()) if o]
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    return objects


@pytest.fixture
async def controllers(
    kube: KubeClient, fluid_crds: list[str], workloads: list[str]
) -> AsyncIterator[tuple[RecordingExecutor, PortAllocator]]:
    master = FakeAlluxioMaster(ufs_bytes=int(3.31 * GiB), files=1, capacity_bytes=20 * GiB)
    executor = master.executor()
    settings = engine_settings(kube, kind=kinds.ALLUXIO_RUNTIME, factory=AlluxioEngine,
                               executor=executor, ports=PortRange(20000, 26000))
    assert settings.ports is not None
    async with running_controllers(kube, ["dataset", "runtime"], engines=settings):
        yield executor, settings.ports


async def bind_source_pvc(kube: KubeClient, namespace: str) -> None:
    """A hostPath PV for the seed's ``fluid-pvc`` (its cephfs class has no provisioner here)."""
    await kube.create({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": f"{namespace}-fluid-pvc-src"},
        "spec": {"capacity": {"storage": "20G"}, "accessModes": ["ReadWriteOnce"],
                 "storageClassName": "cephfs", "hostPath": {"path": "/tmp/fluid-pvc"},
                 "claimRef": {"namespace": namespace, "name": "fluid-pvc"}},
    })
    for obj in seed_objects("004-pvc-fluid-pvc.yaml", namespace):
        await kube.create(obj)

    async def bound() -> bool:
        pvc = await kube.get(resources.PERSISTENT_VOLUME_CLAIMS, "fluid-pvc", namespace)
        return (pvc.get("status") or {}).get("phase") == "Bound"

    await eventually(bound, timeout=30, what="fluid-pvc Bound")


async def check_seed_workloads(kube: KubeClient, namespace: str) -> None:
    """As upstream renders the seed: the worker asks for the 20Gi MEM tier's memory and
    the scheduler placed it so; FUSE is read-only (the Dataset is ReadOnlyMany), reads the
    dataset's own tier directory ``/dev/shm/<ns>/<name>`` itself (short-circuit), knows its
    node's address and has no Istio sidecar."""
    worker = await kube.get(resources.STATEFULSETS, f"{NAME}-worker", namespace)
    template = worker["spec"]["template"]["spec"]["containers"][0]
    assert template["resources"]["requests"]["memory"] == "20Gi"
    cache_dir = f"/dev/shm/{namespace}/{NAME}"
    assert {"name": "tier-0-0", "hostPath": {"path": cache_dir, "type": "DirectoryOrCreate"}} in \
        worker["spec"]["template"]["spec"]["volumes"]
    assert {"name": "tier-0-0", "mountPath": cache_dir} in template["volumeMounts"]
    pod = await kube.get(resources.PODS, f"{NAME}-worker-0", namespace)
    assert pod["spec"]["containers"][0]["resources"]["requests"]["memory"] == "20Gi"
    assert template["env"][0] == {"name": "ALLUXIO_WORKER_HOSTNAME", "valueFrom": {
        "fieldRef": {"apiVersion": "v1", "fieldPath": "status.hostIP"}}}
    fuse = await kube.get(resources.DAEMONSETS, f"{NAME}-fuse", namespace)
    fuse_pod = fuse["spec"]["template"]
    assert fuse_pod["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false"
    container = fuse_pod["spec"]["containers"][0]
    assert container["args"] == [
        "fuse", "--fuse-opts=kernel_cache,ro,max_read=131072,attr_timeout=7200,"
                "entry_timeout=7200,nonempty,allow_other",
        f"/runtime-mnt/alluxio/{namespace}/{NAME}/alluxio-fuse", "/"]
    assert {"name": "tier-0-0", "mountPath": cache_dir} in [
        {k: m[k] for k in ("name", "mountPath")} for m in container["volumeMounts"]]
    assert container["env"][0]["name"] == "ALLUXIO_CLIENT_HOSTNAME"


def expected(namespace: str) -> Expected:
    """3.31 GiB in 1 file, 20 GiB of MEM cache, seed 000's labels with Exclusive placement."""
    return Expected(
        kind=kinds.ALLUXIO_RUNTIME, namespace=namespace, name=NAME, fuse_dir="alluxio-fuse",
        ufs_total="3.31GiB", capacity="20.00GiB", files="1",
        node_labels=exclusive_node_labels("alluxio", namespace, NAME, medium="m", size="20GiB"))


async def test_seed004_pvc_dataset_with_alluxio_mem_tier(
    kube: KubeClient, namespace: str, controllers: tuple[RecordingExecutor, PortAllocator]
) -> None:
    executor, ports = controllers
    await bind_source_pvc(kube, namespace)
    for obj in seed_objects("004-dataset-alluxioruntime-pv-demo.yaml", namespace):
        await kube.create(obj)

    # Workloads created, scheduled on kwok nodes and Ready.
    for res, name in ((resources.STATEFULSETS, f"{NAME}-master"),
                      (resources.STATEFULSETS, f"{NAME}-worker"),
                      (resources.DAEMONSETS, f"{NAME}-fuse")):
        await eventually(lambda res=res, name=name: kube.get_or_none(res, name, namespace),
                         timeout=30, what=f"{res.kind} {name}")

    async def pods_ready() -> bool:
        names = await ready_pod_names(kube, namespace, INSTANCE)
        return names == {f"{NAME}-master-0", f"{NAME}-worker-0"}

    await eventually(pods_ready, timeout=60, what="master-0 and worker-0 Ready on kwok nodes")
    await check_seed_workloads(kube, namespace)

    # Dataset Bound; `kubectl get dataset` and `kubectl get alluxioruntime` as the seed shows.
    async def dataset_columns() -> bool:
        cells = row(await kube.table(kinds.DATASET.resource, namespace), NAME)
        return cells["Phase"] == "Bound" and cells["Ufs Total Size"] == "3.31GiB" \
            and cells["Cache Capacity"] == "20.00GiB"

    await eventually(dataset_columns, timeout=60, what="dataset Bound with its columns filled")
    cells = row(await kube.table(kinds.DATASET.resource, namespace), NAME)
    assert (cells["Ufs Total Size"], cells["Cached"], cells["Cache Capacity"],
            cells["Cached Percentage"], cells["Phase"]) == (
        "3.31GiB", "0.00B", "20.00GiB", "0.0%", "Bound")
    assert cells["TOTAL FILES"] == "1"
    gauge_labels = {"namespace": namespace, "dataset": NAME}
    assert REGISTRY.get_sample_value("fluid_dataset_cached_bytes", gauge_labels) == 0.0
    assert REGISTRY.get_sample_value("fluid_dataset_cached_percentage", gauge_labels) == 0.0
    status = (await kube.get(kinds.DATASET.resource, NAME, namespace))["status"]
    assert status["runtimes"] == [{"name": NAME, "namespace": namespace, "category": "Accelerate",
                                   "type": "alluxio", "masterReplicas": 1}]
    assert [(x["type"], x["status"], x["reason"]) for x in status["conditions"]] == [
        ("Ready", "True", "DatasetReady")]
    assert status["hcfs"]["endpoint"].startswith(f"alluxio://{NAME}-master-0.{namespace}:")
    assert status["mounts"] == [{"mountPoint": "pvc://fluid-pvc", "name": "data", "path": "/"}]
    runtime_cells = row(await kube.table(kinds.ALLUXIO_RUNTIME.resource, namespace), NAME)
    assert (runtime_cells["Master Phase"], runtime_cells["Worker Phase"],
            runtime_cells["Fuse Phase"]) == ("Ready", "Ready", "Ready")
    assert (runtime_cells["Ready Workers"], runtime_cells["Desired Workers"]) == (1, 1)

    # PV and PVC, bound to each other, as seed 000 describes them.
    async def pvc_bound() -> bool:
        pvc = await kube.get_or_none(resources.PERSISTENT_VOLUME_CLAIMS, NAME, namespace)
        return ((pvc or {}).get("status") or {}).get("phase") == "Bound"

    await eventually(pvc_bound, timeout=30, what="PVC pv-demo-dataset Bound")
    pv = await kube.get(resources.PERSISTENT_VOLUMES, f"{namespace}-{NAME}")
    assert pv["spec"]["csi"]["driver"] == "fuse.csi.fluid.io"
    assert pv["spec"]["csi"]["volumeHandle"] == f"{namespace}-{NAME}"
    attributes = pv["spec"]["csi"]["volumeAttributes"]
    assert attributes["fluid_path"] == f"/runtime-mnt/alluxio/{namespace}/{NAME}/alluxio-fuse"
    assert attributes["mount_type"] == "fuse.alluxio-fuse"
    assert (attributes["runtime_name"], attributes["runtime_namespace"]) == (NAME, namespace)
    assert pv["spec"]["accessModes"] == ["ReadOnlyMany"]
    assert pv["metadata"]["annotations"]["CreatedBy"] == "fluid"
    assert pv["metadata"]["labels"][f"fluid.io/s-{namespace}-{NAME}"] == "true"
    assert pv["spec"]["claimRef"]["name"] == NAME

    # Node labels on the worker's node, exactly seed 000's set.
    async def labels_on(count: int) -> bool:
        return await labels_follow_workers(kube, namespace, NAME, INSTANCE, count)

    await eventually(lambda: labels_on(1), timeout=30, what="worker node labelled")
    labelled = await labelled_nodes(kube, namespace, NAME)
    assert list(labelled.values()) == [expected(namespace).node_labels]

    # A pvc:// mount is a pod volume: never `alluxio fs mount`.
    commands = set(executor.commands(namespace))
    assert commands == {
        ("alluxio", "fs", "loadMetadata", "-R", "/"),
        ("alluxio", "fs", "count", "/"),
        ("alluxio", "fsadmin", "report", "summary"),
        ("alluxio", "fsadmin", "report", "metrics"),
    }
    assert {c.pod for c in executor.calls if c.namespace == namespace} == {f"{NAME}-master-0"}
    assert ports.held_by(owner_key("AlluxioRuntime", namespace, NAME))

    # Scale out to 3 workers (on 3 distinct nodes), then back to 1.
    await scale(kube, kinds.ALLUXIO_RUNTIME, namespace, NAME, 3)
    await eventually(lambda: labels_on(3), timeout=60, what="3 workers Ready and labelled")
    labelled = await labelled_nodes(kube, namespace, NAME)
    assert all(v == expected(namespace).node_labels for v in labelled.values())
    scale_view: Obj = {}

    async def scaled_out() -> bool:  # the runtime's status follows the StatefulSet's
        nonlocal scale_view
        scaled = await kube.get(kinds.ALLUXIO_RUNTIME.resource, NAME, namespace)
        scale_view = await scale(kube, kinds.ALLUXIO_RUNTIME, namespace, NAME, 3)  # unchanged
        return scale_view["status"].get("replicas") == 3 and any(
            x["type"] == "WorkersScaledOut" for x in scaled["status"].get("conditions") or ())

    await eventually(scaled_out, timeout=30, what="WorkersScaledOut and the Scale reporting 3")
    assert scale_view["status"]["selector"] == (
        f"app.kubernetes.io/component=worker,app.kubernetes.io/instance={NAME},"
        "app.kubernetes.io/name=alluxio")
    await scale(kube, kinds.ALLUXIO_RUNTIME, namespace, NAME, 1)
    await eventually(lambda: labels_on(1), timeout=60, what="back to 1 worker, 1 labelled node")

    # Delete Dataset and runtime: nothing is left behind, the host ports are free.
    await delete_and_wait_clean(kube, expected(namespace), ports)
    assert REGISTRY.get_sample_value("fluid_dataset_cached_bytes", gauge_labels) is None
