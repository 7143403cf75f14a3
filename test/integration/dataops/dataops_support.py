"""Helpers of the data-operation cluster tests (imported by name: conftest puts this
directory on sys.path)."""

from __future__ import annotations

import contextlib
from typing import Any

from fluid.api import kinds
from fluid.kube import KubeClient, errors, resources
from fluid.testing.wait import eventually

Obj = dict[str, Any]


async def ensure_service_account(kube: KubeClient, namespace: str) -> None:
    """Job pods need the namespace's ``default`` ServiceAccount; create it if nothing did."""
    with contextlib.suppress(errors.AlreadyExists):
        await kube.create({"apiVersion": "v1", "kind": "ServiceAccount",
                           "metadata": {"name": "default", "namespace": namespace}})


async def bound_dataset(
    kube: KubeClient, namespace: str, name: str, *, runtime_type: str = "alluxio",
    mounts: list[Obj] | None = None, status: Obj | None = None,
) -> Obj:
    """A Dataset whose status says it is Bound to a runtime of ``runtime_type``."""
    await ensure_service_account(kube, namespace)
    dataset = await kube.create({
        "apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"mounts": mounts or [{"mountPoint": "https://mirrors.example.org/data/",
                                        "name": name}]},
    })
    await kube.patch_status(kinds.DATASET.resource, name, namespace, {
        "phase": "Bound",
        "runtimes": [{"name": name, "namespace": namespace, "category": "Accelerate",
                      "type": runtime_type, "masterReplicas": 1}],
        **(status or {}),
    })
    return dataset


async def operation(kube: KubeClient, kind: str, namespace: str, name: str) -> Obj:
    return await kube.get(kinds.BY_KIND[kind].resource, name, namespace)


async def phase_of(kube: KubeClient, kind: str, namespace: str, name: str) -> str:
    obj = await kube.get_or_none(kinds.BY_KIND[kind].resource, name, namespace)
    return str(((obj or {}).get("status") or {}).get("phase") or "")


async def wait_phase(
    kube: KubeClient, kind: str, namespace: str, name: str, phase: str, *, timeout: float = 60
) -> Obj:
    async def reached() -> bool:
        return await phase_of(kube, kind, namespace, name) == phase

    await eventually(reached, timeout=timeout, what=f"{kind} {namespace}/{name} phase {phase}")
    return await operation(kube, kind, namespace, name)


async def job_pod(kube: KubeClient, namespace: str, job: str) -> Obj:
    """The (single) pod of Job ``job``."""
    listing = await kube.list(resources.PODS, namespace, label_selector=f"job-name={job}")
    items = listing.get("items") or []
    assert items, f"no pod for Job {job}"
    return dict(items[0])


def data_load(namespace: str, name: str, dataset: str, **spec: Any) -> Obj:
    return {
        "apiVersion": "data.fluid.io/v1alpha1", "kind": "DataLoad",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"dataset": {"name": dataset, "namespace": namespace}, **spec},
    }
