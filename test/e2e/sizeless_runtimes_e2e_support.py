"""What the Vineyard and EFC end-to-end tests share: the checks of a runtime whose Dataset
upstream leaves without sizes (no UFS total, no cache states) once it is bound.

Builds on ``engines_e2e_support`` (rows by column, node labels following the workers);
talks to the real API server only and knows no engine.
"""

from __future__ import annotations

from engines_e2e_support import Expected, labelled_nodes, labels_follow_workers, row

from fluid.api import kinds
from fluid.kube import KubeClient, resources
from fluid.testing.wait import eventually


async def bound_without_sizes(kube: KubeClient, want: Expected, *, workers: int,
                              mount_type: str) -> None:
    """Dataset Bound with upstream's empty size columns, the runtime's phases Ready, the PVC
    Bound to its PV (``fluid_path`` under the FUSE dir, upstream's ``mount_type``), every
    worker's node labelled with seed 000's labels."""
    ns, name = want.namespace, want.name

    async def is_bound() -> bool:
        return row(await kube.table(kinds.DATASET.resource, ns), name)["Phase"] == "Bound"
    await eventually(is_bound, timeout=60, what="dataset Bound")
    cells = row(await kube.table(kinds.DATASET.resource, ns), name)
    assert {cells[k] for k in ("Ufs Total Size", "Cached", "Cache Capacity",
                               "Cached Percentage")} <= {None, ""}, cells
    status = (await kube.get(kinds.DATASET.resource, name, ns))["status"]
    assert status["runtimes"] == [{"name": name, "namespace": ns, "category": "Accelerate",
                                   "type": want.runtime_type, "masterReplicas": 1}]
    assert [(x["type"], x["status"]) for x in status["conditions"]
            if x["type"] == "Ready"] == [("Ready", "True")]
    runtime_cells = row(await kube.table(want.kind.resource, ns), name)
    assert (runtime_cells["Master Phase"], runtime_cells["Worker Phase"],
            runtime_cells["Fuse Phase"], runtime_cells["Ready Workers"]) == (
        "Ready", "Ready", "Ready", workers)

    async def pvc_bound() -> bool:
        pvc = await kube.get_or_none(resources.PERSISTENT_VOLUME_CLAIMS, name, ns)
        return ((pvc or {}).get("status") or {}).get("phase") == "Bound"
    await eventually(pvc_bound, timeout=30, what="PVC Bound")
    pv = await kube.get(resources.PERSISTENT_VOLUMES, f"{ns}-{name}")
    assert pv["spec"]["claimRef"]["name"] == name
    attributes = pv["spec"]["csi"]["volumeAttributes"]
    assert (attributes["fluid_path"], attributes["mount_type"]) == (
        f"/runtime-mnt/{want.runtime_type}/{ns}/{name}/{want.fuse_dir}", mount_type)
    await eventually(lambda: labels_follow_workers(kube, ns, name, want.labels, workers),
                     timeout=30, what="worker nodes labelled")
    assert all(v == want.node_labels for v in (await labelled_nodes(kube, ns, name)).values())
