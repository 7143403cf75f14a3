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


async def dataset_volume(kube: KubeClient, namespace: str, name: str) -> None:
    """A PV ``<ns>-<name>`` bound to PVC ``<name>``, shaped as the dataset controller makes them.

    The PV is cluster-scoped: ``delete_dataset_volume`` removes it (the fixture does).
    """
    pv = f"{namespace}-{name}"
    await kube.create({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": pv, "labels": {f"fluid.io/s-{namespace}-{name}": "true"}},
        "spec": {
            "capacity": {"storage": "100Pi"}, "accessModes": ["ReadOnlyMany"],
            "storageClassName": "fluid", "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": namespace, "name": name},
            "csi": {"driver": "fuse.csi.fluid.io", "volumeHandle": pv, "volumeAttributes": {
                "fluid_path": f"/runtime-mnt/alluxio/{namespace}/{name}/alluxio-fuse",
                "mount_type": "fuse.alluxio-fuse"}},
        },
    })
    await kube.create({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"accessModes": ["ReadOnlyMany"], "storageClassName": "fluid",
                 "volumeName": pv, "resources": {"requests": {"storage": "100Pi"}}},
    })


async def delete_dataset_volume(kube: KubeClient, namespace: str, name: str) -> None:
    await kube.delete(resources.PERSISTENT_VOLUMES, f"{namespace}-{name}")


async def bound_dataset(
    kube: KubeClient, namespace: str, name: str, *, runtime_type: str = "alluxio",
    mounts: list[Obj] | None = None, status: Obj | None = None, volume: bool = False,
) -> Obj:
    """A Dataset whose status says it is Bound to a runtime of ``runtime_type``.

    ``volume`` also makes its PV and PVC (pods that mount the dataset need them to be
    scheduled); pair it with ``delete_dataset_volume``.
    """
    await ensure_service_account(kube, namespace)
    if volume:
        await dataset_volume(kube, namespace, name)
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

    try:
        await eventually(reached, timeout=timeout, what=f"{kind} {namespace}/{name} phase {phase}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{await _explain(kube, kind, namespace, name)}") from None
    return await operation(kube, kind, namespace, name)


async def _explain(kube: KubeClient, kind: str, namespace: str, name: str) -> str:
    """The operation's status and its Jobs' and pods' states, for a failing wait."""
    obj = await kube.get_or_none(kinds.BY_KIND[kind].resource, name, namespace)
    lines = [f"status: {(obj or {}).get('status')}"]
    for job in (await kube.list(resources.JOBS, namespace)).get("items") or ():
        lines.append(f"job {job['metadata']['name']}: {job.get('status')}")
    for pod in (await kube.list(resources.PODS, namespace)).get("items") or ():
        lines.append(f"pod {pod['metadata']['name']} on {pod['spec'].get('nodeName')}: "
                     f"{(pod.get('status') or {}).get('phase')}")
    return "\n".join(lines)


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
