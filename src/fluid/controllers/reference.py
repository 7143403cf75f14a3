"""The reference-dataset controller: a ThinRuntime for every ``dataset://`` Dataset.

Owns one decision: a Dataset whose only mount is ``dataset://<namespace>/<name>`` gets a
ThinRuntime of the same name with an empty ``profileName``, labelled
``fluid.io/dataset-id`` and controlled by (owner reference to) that Dataset, as upstream's
dataset controller creates it. The runtime controller then drives it with the
reference engine (``fluid.engines.reference``), which binds the dataset to the source's
runtime. A ThinRuntime of that name that the Dataset does not own (the user's own) is
left alone, with a Warning Event.

Never edits the Dataset, never deletes the ThinRuntime (garbage collection does, with
its owner) and never reads the source dataset. Registered as controller ``reference``.
"""

from __future__ import annotations

from typing import Any

import structlog

from fluid.api import constants as c
from fluid.api import kinds
from fluid.controllers import ControllerContext
from fluid.kube import KubeClient, events
from fluid.reconcile import Controller, Informer, Manager, Request, Result

__all__ = ["ReferenceReconciler", "is_reference", "setup", "thin_runtime"]

log = structlog.get_logger(__name__)

Obj = dict[str, Any]


def is_reference(dataset: Obj) -> bool:
    """Exactly one mount, and it is ``dataset://`` (mixing is refused at admission)."""
    mounts = (dataset.get("spec") or {}).get("mounts") or []
    return len(mounts) == 1 and str(mounts[0].get("mountPoint", "")).startswith("dataset://")


def _dataset_id_label(dataset: Obj) -> str:
    meta = dataset["metadata"]
    value = c.dataset_id(meta["namespace"], meta["name"])
    return value if len(value) <= 63 else str(meta.get("uid", ""))


def thin_runtime(dataset: Obj) -> Obj:
    """The ThinRuntime serving a reference dataset (the fields this controller owns)."""
    meta = dataset["metadata"]
    return {
        "apiVersion": c.API_VERSION,
        "kind": kinds.THIN_RUNTIME.kind,
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": {c.LABEL_DATASET_ID: _dataset_id_label(dataset)},
            "ownerReferences": [{
                "apiVersion": c.API_VERSION, "kind": "Dataset", "name": meta["name"],
                "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True,
            }],
        },
        "spec": {"profileName": ""},
    }


class ReferenceReconciler:
    def __init__(self, *, client: KubeClient, datasets: Informer, runtimes: Informer,
                 recorder: events.EventSink) -> None:
        self._client = client
        self._datasets = datasets
        self._runtimes = runtimes
        self._events = recorder

    async def reconcile(self, request: Request) -> Result:
        dataset = self._datasets.get(request.key)
        if dataset is None or dataset["metadata"].get("deletionTimestamp") or not is_reference(dataset):
            return Result()
        existing = self._runtimes.get(request.key)
        uid = dataset["metadata"]["uid"]
        if existing is not None and not any(
            ref.get("uid") == uid for ref in existing["metadata"].get("ownerReferences") or ()
        ):
            if (existing.get("spec") or {}).get("profileName"):
                await self._events.record(
                    {**dataset, "apiVersion": c.API_VERSION, "kind": "Dataset"}, events.WARNING,
                    "ReferenceRuntimeConflict",
                    f"ThinRuntime {request.name} has a profileName; a dataset:// dataset is served "
                    f"by a ThinRuntime without one: delete it and Fluid creates the right one",
                )
                log.warning("reference_runtime_conflict")
            return Result()
        if existing is None:
            await self._client.apply(thin_runtime(dataset))
            log.info("reference_runtime_created")
        return Result()


def setup(manager: Manager, context: ControllerContext) -> None:
    datasets = manager.informer(kinds.DATASET.resource)
    runtimes = manager.informer(kinds.THIN_RUNTIME.resource)
    reconciler = ReferenceReconciler(
        client=context.client, datasets=datasets, runtimes=runtimes,
        recorder=events.EventRecorder(context.client, "dataset-controller"),
    )
    controller = Controller("reference", reconciler, workers=1)
    controller.watch(datasets)
    controller.owns(runtimes, owner_kind="Dataset", owner_api_group=c.GROUP)
    manager.add_controller(controller)
