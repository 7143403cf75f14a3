"""EFCRuntime end to end through the real controllers, with upstream's own sample.

Real API server, scheduler, controller-manager and kwok nodes; Fluid's Dataset and runtime
controllers run in-process as the controller-manager composes them. The only fake is the
boundary into EFC worker pods (``FakeEFCWorkers`` behind a ``RecordingExecutor``), which
this sample never reaches: its cache is an emptyDir, gone with the pods, so shutdown runs
no command.

The flow, with the EFCRuntime of upstream's EFC guide applied unchanged (2Gi of worker
memory, ``fuse.properties`` left empty) and its Dataset pointing at a NAS mount target
(the guide's placeholder address replaced by one of NAS's real form): master, worker and
FUSE DaemonSet created, the worker's RPC port from the allocator → master and worker Ready
on kwok nodes, the worker's ``ip:port`` in ``<name>-worker-endpoints`` → Dataset Bound
with upstream's empty size columns → PVC Bound on the ``alifuse.aliyun-alinas-efc`` PV →
seed 000's node labels → scale to 3 workers and back to 1 through the scale subresource
(the endpoints follow) → deletion leaves no workload, PV, PVC, port or node label.
"""

from __future__ import annotations

import json

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
from fluid.engines.efc import engine as efc
from fluid.engines.efc.fake import FakeEFCWorkers
from fluid.kube import KubeClient, resources
from fluid.scheduling.ports import PortAllocator, PortRange, owner_key
from fluid.testing.managers import running_controllers
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

NAME = "mydemo"
LABELS = instance("efc", NAME)
NAS = "0a1b2c3d4e-xyz12.cn-zhangjiakou.nas.aliyuncs.com:/sub/path"
MANIFESTS = f"""
apiVersion: data.fluid.io/v1alpha1
kind: Dataset
metadata:
  name: mydemo
spec:
  mounts:
    - mountPoint: "nfs://{NAS}"
---
apiVersion: data.fluid.io/v1alpha1
kind: EFCRuntime
metadata:
  name: mydemo
spec:
  replicas: 1
  tieredstore:
    levels:
      - mediumtype: MEM
        volumeType: emptyDir
        path: /mnt/efc-worker-cache-path
        quota: 2Gi
  fuse:
    properties:
"""


def expected(namespace: str) -> Expected:
    ns_name = f"{namespace}-{NAME}"
    return Expected(
        kind=kinds.EFC_RUNTIME, namespace=namespace, name=NAME, fuse_dir="efc-fuse",
        ufs_total="", capacity="", files="", node_labels={
            c.LABEL_DATASET_NUM: "1",
            f"fluid.io/s-efc-{ns_name}": "true",
            f"fluid.io/s-{ns_name}": "true",
            f"fluid.io/s-h-efc-m-{ns_name}": "2GiB",
            f"fluid.io/s-h-efc-t-{ns_name}": "2GiB",
            c.LABEL_EXCLUSIVE: f"{namespace}_{NAME}",
        })


async def endpoints(kube: KubeClient, namespace: str) -> list[str]:
    conf = await kube.get(resources.CONFIGMAPS, f"{NAME}-worker-endpoints", namespace)
    found: list[str] = json.loads(conf["data"]["efc-worker-endpoints.json"])["containerendpoints"]
    return found


async def worker_addresses(kube: KubeClient, namespace: str, port: int) -> list[str]:
    pods, _ = await kube.list_all(resources.PODS, namespace, label_selector=(
        f"app.kubernetes.io/instance={NAME},app.kubernetes.io/component=worker"))
    return sorted(f"{p['status']['podIP']}:{port}" for p in pods
                  if (p.get("status") or {}).get("podIP"))


async def test_efc_runtime_from_upstreams_guide(
    kube: KubeClient, namespace: str, fluid_crds: list[str], workloads: list[str]
) -> None:
    workers = FakeEFCWorkers()
    executor = workers.executor()
    settings = engine_settings(kube, kind=kinds.EFC_RUNTIME, factory=efc.factory,
                               executor=executor, ports=PortRange(26000, 26999))
    assert settings.ports is not None
    async with running_controllers(kube, ["dataset", "runtime"], engines=settings):
        await apply_yaml(kube, MANIFESTS, namespace)
        await flow(kube, namespace, settings.ports)
        await delete_and_wait_clean(kube, expected(namespace), settings.ports)
    assert executor.calls == [], "an emptyDir cache needs no command at shutdown"


async def flow(kube: KubeClient, namespace: str, ports: PortAllocator) -> None:
    want = expected(namespace)

    async def pods_ready() -> bool:
        return await ready_pod_names(kube, namespace, LABELS) == {
            f"{NAME}-master-0", f"{NAME}-worker-0"}
    await eventually(pods_ready, timeout=60, what="master-0 and worker-0 Ready on kwok nodes")
    held = ports.held_by(owner_key("EFCRuntime", namespace, NAME))
    assert set(held) == {"worker-rpc"}
    rpc = held["worker-rpc"]
    worker = await kube.get(resources.STATEFULSETS, f"{NAME}-worker", namespace)
    args = worker["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args == ["worker", "cache_media=/mnt/efc-worker-cache-path/"
                              f"{namespace}/{NAME},server_port={rpc},cache_capacity_gb=2,tmpfs=true"]
    fuse = await kube.get(resources.DAEMONSETS, f"{NAME}-fuse", namespace)
    assert fuse["spec"]["template"]["spec"]["containers"][0]["args"][:3] == [
        "fuse", NAS + "/", "/efc/efc-fuse"]

    async def listed() -> bool:
        addresses = await worker_addresses(kube, namespace, rpc)
        return bool(addresses) and await endpoints(kube, namespace) == addresses
    await eventually(listed, timeout=30, what="the ready worker's ip:port in the endpoints")

    await bound_without_sizes(kube, want, workers=1, mount_type="alifuse.aliyun-alinas-efc")

    view = await scale_out_and_back(kube, want)
    assert "selector" not in view["status"]  # upstream's EFC scale has no selector path

    async def one_endpoint() -> bool:
        return len(await endpoints(kube, namespace)) == 1
    await eventually(one_endpoint, timeout=30, what="the endpoints follow the scale-in")
