"""Helpers shared by the lifecycle tests: the FluidEnv handle, the source PVC, node labels."""

from __future__ import annotations

from typing import Any

import attrs

from fluid.api import constants as c
from fluid.api import kinds
from fluid.engines.alluxio.fake import FakeAlluxioMaster
from fluid.engines.base import RecordingExecutor
from fluid.kube import KubeClient, resources
from fluid.reconcile import Manager
from fluid.scheduling.ports import PortAllocator
from fluid.testing.wait import eventually

GiB = 2**30


@attrs.define
class FluidEnv:
    kube: KubeClient
    master: FakeAlluxioMaster
    executor: RecordingExecutor
    ports: PortAllocator
    manager: Manager

    async def dataset(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.kube.get_or_none(kinds.DATASET.resource, name, namespace)

    async def runtime(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.kube.get_or_none(kinds.ALLUXIO_RUNTIME.resource, name, namespace)

    async def phase(self, namespace: str, name: str) -> str | None:
        dataset = await self.dataset(namespace, name)
        return ((dataset or {}).get("status") or {}).get("phase")

    def commands(self, namespace: str) -> list[tuple[str, ...]]:
        return self.executor.commands(namespace)

    async def teardown(self, namespace: str, name: str) -> None:
        """Delete Dataset and runtime and wait until both are gone (finalizers run)."""
        await self.kube.delete(kinds.DATASET.resource, name, namespace)
        await self.kube.delete(kinds.ALLUXIO_RUNTIME.resource, name, namespace)

        async def gone() -> bool:
            return (await self.dataset(namespace, name) is None
                    and await self.runtime(namespace, name) is None)

        await eventually(gone, timeout=60, what=f"dataset and runtime {namespace}/{name} gone")


async def source_pvc(kube: KubeClient, namespace: str, name: str = "fluid-pvc") -> None:
    """The user's PVC of seed 004 (storage class cephfs), bound to a hostPath PV."""
    pv_name = f"{namespace}-{name}-src"
    await kube.create({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": pv_name},
        "spec": {"capacity": {"storage": "20G"}, "accessModes": ["ReadWriteOnce"],
                 "storageClassName": "cephfs", "hostPath": {"path": f"/tmp/{pv_name}"},
                 "claimRef": {"namespace": namespace, "name": name},
                 "persistentVolumeReclaimPolicy": "Delete"},
    })
    await kube.create({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20G"}},
                 "storageClassName": "cephfs", "volumeMode": "Filesystem"},
    })

    async def bound() -> bool:
        pvc = await kube.get(resources.PERSISTENT_VOLUME_CLAIMS, name, namespace)
        return (pvc.get("status") or {}).get("phase") == "Bound"

    await eventually(bound, timeout=30, what="source PVC bound")


async def node_labels(kube: KubeClient) -> dict[str, dict[str, str]]:
    nodes, _ = await kube.list_all(resources.NODES)
    return {n["metadata"]["name"]: dict(n["metadata"].get("labels") or {}) for n in nodes}


def fluid_labels(labels: dict[str, dict[str, str]], namespace: str, name: str) -> dict[str, dict[str, str]]:
    """Per node, the labels that belong to dataset ``namespace/name``."""
    token = f"{namespace}-{name}"
    result = {}
    for node, node_labels_ in labels.items():
        mine = {k: v for k, v in node_labels_.items()
                if token in k or (k == c.LABEL_EXCLUSIVE and v == f"{namespace}_{name}")}
        if mine:
            mine[c.LABEL_DATASET_NUM] = node_labels_.get(c.LABEL_DATASET_NUM, "")
            result[node] = mine
    return result
