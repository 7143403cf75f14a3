"""Small pieces the operation kinds share: placement from a spec, the dataset volume, paths.

Owns the translation of the spec fields every kind repeats (``affinity``,
``nodeSelector``, ``tolerations``, ``schedulerName``, ``podMetadata``) into a
``jobs.Placement``, the PVC volume through which a pod sees its dataset, and the
absolute-path check. Never does I/O; called by the kind modules.
"""

from __future__ import annotations

import posixpath
from typing import Any

from fluid.api.base import PodMetadata
from fluid.controllers.dataops import jobs

__all__ = [
    "DATASET_VOLUME",
    "absolute_path_problem",
    "dataset_volume",
    "mount_dataset",
    "placement",
]

Obj = dict[str, Any]

DATASET_VOLUME = "fluid-dataset-vol"
"""The name of the volume holding the dataset's PVC (upstream's)."""


def placement(spec: Any) -> jobs.Placement:
    """Placement from a spec with the usual fields (missing ones count as unset)."""
    metadata: PodMetadata | None = getattr(spec, "pod_metadata", None)
    return jobs.Placement(
        affinity=getattr(spec, "affinity", None),
        node_selector=getattr(spec, "node_selector", None),
        tolerations=getattr(spec, "tolerations", None),
        scheduler_name=getattr(spec, "scheduler_name", None),
        labels=metadata.labels if metadata else None,
        annotations=metadata.annotations if metadata else None,
    )


def dataset_volume(claim: str, *, read_only: bool = False) -> Obj:
    """The dataset's PVC (same name as the Dataset) as a pod volume."""
    return {
        "name": DATASET_VOLUME,
        "persistentVolumeClaim": {"claimName": claim, "readOnly": read_only},
    }


def mount_dataset(container: Obj, mount_path: str, *, sub_path: str | None = None,
                  read_only: bool = False) -> Obj:
    """``container`` with the dataset volume mounted at ``mount_path``."""
    mount: Obj = {"name": DATASET_VOLUME, "mountPath": mount_path}
    if sub_path:
        mount["subPath"] = sub_path.lstrip("/")
    if read_only:
        mount["readOnly"] = True
    return {**container, "volumeMounts": [*container.get("volumeMounts", []), mount]}


def absolute_path_problem(path: str | None, where: str) -> str | None:
    """A message when ``path`` is not an absolute path that stays inside the dataset."""
    if path is None:
        return None
    if not path.startswith("/"):
        return f"{where} must be an absolute path inside the dataset, e.g. /{path}"
    if posixpath.normpath(path).startswith("/.."):
        return f"{where} must stay inside the dataset; got {path!r}"
    return None
