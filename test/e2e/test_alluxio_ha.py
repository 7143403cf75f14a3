"""An AlluxioRuntime with three masters on the embedded journal, and its cache hit ratios.

Real API server, scheduler, controller-manager and kwok nodes; the dataset and runtime
controllers run in-process. The only fake is the boundary into Alluxio processes: a
``RecordingExecutor`` answered by ``FakeAlluxioMaster``, whose ``report metrics`` answers
grow the read counters by a steady workload.

- three masters: every master is listed in the journal addresses under its stable DNS
  name with the allocated embedded-journal port, the StatefulSet runs three pods on three
  nodes (their host ports collide otherwise), each pod has its hostname in the governing
  headless Service's subdomain (kwok's loopback node addresses cannot be endpoints, so
  the DNS records themselves are not checked), the runtime is Ready only with all three,
  the Dataset records ``masterReplicas: 3``, and commands go to a ready master;
- the cache hit and throughput ratios appear in the runtime's and the Dataset's
  ``cacheStates`` once clients read, "0.0%" while nobody does;
- an even number of masters is refused with an Event and nothing is created.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
from engines_e2e_support import (
    delete_runtime_and_wait_clean,
    engine_settings,
    instance,
    ready_pod_names,
    selector,
)

from fluid.api import constants as c
from fluid.api import kinds
from fluid.engines import base
from fluid.engines.alluxio.engine import AlluxioEngine
from fluid.engines.alluxio.fake import FakeAlluxioMaster, Reads
from fluid.engines.base import RecordingExecutor
from fluid.kube import KubeClient, resources
from fluid.kube.resources import Resource
from fluid.scheduling.ports import PortAllocator, PortRange, owner_key
from fluid.testing.managers import running_controllers
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

Obj = dict[str, Any]
GiB = 2**30
NAME = "ha"
HBASE = "https://mirrors.tuna.tsinghua.edu.cn/apache/hbase/stable/"
INSTANCE = instance("alluxio", NAME)
MASTERS = {**INSTANCE, "app.kubernetes.io/component": "master"}
RATIOS = ("cacheHitRatio", "localHitRatio", "remoteHitRatio", "localThroughputRatio",
          "remoteThroughputRatio", "cacheThroughputRatio")


@attrs.frozen
class HAEnv:
    master: FakeAlluxioMaster
    executor: RecordingExecutor
    ports: PortAllocator


def alluxio_engine(deps: base.EngineDeps, key: base.RuntimeKey) -> AlluxioEngine:
    """Upstream samples the read metrics once a minute; once a second here."""
    return AlluxioEngine(deps, key, hit_ratio_window=1.0)


@pytest.fixture
async def fluid(kube: KubeClient, fluid_crds: list[str], workloads: list[str]) -> AsyncIterator[HAEnv]:
    master = FakeAlluxioMaster(ufs_bytes=8 * GiB, files=12, capacity_bytes=6 * GiB,
                               used_bytes=2 * GiB)
    executor = master.executor()
    settings = engine_settings(kube, kind=kinds.ALLUXIO_RUNTIME, factory=alluxio_engine,
                               executor=executor, ports=PortRange(20000, 26000))
    assert settings.ports is not None
    async with running_controllers(kube, ["dataset", "runtime"], engines=settings):
        yield HAEnv(master, executor, settings.ports)


def dataset(namespace: str, name: str) -> Obj:
    return {"apiVersion": c.API_VERSION, "kind": "Dataset",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"mounts": [{"mountPoint": HBASE, "name": "hbase"}]}}


def runtime(namespace: str, name: str, *, masters: int) -> Obj:
    return {"apiVersion": c.API_VERSION, "kind": "AlluxioRuntime",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": 1, "master": {"replicas": masters},
                     "tieredstore": {"levels": [{"mediumtype": "MEM", "path": "/dev/shm",
                                                 "quota": "6Gi"}]}}}


async def status_of(kube: KubeClient, res: Resource, namespace: str) -> Obj:
    obj = await kube.get_or_none(res, NAME, namespace)
    return ((obj or {}).get("status") or {})


async def test_three_masters_on_the_embedded_journal(
    kube: KubeClient, namespace: str, fluid: HAEnv
) -> None:
    await kube.create(dataset(namespace, NAME))
    await kube.create(runtime(namespace, NAME, masters=3))

    async def bound() -> bool:
        return (await status_of(kube, kinds.DATASET.resource, namespace)).get("phase") == "Bound"

    await eventually(bound, timeout=90, what="Dataset Bound with three masters")

    # Three master pods, Ready, on three nodes; the runtime counts all of them.
    assert await ready_pod_names(kube, namespace, MASTERS) == {
        f"{NAME}-master-0", f"{NAME}-master-1", f"{NAME}-master-2"}
    pods, _ = await kube.list_all(resources.PODS, namespace, label_selector=selector(MASTERS))
    assert len({p["spec"]["nodeName"] for p in pods}) == 3
    assert {(p["spec"]["hostname"], p["spec"]["subdomain"]) for p in pods} == {
        (f"{NAME}-master-{i}", f"{NAME}-master") for i in range(3)}
    status = await status_of(kube, kinds.ALLUXIO_RUNTIME.resource, namespace)
    assert (status["masterPhase"], status["desiredMasterNumberScheduled"],
            status["currentMasterNumberScheduled"], status["masterNumberReady"]) == (
        "Ready", 3, 3, 3)
    assert {x["type"]: x["status"] for x in status["conditions"]}["MasterReady"] == "True"
    ds_status = await status_of(kube, kinds.DATASET.resource, namespace)
    assert ds_status["runtimes"][0]["masterReplicas"] == 3
    assert ds_status["hcfs"]["endpoint"].startswith(f"alluxio://{NAME}-master-0.{namespace}:")

    # The journal: every master under its DNS name with the allocated embedded-journal port.
    held = fluid.ports.held_by(owner_key("AlluxioRuntime", namespace, NAME))
    assert {"master-embedded", "job-master-embedded"} <= set(held)
    config = await kube.get(resources.CONFIGMAPS, f"{NAME}-config", namespace)
    props = dict(line.split("=", 1)
                 for line in config["data"]["alluxio-site.properties"].splitlines())
    port = held["master-embedded"]
    assert props["alluxio.master.embedded.journal.addresses"].split(",") == [
        f"{NAME}-master-{i}.{NAME}-master.{namespace}.svc:{port}" for i in range(3)]
    assert (props["alluxio.master.journal.type"], props["alluxio.master.embedded.journal.port"],
            props["alluxio.job.master.embedded.journal.port"]) == (
        "EMBEDDED", str(port), str(held["job-master-embedded"]))
    assert "alluxio.master.hostname" not in props
    sts = await kube.get(resources.STATEFULSETS, f"{NAME}-master", namespace)
    assert (sts["spec"]["replicas"], sts["spec"]["serviceName"]) == (3, f"{NAME}-master")
    services, _ = await kube.list_all(resources.SERVICES, namespace,
                                      label_selector=selector(INSTANCE))
    assert sorted(s["metadata"]["name"] for s in services) == [
        f"{NAME}-master", f"{NAME}-master-0", f"{NAME}-master-1", f"{NAME}-master-2"]

    # Commands went to a ready master, in its alluxio-master container.
    calls = [x for x in fluid.executor.calls if x.namespace == namespace]
    assert {(x.pod, x.container) for x in calls} == {(f"{NAME}-master-0", "alluxio-master")}
    assert ("alluxio", "fs", "mount", "/hbase", HBASE) in [x.command for x in calls]

    # Nobody reads yet: the ratios are 0.0% from the second sample of the metrics on.
    async def ratios(expected: str) -> bool:
        states = (await status_of(kube, kinds.ALLUXIO_RUNTIME.resource, namespace)).get(
            "cacheStates") or {}
        return all(states.get(k) == expected for k in RATIOS)

    await eventually(lambda: ratios("0.0%"), timeout=30, what="ratios 0.0% while nobody reads")

    # A job reads 4GiB from local workers, 1GiB from other workers and 3GiB from the UFS
    # every sampling window.
    fluid.master.workload = Reads(local=4 * GiB, remote=GiB, ufs=3 * GiB)

    async def hit_ratios_reported() -> bool:
        states = (await status_of(kube, kinds.ALLUXIO_RUNTIME.resource, namespace)).get(
            "cacheStates") or {}
        ds_states = (await status_of(kube, kinds.DATASET.resource, namespace)).get(
            "cacheStates") or {}
        return states.get("cacheHitRatio") == "62.5%" and ds_states == states

    await eventually(hit_ratios_reported, timeout=30, what="hit ratios in runtime and Dataset")
    states = (await status_of(kube, kinds.ALLUXIO_RUNTIME.resource, namespace))["cacheStates"]
    assert states == {
        "cacheCapacity": "6.00GiB", "cached": "2.00GiB", "cachedPercentage": "25.0%",
        "cacheHitRatio": "62.5%", "localHitRatio": "50.0%", "remoteHitRatio": "12.5%",
        "localThroughputRatio": "50.0%", "remoteThroughputRatio": "12.5%",
        "cacheThroughputRatio": "62.5%",
    }
    assert ("alluxio", "fsadmin", "report", "metrics") in [x.command for x in fluid.executor.calls]

    # Deleting the runtime takes every master, Service and port with it.
    await delete_runtime_and_wait_clean(kube, kind=kinds.ALLUXIO_RUNTIME, namespace=namespace,
                                        name=NAME, ports=fluid.ports)


async def test_an_even_number_of_masters_is_refused(
    kube: KubeClient, namespace: str, fluid: HAEnv
) -> None:
    await kube.create(dataset(namespace, NAME))
    await kube.create(runtime(namespace, NAME, masters=2))

    async def refused() -> bool:
        events, _ = await kube.list_all(resources.EVENTS, namespace)
        return any(e["reason"] == "ErrorValidateSpecFields"
                   and "spec.master.replicas: 2 masters" in e["message"]
                   and "odd number" in e["message"] for e in events)

    await eventually(refused, timeout=30, what="an Event refusing two masters")
    assert await kube.get_or_none(resources.STATEFULSETS, f"{NAME}-master", namespace) is None
    assert fluid.ports.held_by(owner_key("AlluxioRuntime", namespace, NAME)) == {}
