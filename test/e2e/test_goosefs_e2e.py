"""GooseFSRuntime end to end through the real controllers: ``runAs`` + ``initUsers`` and the
REST ``apiGateway`` as a user writes them, with a COS mount whose keys come from a Secret.

Real API server, scheduler, controller-manager and kwok nodes; Fluid's Dataset and
runtime controllers run in-process as the controller-manager composes them. The only
fake is the boundary into GooseFS processes (kwok runs no containers): a
``RecordingExecutor`` answered by ``FakeGooseFSMaster`` (2.5 GiB in 120 files, 10 GiB of
SSD cache, nothing cached yet), which also records the mount options as the master's
shell would receive them; the test asserts the exact commands.

The flow: workloads created with ``init-users``/``init-fuse`` init containers from the
``initUsers`` image, every GooseFS process running as the ``runAs`` user, an
``api-gateway`` container with its own host port → master and worker Ready on kwok nodes
→ the COS path mounted with its keys as ``${FLUID_SECRET_*}`` references only → Dataset
Bound with its ``kubectl get`` columns and the runtime's API Gateway column → PVC Bound →
seed 000's node labels → scale to 3 workers and back through the scale subresource →
deletion frees the cache and leaves no workload, PV, PVC, port or node label. No Secret
value reaches an object, an Event or a log line.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml
from engines_e2e_support import (
    instance,
    labelled_nodes,
    labels_follow_workers,
    left_behind,
    ready_pod_names,
    row,
    scale,
)

from fluid.api import constants as c
from fluid.api import kinds
from fluid.engines.base import EngineConfig, EngineSettings
from fluid.engines.goosefs import engine as goosefs
from fluid.engines.goosefs.fake import FakeGooseFSMaster
from fluid.kube import KubeClient, resources
from fluid.scheduling.ports import PortAllocator, PortRange, load_from_cluster, owner_key
from fluid.testing.managers import running_controllers
from fluid.testing.wait import eventually

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "engines"))
from engines_driver import namespace_text

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

Obj = dict[str, Any]
NAME = "hbase"
GiB = 2**30
UFS = "cosn://hbase-1250000000/hbase/"
LABELS = instance("goosefs", NAME)
COS = {"id": "AKID-goosefs-e2e-secret-id", "key": "goosefs-e2e-secret-key-value"}
INIT_IMAGE = "registry.example.com/fluid/init-users:v0.9.0"
MANIFESTS = f"""
apiVersion: data.fluid.io/v1alpha1
kind: Dataset
metadata:
  name: {NAME}
spec:
  mounts:
    - mountPoint: {UFS}
      name: hbase
      options:
        fs.cosn.bucket.region: ap-shanghai
        fs.cosn.impl: org.apache.hadoop.fs.CosFileSystem
      encryptOptions:
        - name: fs.cosn.userSecretId
          valueFrom:
            secretKeyRef:
              name: cos-cred
              key: id
        - name: fs.cosn.userSecretKey
          valueFrom:
            secretKeyRef:
              name: cos-cred
              key: key
---
apiVersion: data.fluid.io/v1alpha1
kind: GooseFSRuntime
metadata:
  name: {NAME}
spec:
  replicas: 1
  runAs:
    uid: 1201
    gid: 1201
    user: goose
    group: goose
  initUsers:
    image: registry.example.com/fluid/init-users
    imageTag: v0.9.0
  apiGateway:
    enabled: true
  tieredstore:
    levels:
      - mediumtype: SSD
        path: /mnt/ssd0
        quota: 10Gi
        high: "0.95"
        low: "0.7"
"""
GOOSEFS_PORTS = {"master-rpc", "master-web", "job-master-rpc", "job-master-web", "worker-rpc",
                 "worker-web", "job-worker-rpc", "job-worker-data", "job-worker-web",
                 "api-gateway-rest"}


def expected_labels(namespace: str) -> dict[str, str]:
    """Seed 000's label set for a 10Gi SSD runtime with Exclusive placement."""
    ns_name = f"{namespace}-{NAME}"
    return {
        c.LABEL_DATASET_NUM: "1",
        f"fluid.io/s-goosefs-{ns_name}": "true",
        f"fluid.io/s-{ns_name}": "true",
        f"fluid.io/s-h-goosefs-d-{ns_name}": "10GiB",
        f"fluid.io/s-h-goosefs-t-{ns_name}": "10GiB",
        c.LABEL_EXCLUSIVE: f"{namespace}_{NAME}",
    }


def containers(workload: Obj) -> dict[str, Obj]:
    return {x["name"]: x for x in workload["spec"]["template"]["spec"]["containers"]}


def init_containers(workload: Obj) -> dict[str, Obj]:
    return {x["name"]: x for x in workload["spec"]["template"]["spec"].get("initContainers", [])}


async def check_workloads(kube: KubeClient, namespace: str, rest_port: int) -> None:
    """initUsers init containers, runAs on every GooseFS process, the API gateway."""
    master = await kube.get(resources.STATEFULSETS, f"{NAME}-master", namespace)
    worker = await kube.get(resources.STATEFULSETS, f"{NAME}-worker", namespace)
    fuse = await kube.get(resources.DAEMONSETS, f"{NAME}-fuse", namespace)
    for workload, args in ((master, ["init_users"]), (worker, ["init_users", "chmod_tierpath"])):
        init = init_containers(workload)["init-users"]
        assert (init["image"], init["args"]) == (INIT_IMAGE, args)
        assert {"name": "FLUID_INIT_USERS", "value": "1201:goose:1201,1201:goose"} in init["env"]
        volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
        assert volumes["user"]["hostPath"]["path"] == f"/tmp/fluid/{namespace}/{NAME}/passwd"
    fuse_init = init_containers(fuse)["init-fuse"]
    assert (fuse_init["image"], fuse_init["args"]) == (INIT_IMAGE, ["chmod_fuse_mountpoint"])
    processes = {**containers(master), **containers(worker), **containers(fuse)}
    for name in ("goosefs-master", "goosefs-job-master", "goosefs-worker", "goosefs-job-worker",
                 "goosefs-fuse"):
        security = processes[name]["securityContext"]
        assert (security["runAsUser"], security["runAsGroup"]) == (1201, 1201), name
        assert {"name": "user", "mountPath": "/etc/passwd", "readOnly": True} in \
            processes[name]["volumeMounts"]
    gateway = processes["api-gateway"]
    assert (gateway["args"], gateway["ports"]) == (
        ["proxy"], [{"name": "rest", "containerPort": rest_port, "protocol": "TCP"}])
    service = await kube.get(resources.SERVICES, f"{NAME}-master-0", namespace)
    assert {"name": "rest", "port": rest_port} in [
        {"name": p["name"], "port": p["port"]} for p in service["spec"]["ports"]]
    config = await kube.get(resources.CONFIGMAPS, f"{NAME}-config", namespace)
    assert f"-Dgoosefs.proxy.web.port={rest_port}" in config["data"]["GOOSEFS_JAVA_OPTS"]
    # Secret-backed options travel as secretKeyRef env vars only.
    env = {e["name"]: e for e in processes["goosefs-master"]["env"]}
    assert env["FLUID_SECRET_0_1"]["valueFrom"] == {
        "secretKeyRef": {"name": "cos-cred", "key": "key"}}


async def test_goosefs_runtime_with_init_users_and_api_gateway(
    kube: KubeClient, namespace: str, fluid_crds: list[str], workloads: list[str]
) -> None:
    master = FakeGooseFSMaster(ufs_bytes=int(2.5 * GiB), files=120, capacity_bytes=10 * GiB)
    executor = master.executor()
    ports = PortAllocator(PortRange(28000, 28999), loader=load_from_cluster(kube))
    settings = EngineSettings(
        factories={kinds.GOOSEFS_RUNTIME.kind: goosefs.factory}, ports=ports, executor=executor,
        config=EngineConfig(sync_retry_seconds=0.0), resync_seconds=1.0, setup_retry_seconds=0.5)
    await kube.create({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": "cos-cred", "namespace": namespace},
                       "data": {k: base64.b64encode(v.encode()).decode() for k, v in COS.items()}})

    with structlog.testing.capture_logs() as logs:
        async with running_controllers(kube, ["dataset", "runtime"], engines=settings):
            for doc in yaml.safe_load_all(MANIFESTS):
                doc["metadata"]["namespace"] = namespace
                await kube.create(doc)
            await flow(kube, namespace, ports, master)
            text = await namespace_text(kube, namespace, (
                resources.CONFIGMAPS, resources.STATEFULSETS, resources.DAEMONSETS,
                resources.PODS, resources.SERVICES, resources.EVENTS,
                kinds.GOOSEFS_RUNTIME.resource, kinds.DATASET.resource))
            await delete_everything(kube, namespace, ports)

    assert master.freed >= 1, "the cache was not freed before shutdown"
    pod, container = f"{NAME}-master-0", "goosefs-master"
    commands = {(x.pod, x.container, x.command) for x in executor.calls if x.namespace == namespace}
    mount = ("sh", "-c", "goosefs fs mount --option fs.cosn.bucket.region=ap-shanghai --option "
             "fs.cosn.impl=org.apache.hadoop.fs.CosFileSystem "
             "--option fs.cosn.userSecretId=\"${FLUID_SECRET_0_0}\" "
             "--option fs.cosn.userSecretKey=\"${FLUID_SECRET_0_1}\" /hbase " + UFS)
    assert commands == {(pod, container, command) for command in (
        ("goosefs", "fs", "mount"), mount, ("goosefs", "fs", "count", "/"),
        ("goosefs", "fsadmin", "report", "summary"), ("goosefs", "fs", "free", "-f", "/"))}
    assert any(e.get("event") == "dataset_bound" for e in logs), "structlog output not captured"
    for value in COS.values():
        assert value not in text, "a Secret value reached an object or Event"
        assert value not in repr(logs), "a Secret value reached the logs"
        assert value not in repr(executor.calls), "a Secret value reached a command"


async def flow(kube: KubeClient, namespace: str, ports: PortAllocator,
               master: FakeGooseFSMaster) -> None:
    owner = owner_key("GooseFSRuntime", namespace, NAME)

    # Workloads created, master and worker Ready on kwok nodes.
    async def pods_ready() -> bool:
        return await ready_pod_names(kube, namespace, LABELS) == {
            f"{NAME}-master-0", f"{NAME}-worker-0"}
    await eventually(pods_ready, timeout=60, what="master-0 and worker-0 Ready on kwok nodes")
    assert set(ports.held_by(owner)) == GOOSEFS_PORTS
    rest = ports.held_by(owner)["api-gateway-rest"]
    await check_workloads(kube, namespace, rest)

    # Dataset Bound; `kubectl get dataset` and `kubectl get goosefsruntime -o wide`.
    async def dataset_columns() -> bool:
        cells = row(await kube.table(kinds.DATASET.resource, namespace), NAME)
        return cells["Phase"] == "Bound" and cells["Ufs Total Size"] == "2.50GiB" \
            and cells["Cache Capacity"] == "10.00GiB"
    await eventually(dataset_columns, timeout=60, what="dataset Bound with its columns filled")
    cells = row(await kube.table(kinds.DATASET.resource, namespace), NAME)
    assert (cells["Ufs Total Size"], cells["Cached"], cells["Cache Capacity"],
            cells["Cached Percentage"], cells["Phase"], cells["TOTAL FILES"]) == (
        "2.50GiB", "0.00B", "10.00GiB", "0.0%", "Bound", "120")
    status = (await kube.get(kinds.DATASET.resource, NAME, namespace))["status"]
    assert status["runtimes"] == [{"name": NAME, "namespace": namespace, "category": "Accelerate",
                                   "type": "goosefs", "masterReplicas": 1}]
    runtime_cells = row(await kube.table(kinds.GOOSEFS_RUNTIME.resource, namespace), NAME)
    assert (runtime_cells["Master Phase"], runtime_cells["Worker Phase"],
            runtime_cells["Fuse Phase"], runtime_cells["Ready Workers"]) == (
        "Ready", "Ready", "Ready", 1)
    endpoint = f"{NAME}-master-0.{namespace}:{rest}"
    assert runtime_cells["API Gateway"] == endpoint
    runtime = await kube.get(kinds.GOOSEFS_RUNTIME.resource, NAME, namespace)
    assert runtime["status"]["apiGateway"] == {"endpoint": endpoint}

    # The COS path is mounted below the root with its keys as references.
    assert master.mounts == {"/hbase": UFS}
    assert master.mount_options["/hbase"] == {
        "fs.cosn.bucket.region": "ap-shanghai", "fs.cosn.impl": "org.apache.hadoop.fs.CosFileSystem",
        "fs.cosn.userSecretId": "${FLUID_SECRET_0_0}", "fs.cosn.userSecretKey": "${FLUID_SECRET_0_1}"}

    # PV and PVC bound to each other.
    async def pvc_bound() -> bool:
        pvc = await kube.get_or_none(resources.PERSISTENT_VOLUME_CLAIMS, NAME, namespace)
        return ((pvc or {}).get("status") or {}).get("phase") == "Bound"
    await eventually(pvc_bound, timeout=30, what="PVC Bound")
    pv = await kube.get(resources.PERSISTENT_VOLUMES, f"{namespace}-{NAME}")
    attributes = pv["spec"]["csi"]["volumeAttributes"]
    assert attributes["fluid_path"] == f"/runtime-mnt/goosefs/{namespace}/{NAME}/goosefs-fuse"
    assert attributes["mount_type"] == "fuse.goosefs-fuse"

    # Seed 000's node labels on the worker's node.
    await eventually(lambda: labels_follow_workers(kube, namespace, NAME, LABELS, 1),
                     timeout=30, what="worker node labelled")
    assert list((await labelled_nodes(kube, namespace, NAME)).values()) == [
        expected_labels(namespace)]

    # Scale out to 3 workers on 3 nodes and back to 1, through the scale subresource.
    await scale(kube, kinds.GOOSEFS_RUNTIME, namespace, NAME, 3)
    await eventually(lambda: labels_follow_workers(kube, namespace, NAME, LABELS, 3),
                     timeout=60, what="3 workers Ready and labelled")
    assert all(v == expected_labels(namespace)
               for v in (await labelled_nodes(kube, namespace, NAME)).values())
    view = await scale(kube, kinds.GOOSEFS_RUNTIME, namespace, NAME, 3)
    assert (view["status"]["replicas"], view["status"]["selector"]) == (3, (
        f"app.kubernetes.io/component=worker,app.kubernetes.io/instance={NAME},"
        "app.kubernetes.io/name=goosefs"))
    await scale(kube, kinds.GOOSEFS_RUNTIME, namespace, NAME, 1)
    await eventually(lambda: labels_follow_workers(kube, namespace, NAME, LABELS, 1),
                     timeout=60, what="back to 1 worker, 1 labelled node")


async def delete_everything(kube: KubeClient, namespace: str, ports: PortAllocator) -> None:
    await kube.delete(kinds.DATASET.resource, NAME, namespace)
    await kube.delete(kinds.GOOSEFS_RUNTIME.resource, NAME, namespace)

    async def all_gone() -> bool:
        return not await left_behind(kube, kind=kinds.GOOSEFS_RUNTIME, namespace=namespace,
                                     name=NAME, labels=LABELS)
    await eventually(all_gone, timeout=90, what="no workload, PV, PVC or node label left")
    assert ports.held_by(owner_key("GooseFSRuntime", namespace, NAME)) == {}
