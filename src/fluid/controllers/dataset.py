"""The Dataset controller: finalizer, the initial phase, and deletion that waits for users.

Owns ``fluid-dataset-controller-finalizer`` and the Dataset's life outside any runtime:

- a new Dataset gets the finalizer and phase ``NotBound`` with empty conditions (a runtime
  later binds it: phase ``Bound``, set by the engine);
- names that are not DNS-1035 labels are refused with an ``ErrorCreateDataset`` Event;
- a Dataset being deleted keeps its finalizer while any pod that has not finished uses
  its Fluid-created PVC ``<name>`` or names it in ``fluid.io/datasets-in-use`` (the
  webhook's record, which survives the sidecar injection that swaps the PVC for a
  hostPath), or while other datasets still refer to it
  (``status.datasetRef``): a ``NotReady`` condition (reason ``DatasetInUse``) and an
  ``ErrorDeleteDataset`` Event name the pods; once they are gone the finalizer goes.

Never binds, never touches runtimes or volumes (the runtime controller and engines do;
deleting the Dataset garbage-collects its runtime through the runtime's ownerReference).
Registered as controller ``dataset``; its informer also exports ``status.ufsTotal`` and
``status.fileNum`` as upstream's ``dataset_ufs_total_size``/``dataset_ufs_file_num``.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from fluid.api import constants as c
from fluid.api.kinds import DATASET
from fluid.api.quantity import parse_quantity
from fluid.controllers import ControllerContext
from fluid.controllers.runtime import add_finalizer, lifecycle_changed, remove_finalizer
from fluid.engines.base import set_condition
from fluid.kube import KubeClient, resources
from fluid.kube.events import WARNING, EventRecorder, EventSink
from fluid.observability import metrics
from fluid.reconcile import Controller, Informer, Manager, Request, Result, TerminalError, generation_changed
from fluid.reconcile.store import Obj, key_of

__all__ = ["CLAIM_INDEX", "IN_USE_INDEX", "DatasetReconciler", "pod_claims", "pod_datasets_in_use",
           "setup"]

log = structlog.get_logger(__name__)

CLAIM_INDEX = "dataset-controller:claims"
"""Pods indexed by ``<namespace>/<claimName>`` of every PVC volume they use."""
IN_USE_INDEX = "dataset-controller:datasets-in-use"
"""Pods indexed by ``<namespace>/<dataset>`` of every name in ``fluid.io/datasets-in-use``."""
_IN_USE_RETRY = 10.0


def pod_claims(pod: Obj) -> Iterable[str]:
    namespace = (pod.get("metadata") or {}).get("namespace")
    for volume in (pod.get("spec") or {}).get("volumes") or ():
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if claim:
            yield f"{namespace}/{claim}"


def pod_datasets_in_use(pod: Obj) -> Iterable[str]:
    """``<namespace>/<dataset>`` for each dataset the webhook recorded on the pod."""
    meta = pod.get("metadata") or {}
    value = (meta.get("annotations") or {}).get(c.ANNOTATION_DATASETS_IN_USE) or ""
    for name in {n.strip() for n in str(value).split(",")}:
        if name:
            yield f"{meta.get('namespace')}/{name}"


def _finished(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


class DatasetReconciler:
    def __init__(
        self, *, client: KubeClient, datasets: Informer, pods: Informer, events: EventSink
    ) -> None:
        self._client = client
        self._datasets = datasets
        self._pods = pods
        self._events = events

    async def reconcile(self, request: Request) -> Result:
        dataset = self._datasets.get(request.key)
        if dataset is None:
            return Result()
        if not c.is_dns1035_label(request.name):
            await self._events.record(dataset, WARNING, "ErrorCreateDataset",
                                      f"invalid name {request.name!r}: it must be a DNS-1035 label")
            raise TerminalError(f"invalid dataset name {request.name!r}")
        if dataset["metadata"].get("deletionTimestamp"):
            return await self._delete(request, dataset)
        dataset = await add_finalizer(self._client, DATASET.resource, dataset, c.DATASET_FINALIZER)
        if not (dataset.get("status") or {}).get("phase"):
            await self._client.patch_status(
                DATASET.resource, request.name, request.namespace,
                {"phase": c.DatasetPhase.NOT_BOUND.value, "conditions": []},
            )
            log.info("dataset_initialised", phase=c.DatasetPhase.NOT_BOUND.value)
        return Result()

    def users(self, namespace: str, name: str, *, index: str = CLAIM_INDEX) -> list[str]:
        """Names of unfinished pods using the PVC ``<name>`` (from the cache), or with
        ``index=IN_USE_INDEX`` those whose ``fluid.io/datasets-in-use`` names the dataset."""
        pods = self._pods.store.by_index(index, f"{namespace}/{name}")
        return sorted(p["metadata"]["name"] for p in pods if not _finished(p))

    async def _delete(self, request: Request, dataset: Obj) -> Result:
        if c.DATASET_FINALIZER not in (dataset["metadata"].get("finalizers") or []):
            return Result()
        namespace, name = str(request.namespace), request.name
        blockers = await self._blockers(namespace, name, dataset)
        if blockers:
            await self._report_in_use(dataset, blockers)
            return Result(requeue_after=_IN_USE_RETRY)
        await remove_finalizer(self._client, DATASET.resource, dataset, c.DATASET_FINALIZER)
        log.info("dataset_deleted")
        return Result()

    async def _blockers(self, namespace: str, name: str, dataset: Obj) -> str | None:
        pvc = await self._client.get_or_none(resources.PERSISTENT_VOLUME_CLAIMS, name, namespace)
        created_by_fluid = ((pvc or {}).get("metadata", {}).get("annotations") or {}).get(
            c.ANNOTATION_CREATED_BY) == "fluid"
        users = self.users(namespace, name) if created_by_fluid else []
        users = sorted({*users, *self.users(namespace, name, index=IN_USE_INDEX)})
        if users:
            return f"pods {', '.join(f'{namespace}/{p}' for p in users)} still use the dataset"
        refs = await self._live_refs(dataset)
        if refs:
            return f"datasets {', '.join(refs)} still refer to the dataset"
        return None

    async def _live_refs(self, dataset: Obj) -> list[str]:
        live = []
        for ref in (dataset.get("status") or {}).get("datasetRef") or []:
            ns, _, ref_name = str(ref).partition("/")
            if await self._client.get_or_none(DATASET.resource, ref_name, ns) is not None:
                live.append(str(ref))
        return live

    async def _report_in_use(self, dataset: Obj, message: str) -> None:
        meta = dataset["metadata"]
        full = f"Dataset {meta['namespace']}/{meta['name']} cannot be deleted yet: {message}."
        conditions = set_condition(
            (dataset.get("status") or {}).get("conditions") or [],
            type_=c.DatasetConditionType.NOT_READY.value, status="True", reason="DatasetInUse",
            message=full,
        )
        await self._events.record(dataset, WARNING, "ErrorDeleteDataset", full)
        await self._client.patch_status(DATASET.resource, meta["name"], meta["namespace"],
                                        {"conditions": conditions})
        log.info("dataset_delete_waiting", reason=message)


def _count(text: object, *, size: bool = False) -> int | None:
    """``ufsTotal`` (``2.00GiB``) in bytes or ``fileNum`` as an int; None while unknown."""
    try:
        return int(parse_quantity(str(text).removesuffix("B")) if size else int(str(text)))
    except ValueError:
        return None


class _UfsMetrics:
    """Informer handler: the Dataset's UFS size and file count as upstream's gauges."""

    def on_add(self, obj: Obj) -> None:
        status, key = obj.get("status") or {}, key_of(obj)
        if not status.get("ufsTotal") and not status.get("fileNum"):
            metrics.forget_dataset(key)  # never synced, or reset when its runtime went away
            return
        metrics.set_dataset_ufs(key, total_bytes=_count(status.get("ufsTotal"), size=True),
                                file_num=_count(status.get("fileNum")))

    def on_update(self, old: Obj, new: Obj) -> None:
        self.on_add(new)

    def on_delete(self, obj: Obj) -> None:
        metrics.forget_dataset(key_of(obj))


def setup(manager: Manager, context: ControllerContext) -> None:
    datasets = manager.informer(DATASET.resource)
    datasets.add_handler(_UfsMetrics())
    pods = manager.informer(resources.PODS)
    pods.add_indexer(CLAIM_INDEX, pod_claims)
    pods.add_indexer(IN_USE_INDEX, pod_datasets_in_use)
    reconciler = DatasetReconciler(
        client=context.client, datasets=datasets, pods=pods,
        events=EventRecorder(context.client, "dataset-controller"),
    )
    controller = Controller("dataset-controller", reconciler, workers=3)
    controller.watch(datasets, predicates=(generation_changed, lifecycle_changed))

    def deleting_datasets(pod: Obj) -> Iterable[str]:
        for key in {*pod_claims(pod), *pod_datasets_in_use(pod)}:
            dataset = datasets.get(key)
            if dataset is not None and dataset["metadata"].get("deletionTimestamp"):
                yield key

    controller.watch(pods, mapper=deleting_datasets)
    manager.add_controller(controller)
