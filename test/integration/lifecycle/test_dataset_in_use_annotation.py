"""Dataset deletion waits for pods the webhook recorded as users, even without the PVC.

After serverless sidecar injection a pod reaches the dataset through a hostPath, not the
PVC; only ``fluid.io/datasets-in-use`` says it uses the dataset. The real dataset
controller runs against the real API server (with kwok nodes running the pods).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fluid.api import constants, kinds
from fluid.kube import KubeClient, errors, resources
from fluid.reconcile import Manager
from fluid.testing import managers
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]


@pytest.fixture
async def dataset_controller(kube: KubeClient, fluid_crds: list[str],
                             workloads: list[str]) -> AsyncIterator[Manager]:
    async with managers.running_controllers(kube, ["dataset"]) as manager:
        yield manager


def _dataset(namespace: str, name: str) -> dict[str, Any]:
    return {"apiVersion": constants.API_VERSION, "kind": "Dataset",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"mounts": [{"mountPoint": "https://mirrors.example.com/data/", "name": "d"}]}}


async def _pod(kube: KubeClient, namespace: str, name: str, in_use: str) -> None:
    """A pod as the sidecar webhook leaves it: the dataset as a hostPath, annotated."""
    with contextlib.suppress(errors.AlreadyExists):
        await kube.create({"apiVersion": "v1", "kind": "ServiceAccount",
                           "metadata": {"name": "default", "namespace": namespace}})
    await kube.create({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace,
                     "annotations": {constants.ANNOTATION_DATASETS_IN_USE: in_use}},
        "spec": {"automountServiceAccountToken": False,
                 "containers": [{"name": "app", "image": "busybox",
                                 "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                 "volumes": [{"name": "data", "hostPath": {
                     "path": f"/runtime-mnt/jindo/{namespace}/demo/jindofs-fuse"}}]},
    })


async def _finalized(kube: KubeClient, namespace: str, name: str) -> None:
    async def has_finalizer() -> bool:
        ds = await kube.get(kinds.DATASET.resource, name, namespace)
        return constants.DATASET_FINALIZER in (ds["metadata"].get("finalizers") or [])
    await eventually(has_finalizer, timeout=30, what=f"finalizer on {name}")


async def _gone(kube: KubeClient, namespace: str, name: str) -> bool:
    return await kube.get_or_none(kinds.DATASET.resource, name, namespace) is None


async def test_an_annotated_pod_without_the_pvc_blocks_deletion(
    dataset_controller: Manager, kube: KubeClient, namespace: str
) -> None:
    for name in ("demo", "free"):
        await kube.create(_dataset(namespace, name))
        await _finalized(kube, namespace, name)
    await _pod(kube, namespace, "trainer", "demo,imagenet")
    await _pod(kube, namespace, "other", "demo-2")

    # A dataset no pod names goes at once, whatever the pods' annotations say of others.
    await kube.delete(kinds.DATASET.resource, "free", namespace)
    await eventually(lambda: _gone(kube, namespace, "free"), timeout=30, what="free deleted")

    await kube.delete(kinds.DATASET.resource, "demo", namespace)

    found: list[dict[str, Any]] = []

    async def in_use_reported() -> bool:
        ds = await kube.get(kinds.DATASET.resource, "demo", namespace)
        found[:] = [x for x in (ds.get("status") or {}).get("conditions") or []
                    if x.get("reason") == "DatasetInUse"]
        return bool(found)
    await eventually(in_use_reported, timeout=30, what="DatasetInUse condition")
    assert found[0]["message"] == (f"Dataset {namespace}/demo cannot be deleted yet: pods "
                                    f"{namespace}/trainer still use the dataset.")
    events, _ = await kube.list_all(resources.EVENTS, namespace)
    assert any(e["reason"] == "ErrorDeleteDataset" and f"{namespace}/trainer" in e["message"]
               and e["involvedObject"]["name"] == "demo" for e in events)
    assert not await _gone(kube, namespace, "demo")

    await kube.delete(resources.PODS, "trainer", namespace)
    await eventually(lambda: _gone(kube, namespace, "demo"), timeout=60,
                     what="demo deleted once its annotated pod is gone")
