"""AlluxioRuntime options that cross the controllers, as upstream honours them: a root UFS
whose keys come from a Secret, the REST ``apiGateway``, ``runAs`` + ``initUsers``,
``hadoopConfig``, user volumes and a writable Dataset with an owner; a ``local://``
Dataset's masters placed by its ``nodeAffinity``; refusals a user must see.

Real API server, scheduler, controller-manager and kwok nodes; Fluid's Dataset and
runtime controllers run in-process as the controller-manager composes them. The only
fake is the boundary into Alluxio processes (kwok runs no containers): a
``RecordingExecutor`` answered by ``FakeAlluxioMaster`` (2.5 GiB in 120 files, 4 GiB of
MEM cache, nothing cached yet); the test asserts the exact commands.

- OSS at the root: the runtime is applied before the ``hadoopConfig`` ConfigMap it names,
  so setup fails with an Event saying what is missing; once it exists the workloads
  appear with the Hadoop files mounted, every Alluxio process running as the ``runAs``
  user after the ``initUsers`` containers, an ``api-gateway`` container on its own host
  port, the OSS keys as ``secretKeyRef`` variables named in the master's JVM options,
  read-write FUSE options with the owner's ids → master and worker Ready → Dataset Bound
  with its ``kubectl get`` columns and the runtime's API Gateway column → deletion frees
  the cache and leaves nothing. No Secret value reaches a ConfigMap, a workload's
  arguments or plain env values, a pod, an Event, a command or a log line.
- ``local://``: the masters land on the node the Dataset's ``nodeAffinity`` names.
- a worker memory limit below the MEM tier is refused with an Event; nothing is created.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import attrs
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
    selector,
)

from fluid.api import kinds
from fluid.engines.alluxio.engine import AlluxioEngine
from fluid.engines.alluxio.fake import FakeAlluxioMaster
from fluid.engines.base import EngineSettings, RecordingExecutor
from fluid.kube import KubeClient, resources
from fluid.scheduling.ports import PortRange, owner_key
from fluid.testing.managers import running_controllers
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

Obj = dict[str, Any]
NAME = "lake"
GiB = 2**30
UFS = "oss://lake-bucket/warehouse/"
LABELS = instance("alluxio", NAME)
OSS = {"id": "LTAI-alluxio-e2e-key-id", "secret": "alluxio-e2e-access-key-secret"}
INIT_IMAGE = "registry.example.com/fluid/init-users:v0.9.0"
MANIFESTS = f"""
apiVersion: data.fluid.io/v1alpha1
kind: Dataset
metadata:
  name: {NAME}
spec:
  accessModes:
    - ReadWriteMany
  owner:
    uid: 1201
    gid: 1201
    user: alluxio
    group: alluxio
  sharedEncryptOptions:
    - name: fs.oss.accessKeyId
      valueFrom:
        secretKeyRef:
          name: oss-cred
          key: id
  mounts:
    - mountPoint: {UFS}
      name: warehouse
      path: /
      options:
        fs.oss.endpoint: oss-cn-hangzhou-internal.aliyuncs.com
      encryptOptions:
        - name: fs.oss.accessKeySecret
          valueFrom:
            secretKeyRef:
              name: oss-cred
              key: secret
---
apiVersion: data.fluid.io/v1alpha1
kind: AlluxioRuntime
metadata:
  name: {NAME}
spec:
  replicas: 1
  runAs:
    uid: 1201
    gid: 1201
    user: alluxio
    group: alluxio
  initUsers:
    image: registry.example.com/fluid/init-users
    imageTag: v0.9.0
  apiGateway:
    enabled: true
  hadoopConfig: hdfs-conf
  volumes:
    - name: scratch
      emptyDir: {{}}
  worker:
    volumeMounts:
      - name: scratch
        mountPath: /scratch
  tieredstore:
    levels:
      - mediumtype: MEM
        path: /dev/shm
        quota: 4Gi
"""
HADOOP_CONFIG = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: hdfs-conf
data:
  core-site.xml: <configuration/>
"""


@attrs.frozen
class Env:
    master: FakeAlluxioMaster
    executor: RecordingExecutor
    settings: EngineSettings


@pytest.fixture
async def fluid(kube: KubeClient, fluid_crds: list[str], workloads: list[str]) -> AsyncIterator[Env]:
    master = FakeAlluxioMaster(ufs_bytes=int(2.5 * GiB), files=120, capacity_bytes=4 * GiB)
    executor = master.executor()
    settings = engine_settings(kube, kind=kinds.ALLUXIO_RUNTIME, factory=AlluxioEngine,
                               executor=executor, ports=PortRange(27000, 27999))
    async with running_controllers(kube, ["dataset", "runtime"], engines=settings):
        yield Env(master, executor, settings)


def expected(namespace: str) -> Expected:
    return Expected(
        kind=kinds.ALLUXIO_RUNTIME, namespace=namespace, name=NAME, fuse_dir="alluxio-fuse",
        ufs_total="2.50GiB", capacity="4.00GiB", files="120",
        node_labels=exclusive_node_labels("alluxio", namespace, NAME, medium="m", size="4GiB"))


def pod_spec(workload: Obj) -> Obj:
    spec: Obj = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: Obj) -> dict[str, Obj]:
    return {x["name"]: x for x in pod_spec(workload)["containers"]}


def env_of(container: Obj) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


async def events_saying(kube: KubeClient, namespace: str, reason: str, text: str) -> bool:
    events, _ = await kube.list_all(resources.EVENTS, namespace)
    return any(e["reason"] == reason and text in e["message"] for e in events)


async def check_workloads(kube: KubeClient, namespace: str, rest_port: int) -> None:
    """The root UFS's keys as references, the gateway, runAs, Hadoop files, FUSE options."""
    master = await kube.get(resources.STATEFULSETS, f"{NAME}-master", namespace)
    worker = await kube.get(resources.STATEFULSETS, f"{NAME}-worker", namespace)
    fuse = await kube.get(resources.DAEMONSETS, f"{NAME}-fuse", namespace)
    config = await kube.get(resources.CONFIGMAPS, f"{NAME}-config", namespace)
    props = dict(line.split("=", 1)
                 for line in config["data"]["alluxio-site.properties"].splitlines())
    assert props["alluxio.master.mount.table.root.ufs"] == UFS
    assert props["alluxio.master.mount.table.root.option.fs.oss.endpoint"] == (
        "oss-cn-hangzhou-internal.aliyuncs.com")
    assert not any("accessKey" in k for k in props)
    assert props["alluxio.underfs.hdfs.configuration"] == "/hdfs-config/core-site.xml"
    assert props["alluxio.proxy.web.port"] == str(rest_port)

    alluxio_master = containers(master)["alluxio-master"]
    env = env_of(alluxio_master)
    assert env["FLUID_SECRET_S0"] == {"secretKeyRef": {"name": "oss-cred", "key": "id"}}
    assert env["FLUID_SECRET_0_0"] == {"secretKeyRef": {"name": "oss-cred", "key": "secret"}}
    opts = env["ALLUXIO_MASTER_JAVA_OPTS"].split()
    assert "-Dalluxio.master.mount.table.root.option.fs.oss.accessKeyId=$(FLUID_SECRET_S0)" in opts
    assert ("-Dalluxio.master.mount.table.root.option.fs.oss.accessKeySecret=$(FLUID_SECRET_0_0)"
            in opts)

    gateway = containers(master)["api-gateway"]
    assert (gateway["args"], gateway["ports"]) == (
        ["proxy"], [{"name": "rest", "containerPort": rest_port, "protocol": "TCP"}])
    service = await kube.get(resources.SERVICES, f"{NAME}-master-0", namespace)
    assert {"name": "rest", "port": rest_port} in [
        {"name": p["name"], "port": p["port"]} for p in service["spec"]["ports"]]

    for workload, args in ((master, ["init_users"]), (worker, ["init_users", "chmod_tierpath"]),
                           (fuse, ["chmod_fuse_mountpoint"])):
        (init,) = pod_spec(workload)["initContainers"]
        assert (init["image"], init["args"]) == (INIT_IMAGE, args)
    processes = {**containers(master), **containers(worker), **containers(fuse)}
    for name, container in processes.items():
        security = container["securityContext"]
        assert (security["runAsUser"], security["runAsGroup"]) == (1201, 1201), name
        assert {"name": "user", "mountPath": "/etc/passwd", "readOnly": True} in \
            container["volumeMounts"], name
    hadoop = {"name": "hdfs-confs", "mountPath": "/hdfs-config", "readOnly": True}
    for name in ("alluxio-master", "alluxio-job-master", "alluxio-worker", "alluxio-job-worker"):
        assert hadoop in processes[name]["volumeMounts"], name
    assert {"name": "scratch", "mountPath": "/scratch"} in processes["alluxio-worker"]["volumeMounts"]
    assert {"name": "scratch", "emptyDir": {}} in pod_spec(worker)["volumes"]
    assert all(v["name"] != "scratch" for v in pod_spec(master)["volumes"])
    assert processes["alluxio-worker"]["resources"]["requests"]["memory"] == "4Gi"

    fuse_args = processes["alluxio-fuse"]["args"]
    assert fuse_args[1] == "--fuse-opts=kernel_cache,rw,max_read=131072,uid=1201,gid=1201,allow_other"


async def test_oss_root_with_secret_keys_api_gateway_run_as_and_hadoop_config(
    kube: KubeClient, namespace: str, fluid: Env
) -> None:
    ports = fluid.settings.ports
    assert ports is not None
    await create_secret(kube, namespace, "oss-cred", OSS)
    owner = owner_key("AlluxioRuntime", namespace, NAME)

    with structlog.testing.capture_logs() as logs:
        await apply_yaml(kube, MANIFESTS, namespace)
        await eventually(lambda: events_saying(kube, namespace, "ErrorProcessRuntime",
                                               "specified hadoopConfig 'hdfs-conf' is not found"),
                         timeout=30, what="an Event naming the missing hadoopConfig")
        assert await kube.get_or_none(resources.STATEFULSETS, f"{NAME}-master", namespace) is None
        await apply_yaml(kube, HADOOP_CONFIG, namespace)

        async def pods_ready() -> bool:
            return await ready_pod_names(kube, namespace, LABELS) == {
                f"{NAME}-master-0", f"{NAME}-worker-0"}
        await eventually(pods_ready, timeout=60, what="master-0 and worker-0 Ready on kwok nodes")
        rest = ports.held_by(owner)["proxy-web"]
        await check_workloads(kube, namespace, rest)

        runtime_cells = await bound_and_labelled(kube, expected(namespace))
        endpoint = f"{NAME}-master-0.{namespace}:{rest}"
        assert runtime_cells["API Gateway"] == endpoint
        runtime = await kube.get(kinds.ALLUXIO_RUNTIME.resource, NAME, namespace)
        assert runtime["status"]["apiGateway"] == {"endpoint": endpoint}
        pv = await kube.get(resources.PERSISTENT_VOLUMES, f"{namespace}-{NAME}")
        assert pv["spec"]["accessModes"] == ["ReadWriteMany"]

        text = await objects_text(kube, namespace, kinds.ALLUXIO_RUNTIME)
        await delete_and_wait_clean(kube, expected(namespace), ports)

    commands = {(x.pod, x.container, x.command) for x in fluid.executor.calls
                if x.namespace == namespace}
    assert commands == {(f"{NAME}-master-0", "alluxio-master", command) for command in (
        ("alluxio", "fs", "loadMetadata", "-R", "/"), ("alluxio", "fs", "count", "/"),
        ("alluxio", "fsadmin", "report", "summary"), ("alluxio", "fsadmin", "report", "metrics"),
        ("timeout", "60", "alluxio", "fs", "free", "-f", "/"))}
    assert_secrets_kept(OSS.values(), text=text, logs=logs, executor=fluid.executor)


async def test_local_dataset_masters_follow_its_node_affinity(
    kube: KubeClient, namespace: str, fluid: Env, workloads: list[str]
) -> None:
    node = workloads[-1]
    await apply_yaml(kube, f"""
apiVersion: data.fluid.io/v1alpha1
kind: Dataset
metadata:
  name: {NAME}
spec:
  mounts:
    - mountPoint: local:///mnt/lake
      name: lake
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions:
            - key: kubernetes.io/hostname
              operator: In
              values: [{node}]
---
apiVersion: data.fluid.io/v1alpha1
kind: AlluxioRuntime
metadata:
  name: {NAME}
spec:
  replicas: 1
  tieredstore:
    levels:
      - mediumtype: MEM
        path: /dev/shm
        quota: 1Gi
""", namespace)
    masters = {**LABELS, "app.kubernetes.io/component": "master"}

    async def master_placed() -> bool:
        return await ready_pod_names(kube, namespace, masters) == {f"{NAME}-master-0"}
    await eventually(master_placed, timeout=60, what="master-0 Ready")
    pods, _ = await kube.list_all(resources.PODS, namespace, label_selector=selector(masters))
    assert [p["spec"]["nodeName"] for p in pods] == [node]
    sts = await kube.get(resources.STATEFULSETS, f"{NAME}-master", namespace)
    terms = pod_spec(sts)["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]

    async def bound() -> bool:
        ds = await kube.get(kinds.DATASET.resource, NAME, namespace)
        return (ds.get("status") or {}).get("phase") == "Bound"
    await eventually(bound, timeout=60, what="Dataset Bound")
    await kube.delete(kinds.DATASET.resource, NAME, namespace)
    await kube.delete(kinds.ALLUXIO_RUNTIME.resource, NAME, namespace)

    async def gone() -> bool:
        return await kube.get_or_none(kinds.ALLUXIO_RUNTIME.resource, NAME, namespace) is None
    await eventually(gone, timeout=60, what="runtime deleted")


async def test_a_worker_memory_limit_below_the_mem_tier_is_refused(
    kube: KubeClient, namespace: str, fluid: Env
) -> None:
    await apply_yaml(kube, f"""
apiVersion: data.fluid.io/v1alpha1
kind: Dataset
metadata:
  name: {NAME}
spec:
  mounts:
    - mountPoint: {UFS}
      name: warehouse
---
apiVersion: data.fluid.io/v1alpha1
kind: AlluxioRuntime
metadata:
  name: {NAME}
spec:
  replicas: 1
  worker:
    resources:
      limits:
        memory: 8Gi
  tieredstore:
    levels:
      - mediumtype: MEM
        path: /dev/shm
        quota: 20Gi
""", namespace)
    await eventually(lambda: events_saying(
        kube, namespace, "ErrorValidateSpecFields",
        "the memory tieredStore's size 20Gi is greater than worker limits memory 8Gi"),
        timeout=30, what="an Event refusing the worker's memory limit")
    assert await kube.get_or_none(resources.STATEFULSETS, f"{NAME}-worker", namespace) is None
