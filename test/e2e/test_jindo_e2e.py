"""JindoRuntime end to end through the real controllers: ``secret``, ``hadoopConfig`` and
``runAs`` as a user writes them.

Real API server, scheduler, controller-manager and kwok nodes; Fluid's Dataset and
runtime controllers run in-process as the controller-manager composes them. The only
fake is the boundary into JindoCache processes (kwok runs no containers): a
``RecordingExecutor`` answered by ``FakeJindoMaster`` (5 GiB in 42 files under the OSS
path, 40 GiB of SSD cache, nothing cached yet); the test asserts the exact commands.

The flow: the runtime is applied before the Hadoop ConfigMap it names, so setup fails
with an Event saying what is missing and creates nothing; once the ConfigMap exists the
workloads appear with the STS Secret mounted at ``/token`` (never copied anywhere), the
Hadoop files mounted, masters and workers running as the ``runAs`` user with an init
container owning their cache directories → master and worker Ready on kwok nodes →
Dataset Bound with its ``kubectl get`` columns → PVC Bound → seed 000's node labels →
scale to 3 workers and back through the scale subresource → deletion leaves no
workload, PV, PVC, port or node label. No Secret value reaches an object, an Event or a
log line.
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
from fluid.engines.jindo import engine as jindo
from fluid.engines.jindo.fake import FakeJindoMaster, UfsTree
from fluid.kube import KubeClient, resources
from fluid.scheduling.ports import PortAllocator, PortRange, owner_key
from fluid.testing.managers import running_controllers
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

Obj = dict[str, Any]
NAME = "hadoop"
GiB = 2**30
UFS = "oss://lake-bucket/warehouse/"
LABELS = instance("jindo", NAME)
STS = {"AccessKeyId": "STS.jindo-e2e-access-key-id", "AccessKeySecret": "jindo-e2e-sts-secret",
       "SecurityToken": "CAIS-jindo-e2e-security-token", "Expiration": "2030-01-01T00:00:00Z"}
MANIFESTS = f"""
apiVersion: data.fluid.io/v1alpha1
kind: Dataset
metadata:
  name: {NAME}
spec:
  mounts:
    - mountPoint: {UFS}
      name: warehouse
      options:
        fs.oss.endpoint: oss-cn-shanghai-internal.aliyuncs.com
---
apiVersion: data.fluid.io/v1alpha1
kind: JindoRuntime
metadata:
  name: {NAME}
spec:
  replicas: 1
  secret: jindo-sts
  hadoopConfig: hdfs-conf
  runAs:
    uid: 1005
    gid: 1005
    user: hadoop
    group: hadoop
  tieredstore:
    levels:
      - mediumtype: SSD
        path: /mnt/disk1
        quota: 40Gi
        high: "0.99"
        low: "0.95"
"""
HADOOP_CONF = {"core-site.xml": "<configuration><property><name>fs.defaultFS</name>"
                                "<value>hdfs://namenode:8020</value></property></configuration>",
               "hdfs-site.xml": "<configuration/>"}


def expected(namespace: str) -> Expected:
    """5 GiB in 42 files, 40 GiB of SSD cache, seed 000's labels with Exclusive placement."""
    return Expected(
        kind=kinds.JINDO_RUNTIME, namespace=namespace, name=NAME, fuse_dir="jindofs-fuse",
        ufs_total="5.00GiB", capacity="40.00GiB", files="42",
        node_labels=exclusive_node_labels("jindo", namespace, NAME, medium="d", size="40GiB"))


def template(workload: Obj) -> Obj:
    pod: Obj = workload["spec"]["template"]["spec"]
    return pod


def volume(pod: Obj, name: str) -> Obj:
    found: Obj = next(v for v in pod["volumes"] if v["name"] == name)
    return found


async def runtime_events(kube: KubeClient, namespace: str) -> list[Obj]:
    events, _ = await kube.list_all(resources.EVENTS, namespace)
    return [e for e in events if e["involvedObject"].get("kind") == "JindoRuntime"]


async def check_workloads(kube: KubeClient, namespace: str) -> None:
    """Secret mounted not inlined, Hadoop files mounted, runAs on master and workers."""
    master = await kube.get(resources.STATEFULSETS, f"{NAME}-jindofs-master", namespace)
    worker = await kube.get(resources.STATEFULSETS, f"{NAME}-jindofs-worker", namespace)
    fuse = await kube.get(resources.DAEMONSETS, f"{NAME}-jindofs-fuse", namespace)
    for workload in (master, worker, fuse):
        pod = template(workload)
        assert volume(pod, "jindofs-secret-token") == {
            "name": "jindofs-secret-token", "secret": {"secretName": "jindo-sts",
                                                       "defaultMode": 420}}
        assert volume(pod, "hdfs-confs")["configMap"]["name"] == "hdfs-conf"
        mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
        assert mounts["/token"]["readOnly"] is True
        assert (mounts["/hdfs-site.xml"]["subPath"], mounts["/core-site.xml"]["subPath"]) == (
            "hdfs-site.xml", "core-site.xml")
        assert not any("valueFrom" in e for ctr in pod["containers"] for e in ctr.get("env", []))
    cache_dir = f"/mnt/disk1/{namespace}/{NAME}/jindocache"  # the master's meta dir is in it
    for workload in (master, worker):
        pod = template(workload)
        assert pod["securityContext"] == {"runAsUser": 1005, "runAsGroup": 1005, "fsGroup": 1005}
        [init] = pod["initContainers"]
        assert (init["name"], init["securityContext"]) == (
            "init-cache-dirs", {"runAsUser": 0, "runAsGroup": 0})
        assert init["command"] == ["sh", "-c", 'mkdir -p "$@" && chown -R 1005:1005 "$@"',
                                   "init-cache-dirs", cache_dir]
    assert template(fuse)["securityContext"] == {"runAsUser": 0, "runAsGroup": 0}
    config = await kube.get(resources.CONFIGMAPS, f"{NAME}-jindofs-config", namespace)
    assert "default.credential.provider = secrets:///token/" in config["data"]["jindocache.cfg"]
    assert "fs.oss.provider.endpoint = secrets:///token/" in config["data"]["jindosdk.cfg"]


async def test_jindo_runtime_with_secret_hadoop_config_and_run_as(
    kube: KubeClient, namespace: str, fluid_crds: list[str], workloads: list[str]
) -> None:
    master = FakeJindoMaster(capacity_bytes=40 * GiB, memory=False,
                             ufs={UFS: UfsTree(dirs=3, files=42, bytes=5 * GiB)})
    executor = master.executor()
    settings = engine_settings(kube, kind=kinds.JINDO_RUNTIME, factory=jindo.factory,
                               executor=executor, ports=PortRange(27000, 27999))
    assert settings.ports is not None
    await create_secret(kube, namespace, "jindo-sts", STS)

    with structlog.testing.capture_logs() as logs:
        async with running_controllers(kube, ["dataset", "runtime"], engines=settings):
            await apply_yaml(kube, MANIFESTS, namespace)
            await flow(kube, namespace, settings.ports)
            text = await objects_text(kube, namespace, kinds.JINDO_RUNTIME)
            await delete_and_wait_clean(kube, expected(namespace), settings.ports)

    commands = {(x.pod, x.container, x.command) for x in executor.calls if x.namespace == namespace}
    assert commands == {
        (f"{NAME}-jindofs-master-0", "jindofs-master", ("jindocache", "-report")),
        (f"{NAME}-jindofs-master-0", "jindofs-master", ("jindo", "fs", "-count", UFS)),
    }
    assert_secrets_kept(STS.values(), text=text, logs=logs, executor=executor)
    # The user's own objects are theirs: neither is touched.
    hadoop = await kube.get(resources.CONFIGMAPS, "hdfs-conf", namespace)
    assert hadoop["data"] == HADOOP_CONF
    assert await kube.get_or_none(resources.SECRETS, "jindo-sts", namespace) is not None


async def flow(kube: KubeClient, namespace: str, ports: PortAllocator) -> None:
    # The Hadoop ConfigMap is missing: setup says so and creates nothing.
    async def told() -> bool:
        return any(e["reason"] == "ErrorProcessRuntime"
                   and "specified hadoopConfig 'hdfs-conf' is not found" in e["message"]
                   for e in await runtime_events(kube, namespace))
    await eventually(told, timeout=30, what="ErrorProcessRuntime event naming the hadoopConfig")
    assert await kube.get_or_none(resources.STATEFULSETS, f"{NAME}-jindofs-master",
                                  namespace) is None
    await kube.create({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "hdfs-conf", "namespace": namespace},
                       "data": HADOOP_CONF})

    # Workloads created with the right pod specs, master and worker Ready on kwok nodes.
    async def pods_ready() -> bool:
        return await ready_pod_names(kube, namespace, LABELS) == {
            f"{NAME}-jindofs-master-0", f"{NAME}-jindofs-worker-0"}
    await eventually(pods_ready, timeout=60, what="master-0 and worker-0 Ready on kwok nodes")
    await check_workloads(kube, namespace)

    # Dataset Bound with its columns, PVC Bound, seed 000's labels; host ports held.
    await bound_and_labelled(kube, expected(namespace))
    assert set(ports.held_by(owner_key("JindoRuntime", namespace, NAME))) == {
        "master-rpc", "worker-rpc"}

    # Scale out to 3 workers on 3 nodes and back to 1, through the scale subresource.
    view = await scale_out_and_back(kube, expected(namespace))
    assert "selector" not in view["status"]  # upstream's JindoRuntime CRD has no selector path
