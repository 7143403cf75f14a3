"""VineyardRuntime end to end through the real controllers, with upstream's own sample.

Real API server, scheduler, controller-manager and kwok nodes; Fluid's Dataset and runtime
controllers run in-process as the controller-manager composes them. Vineyard needs no call
into its processes (no under storage to count, no cache report upstream can read), so
there is no fake at all: the executor records nothing.

The flow, with the YAML of upstream's "How to Use Vineyard Runtime in Fluid" applied
unchanged (a Dataset without mounts and a runtime with 2 workers of 20Gi memory): the etcd
master, 2 vineyardd workers and the socket-client DaemonSet created, on host ports from the
allocator → master and workers Ready on kwok nodes → Dataset Bound with upstream's empty
size columns and the runtime's phase columns → PVC Bound on the ``vineyard-fuse`` PV →
seed 000's node labels on both worker nodes → scale to 3 workers and back to 1 through the
scale subresource (the RPC endpoints follow) → deletion leaves no workload, PV, PVC, port
or node label.
"""

from __future__ import annotations

from typing import Any

import pytest
from engines_e2e_support import (
    Expected,
    apply_yaml,
    delete_and_wait_clean,
    engine_settings,
    instance,
    ready_pod_names,
    scale_out_and_back,
)
from sizeless_runtimes_e2e_support import bound_without_sizes

from fluid.api import constants as c
from fluid.api import kinds
from fluid.engines.base import RecordingExecutor
from fluid.engines.vineyard import engine as vineyard
from fluid.kube import KubeClient, resources
from fluid.scheduling.ports import PortAllocator, PortRange, owner_key
from fluid.testing.managers import running_controllers
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

Obj = dict[str, Any]
NAME = "vineyard"
LABELS = instance("vineyard", NAME)
UPSTREAM_SAMPLE = """
apiVersion: data.fluid.io/v1alpha1
kind: VineyardRuntime
metadata:
  name: vineyard
spec:
  replicas: 2
  tieredstore:
    levels:
    - mediumtype: MEM
      quota: 20Gi
---
apiVersion: data.fluid.io/v1alpha1
kind: Dataset
metadata:
  name: vineyard
"""


def expected(namespace: str) -> Expected:
    ns_name = f"{namespace}-{NAME}"
    return Expected(
        kind=kinds.VINEYARD_RUNTIME, namespace=namespace, name=NAME, fuse_dir="vineyard-fuse",
        ufs_total="", capacity="", files="", node_labels={
            c.LABEL_DATASET_NUM: "1",
            f"fluid.io/s-vineyard-{ns_name}": "true",
            f"fluid.io/s-{ns_name}": "true",
            f"fluid.io/s-h-vineyard-m-{ns_name}": "20GiB",
            f"fluid.io/s-h-vineyard-t-{ns_name}": "20GiB",
            c.LABEL_EXCLUSIVE: f"{namespace}_{NAME}",
        })


def container(workload: Obj) -> Obj:
    result: Obj = workload["spec"]["template"]["spec"]["containers"][0]
    return result


async def check_workloads(kube: KubeClient, namespace: str, ports: dict[str, int]) -> None:
    """etcd and vineyardd on the allocated host ports; the clients find both."""
    master = await kube.get(resources.STATEFULSETS, f"{NAME}-master", namespace)
    worker = await kube.get(resources.STATEFULSETS, f"{NAME}-worker", namespace)
    fuse = await kube.get(resources.DAEMONSETS, f"{NAME}-fuse", namespace)
    etcd_url = f"http://{NAME}-master-0.{NAME}-master.{namespace}:{ports['master-client']}"
    assert f"--listen-client-urls=http://0.0.0.0:{ports['master-client']}" in \
        container(master)["command"]
    command = container(worker)["command"]
    assert command[command.index("--etcd_endpoint") + 1] == etcd_url
    assert command[command.index("--size") + 1] == "20Gi"
    assert command[command.index("--rpc_socket_port") + 1] == str(ports["worker-rpc"])
    assert container(worker)["resources"]["requests"]["memory"] == "20980Mi"
    assert worker["spec"]["template"]["spec"]["hostNetwork"] is True
    fuse_env = {e["name"]: e.get("value") for e in container(fuse)["env"]}
    assert fuse_env["ETCD_ENDPOINT"] == etcd_url
    assert fuse["spec"]["template"]["spec"]["nodeSelector"] == {f"fluid.io/f-{namespace}-{NAME}": "true"}


async def rpc_endpoints(kube: KubeClient, namespace: str) -> list[str]:
    conf = await kube.get(resources.CONFIGMAPS, f"{NAME}-rpc-conf", namespace)
    return [e.split(":")[0] for e in conf["data"]["VINEYARD_RPC_ENDPOINT"].split(",")]


async def test_vineyard_runtime_from_upstreams_sample(
    kube: KubeClient, namespace: str, fluid_crds: list[str], workloads: list[str]
) -> None:
    executor = RecordingExecutor()
    settings = engine_settings(kube, kind=kinds.VINEYARD_RUNTIME, factory=vineyard.factory,
                               executor=executor, ports=PortRange(27000, 27999))
    assert settings.ports is not None
    async with running_controllers(kube, ["dataset", "runtime"], engines=settings):
        await apply_yaml(kube, UPSTREAM_SAMPLE, namespace)
        await flow(kube, namespace, settings.ports)
        await delete_and_wait_clean(kube, expected(namespace), settings.ports)
    assert executor.calls == [], "Vineyard needs no call into its processes"


async def flow(kube: KubeClient, namespace: str, ports: PortAllocator) -> None:
    want = expected(namespace)

    async def pods_ready() -> bool:
        return await ready_pod_names(kube, namespace, LABELS) == {
            f"{NAME}-master-0", f"{NAME}-worker-0", f"{NAME}-worker-1"}
    await eventually(pods_ready, timeout=60, what="etcd master and 2 vineyardd workers Ready")
    held = ports.held_by(owner_key("VineyardRuntime", namespace, NAME))
    assert set(held) == {"master-client", "master-peer", "worker-rpc", "worker-exporter"}
    await check_workloads(kube, namespace, held)

    await bound_without_sizes(kube, want, workers=2, mount_type="vineyard-fuse")

    view = await scale_out_and_back(kube, want)
    assert view["status"]["selector"] == (
        f"app.kubernetes.io/component=worker,app.kubernetes.io/instance={NAME},"
        "app.kubernetes.io/name=vineyard")

    async def one_endpoint() -> bool:
        return await rpc_endpoints(kube, namespace) == [f"{NAME}-worker-0.{NAME}-worker.{namespace}"]
    await eventually(one_endpoint, timeout=30, what="the RPC endpoints follow the scale-in")
