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

from typing import Any

import pytest
import structlog
from engines_e2e_support import (
    Expected,
    apply_yaml,
    assert_secrets_kept,
    bound_and_labelled,
    create_secret,
    delete_and_wait_clean,
    engine_settings,
    exclusive_node_labels,
    instance,
    objects_text,
    ready_pod_names,
    scale_out_and_back,
)

from fluid.api import kinds
from fluid.engines.goosefs import engine as goosefs
from fluid.engines.goosefs.fake import FakeGooseFSMaster
from fluid.kube import KubeClient, resources
from fluid.scheduling.ports import PortAllocator, PortRange, owner_key
from fluid.testing.managers import running_controllers
from fluid.testing.wait import eventually

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


def expected(namespace: str) -> Expected:
    """2.5 GiB in 120 files, 10 GiB of SSD cache, seed 000's labels with Exclusive placement."""
    return Expected(
        kind=kinds.GOOSEFS_RUNTIME, namespace=namespace, name=NAME, fuse_dir="goosefs-fuse",
        ufs_total="2.50GiB", capacity="10.00GiB", files="120",
        node_labels=exclusive_node_labels("goosefs", namespace, NAME, medium="d", size="10GiB"))


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
    settings = engine_settings(kube, kind=kinds.GOOSEFS_RUNTIME, factory=goosefs.factory,
                               executor=executor, ports=PortRange(28000, 28999))
    assert settings.ports is not None
    await create_secret(kube, namespace, "cos-cred", COS)

    with structlog.testing.capture_logs() as logs:
        async with running_controllers(kube, ["dataset", "runtime"], engines=settings):
            await apply_yaml(kube, MANIFESTS, namespace)
            await flow(kube, namespace, settings.ports, master)
            text = await objects_text(kube, namespace, kinds.GOOSEFS_RUNTIME)
            await delete_and_wait_clean(kube, expected(namespace), settings.ports)

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
    assert_secrets_kept(COS.values(), text=text, logs=logs, executor=executor)


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

    # Dataset Bound with its columns, PVC Bound, seed 000's labels; the API Gateway column.
    runtime_cells = await bound_and_labelled(kube, expected(namespace))
    endpoint = f"{NAME}-master-0.{namespace}:{rest}"
    assert runtime_cells["API Gateway"] == endpoint
    runtime = await kube.get(kinds.GOOSEFS_RUNTIME.resource, NAME, namespace)
    assert runtime["status"]["apiGateway"] == {"endpoint": endpoint}

    # The COS path is mounted below the root with its keys as references.
    assert master.mounts == {"/hbase": UFS}
    assert master.mount_options["/hbase"] == {
        "fs.cosn.bucket.region": "ap-shanghai", "fs.cosn.impl": "org.apache.hadoop.fs.CosFileSystem",
        "fs.cosn.userSecretId": "${FLUID_SECRET_0_0}", "fs.cosn.userSecretKey": "${FLUID_SECRET_0_1}"}

    # Scale out to 3 workers on 3 nodes and back to 1, through the scale subresource.
    view = await scale_out_and_back(kube, expected(namespace))
    assert view["status"]["selector"] == (
        f"app.kubernetes.io/component=worker,app.kubernetes.io/instance={NAME},"
        "app.kubernetes.io/name=goosefs")
