"""The generic runtime controller: one Controller per runtime kind, each driving Engines.

Owns the parts of a runtime's life that are the same for every kind (upstream's
``ReconcileInternal``): the runtime finalizer (``<type>-runtime-controller-finalizer``), the
ownerReference from the runtime to its Dataset (so deleting the Dataset collects the
runtime), the ``fluid.io/dataset-id`` label on both, the check that the Dataset is not
bound to another runtime, one ``Engine`` per runtime object, and the order of the
engine's steps: ``validate`` → ``setup`` (until ready) → ``create_volume`` → ``sync``,
requeued every ``resync_seconds``; on deletion ``delete_volume`` → ``shutdown`` → reset the
Dataset's status → remove the finalizer.

Never renders workloads or talks to runtime processes (engines do), and never edits the
Dataset's finalizer (the dataset controller does). Registered as controller ``runtime``;
the port allocator, pod executor and engine factories come from
``ControllerContext.engines`` so tests inject fakes without patching.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import structlog

from fluid.api import constants as c
from fluid.api.kinds import BY_KIND, DATASET, KindInfo
from fluid.controllers import ControllerContext
from fluid.engines import registry
from fluid.engines.base import (
    ApiPodExecutor,
    Engine,
    EngineDeps,
    EngineFactory,
    InformerView,
    RuntimeKey,
    Snapshot,
    ValidationFailed,
)
from fluid.kube import KubeClient, errors, resources
from fluid.kube.events import NORMAL, WARNING, EventRecorder, EventSink
from fluid.observability import metrics
from fluid.reconcile import Controller, Informer, Manager, Request, Result, TerminalError, generation_changed
from fluid.reconcile.store import Obj
from fluid.scheduling.ports import PortAllocator, PortRange, load_from_cluster

__all__ = [
    "RuntimeReconciler",
    "add_finalizer",
    "lifecycle_changed",
    "remove_finalizer",
    "setup",
]

log = structlog.get_logger(__name__)

REASON_ERROR = "ErrorProcessRuntime"
"""Upstream's one reason for every runtime controller warning (alerts key on it); the
message says which step failed, in upstream's words."""

_NO_DATASET_RETRY = 5.0
_BOUND_ELSEWHERE_RETRY = 20.0
_DELETE_RETRY = 2.0


# -- finalizers and metadata writes -------------------------------------------------------------


async def add_finalizer(client: KubeClient, res: Any, obj: Obj, finalizer: str) -> Obj:
    """Add ``finalizer`` unless present; conditional on the resourceVersion, returns the object."""
    meta = obj["metadata"]
    current = list(meta.get("finalizers") or [])
    if finalizer in current:
        return obj
    ops: list[dict[str, Any]] = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]}]
    if current:
        ops.append({"op": "add", "path": "/metadata/finalizers/-", "value": finalizer})
    else:
        ops.append({"op": "add", "path": "/metadata/finalizers", "value": [finalizer]})
    return await client.json_patch(res, meta["name"], meta.get("namespace"), ops)


async def remove_finalizer(client: KubeClient, res: Any, obj: Obj, finalizer: str) -> None:
    """Remove ``finalizer`` by index, guarded by a ``test`` on that index; gone is done."""
    meta = obj["metadata"]
    current = list(meta.get("finalizers") or [])
    if finalizer not in current:
        return
    index = current.index(finalizer)
    ops = [{"op": "test", "path": f"/metadata/finalizers/{index}", "value": finalizer},
           {"op": "remove", "path": f"/metadata/finalizers/{index}"}]
    try:
        await client.json_patch(res, meta["name"], meta.get("namespace"), ops)
    except errors.NotFound:
        return


def lifecycle_changed(old: Obj, new: Obj) -> bool:
    """Deletion started, finalizers or owners changed: worth a reconcile though spec is equal."""
    keys = ("deletionTimestamp", "finalizers", "ownerReferences")
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    return any(old_meta.get(k) != new_meta.get(k) for k in keys)


# -- the reconciler ----------------------------------------------------------------------------


class RuntimeReconciler:
    """Reconciles one runtime kind; keeps one Engine per runtime object."""

    def __init__(
        self, *, info: KindInfo, runtimes: Informer, datasets: Informer, deps: EngineDeps,
        factory: EngineFactory, resync_seconds: float, setup_retry_seconds: float,
    ) -> None:
        self.info = info
        self._runtimes = runtimes
        self._datasets = datasets
        self._deps = deps
        self._factory = factory
        self._resync = resync_seconds
        self._setup_retry = setup_retry_seconds
        self._engines: dict[str, Engine] = {}
        self.finalizer = c.RUNTIME_FINALIZERS[c.RuntimeType(str(info.runtime_type))]

    @property
    def _client(self) -> KubeClient:
        return self._deps.client

    @property
    def _events(self) -> EventSink:
        return self._deps.events

    def engine(self, key: str) -> Engine:
        """The cached engine of a runtime, created on first use."""
        if key not in self._engines:
            namespace, _, name = key.partition("/")
            self._engines[key] = self._factory(self._deps, RuntimeKey(self.info.kind, namespace, name))
        return self._engines[key]

    async def _forget(self, key: str) -> None:
        engine = self._engines.pop(key, None)
        metrics.forget_runtime(self.info.kind, key)
        if engine is not None:
            await engine.close()

    async def reconcile(self, request: Request) -> Result:
        runtime = self._runtimes.get(request.key)
        if runtime is None:
            await self._forget(request.key)
            return Result()
        dataset = self._datasets.get(request.key)
        if (runtime.get("metadata") or {}).get("deletionTimestamp"):
            return await self._delete(request.key, runtime, dataset)
        if not c.is_dns1035_label(request.name):
            await self._events.record(runtime, WARNING, REASON_ERROR,
                                      f"invalid name {request.name!r}: it must be a DNS-1035 label")
            raise TerminalError(f"invalid runtime name {request.name!r}")
        if dataset is None:
            await self._events.record(runtime, WARNING, REASON_ERROR,
                                      "No dataset can be bound to the runtime, waiting.")
            return Result(requeue_after=_NO_DATASET_RETRY)
        if (dataset.get("metadata") or {}).get("deletionTimestamp"):
            return Result()
        runtime = await self._adopt(runtime, dataset)
        if not self._can_be_bound(dataset):
            await self._events.record(
                runtime, WARNING, REASON_ERROR,
                f"the dataset {request.key} is already bound to another runtime",
            )
            return Result(requeue_after=_BOUND_ELSEWHERE_RETRY)
        runtime = await add_finalizer(self._client, self.info.resource, runtime, self.finalizer)
        return await self._run(request.key, Snapshot(copy.deepcopy(runtime), copy.deepcopy(dataset)))

    async def _run(self, key: str, snap: Snapshot) -> Result:
        engine = self.engine(key)
        try:
            engine.validate(snap)
        except ValidationFailed as exc:
            await self._events.record(snap.runtime, WARNING, "ErrorValidateSpecFields", str(exc))
            raise TerminalError(str(exc)) from exc
        if not _dataset_ready(snap.dataset):
            if not await self._setup(engine, snap):
                return Result(requeue_after=self._setup_retry)
            fresh = await self._client.get(DATASET.resource, snap.name, snap.namespace)
            snap = Snapshot(snap.runtime, fresh)
        await self._create_volume(engine, snap)
        if c.RuntimePhase.NOT_READY in (snap.status.get("masterPhase"), snap.status.get("workerPhase")):
            metrics.runtime_unhealthy(self.info.kind, key)  # upstream's failed health check
        await engine.sync(snap)
        return Result(requeue_after=self._resync)

    async def _setup(self, engine: Engine, snap: Snapshot) -> bool:
        try:
            ready = await engine.setup(snap)
        except (errors.ApiError, OSError, RuntimeError, ValueError) as exc:
            metrics.runtime_setup_failed(self.info.kind, f"{snap.namespace}/{snap.name}")
            await self._events.record(snap.runtime, WARNING, REASON_ERROR,
                                      f"Failed to setup ddc engine due to error {exc}")
            await self._dataset_not_ready(snap, str(exc))
            raise
        if ready:
            await self._events.record(snap.runtime, NORMAL, "RuntimeReady",
                                      "The runtime is ready and the dataset is bound.")
        return ready

    async def _create_volume(self, engine: Engine, snap: Snapshot) -> None:
        try:
            await engine.create_volume(snap)
        except errors.ApiError as exc:  # upstream: reported, does not stop the flow
            await self._events.record(snap.runtime, WARNING, REASON_ERROR,
                                      f"Failed to setup volume due to error {exc}")
            log.warning("create_volume_failed", error=str(exc))

    async def _dataset_not_ready(self, snap: Snapshot, message: str) -> None:
        conditions = [x for x in snap.dataset_status.get("conditions") or []
                      if x.get("type") != c.DatasetConditionType.NOT_READY]
        conditions.append({"type": c.DatasetConditionType.NOT_READY.value, "status": "True",
                           "reason": "DatasetFailedToSetup", "message": message[:1024]})
        await self._client.patch_status(DATASET.resource, snap.name, snap.namespace,
                                        {"conditions": conditions})

    # -- binding -------------------------------------------------------------------------------

    def _can_be_bound(self, dataset: Obj) -> bool:
        """The Dataset's status.runtimes is empty or already names this runtime."""
        runtimes = (dataset.get("status") or {}).get("runtimes") or []
        meta = dataset["metadata"]
        return not runtimes or any(
            r.get("name") == meta["name"] and r.get("namespace") == meta["namespace"]
            and r.get("type") == self.info.runtime_type for r in runtimes
        )

    async def _adopt(self, runtime: Obj, dataset: Obj) -> Obj:
        """ownerReference runtime → Dataset and the ``fluid.io/dataset-id`` labels on both."""
        meta, ds_meta = runtime["metadata"], dataset["metadata"]
        dataset_id = c.dataset_id(ds_meta["namespace"], ds_meta["name"], uid=ds_meta.get("uid"))
        if (ds_meta.get("labels") or {}).get(c.LABEL_DATASET_ID) != dataset_id:
            await self._client.merge_patch(DATASET.resource, ds_meta["name"], ds_meta["namespace"],
                                           {"metadata": {"labels": {c.LABEL_DATASET_ID: dataset_id}}})
        owners = list(meta.get("ownerReferences") or [])
        owned = any(o.get("uid") == ds_meta.get("uid") for o in owners)
        labelled = (meta.get("labels") or {}).get(c.LABEL_DATASET_ID) == dataset_id
        if owned and labelled:
            return runtime
        patch: dict[str, Any] = {"metadata": {"labels": {c.LABEL_DATASET_ID: dataset_id},
                                              "resourceVersion": meta["resourceVersion"]}}
        if not owned:
            patch["metadata"]["ownerReferences"] = [*owners, {
                "apiVersion": c.API_VERSION, "kind": "Dataset", "name": ds_meta["name"],
                "uid": ds_meta["uid"], "controller": not any(o.get("controller") for o in owners),
            }]
        return await self._client.merge_patch(self.info.resource, meta["name"], meta["namespace"], patch)

    # -- deletion ------------------------------------------------------------------------------

    async def _delete(self, key: str, runtime: Obj, dataset: Obj | None) -> Result:
        if self.finalizer not in ((runtime.get("metadata") or {}).get("finalizers") or []):
            await self._forget(key)
            return Result()
        snap = Snapshot(copy.deepcopy(runtime), copy.deepcopy(dataset) if dataset else None)
        engine = self.engine(key)
        if not await engine.delete_volume(snap):
            return Result(requeue_after=_DELETE_RETRY)
        if not await engine.shutdown(snap):
            return Result(requeue_after=_DELETE_RETRY)
        await self._forget(key)
        if dataset is not None and self._can_be_bound(dataset):
            await self._reset_dataset(dataset)
        await remove_finalizer(self._client, self.info.resource, runtime, self.finalizer)
        log.info("runtime_deleted", kind=self.info.kind)
        return Result()

    async def _reset_dataset(self, dataset: Obj) -> None:
        """Back to NotBound with nothing cached or counted, as upstream does."""
        meta = dataset["metadata"]
        reset: dict[str, Any] = {"phase": c.DatasetPhase.NOT_BOUND.value, "ufsTotal": "", "fileNum": "",
                 "conditions": [], "cacheStates": None, "runtimes": None, "hcfs": None,
                 "mounts": None}
        try:
            await self._client.patch_status(DATASET.resource, meta["name"], meta["namespace"], reset)
        except errors.NotFound:
            return


def _dataset_ready(dataset: Obj | None) -> bool:
    status = (dataset or {}).get("status") or {}
    if status.get("phase") not in (c.DatasetPhase.BOUND, c.DatasetPhase.UPDATING,
                                   c.DatasetPhase.FAILED):
        return False
    return any(x.get("type") == c.DatasetConditionType.READY and x.get("status") == "True"
               for x in status.get("conditions") or [])


# -- wiring ------------------------------------------------------------------------------------


def _worker_pod_mapper(runtime_type: str) -> Any:
    def mapper(pod: Obj) -> Iterable[str]:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if (labels.get("app.kubernetes.io/managed-by") == "fluid"
                and labels.get("app.kubernetes.io/name") == runtime_type
                and labels.get("app.kubernetes.io/instance")):
            yield f"{pod['metadata']['namespace']}/{labels['app.kubernetes.io/instance']}"
    return mapper


def build_deps(manager: Manager, context: ControllerContext) -> EngineDeps:
    """The collaborators every engine shares (one allocator and executor per process)."""
    settings = context.engines
    client = context.client
    ports = settings.ports or PortAllocator(PortRange.parse(settings.port_range),
                                            loader=load_from_cluster(client))
    view = InformerView({res: manager.informer(res) for res in (
        resources.PODS, resources.NODES, resources.STATEFULSETS, resources.DAEMONSETS)})
    return EngineDeps(
        client=client, view=view, ports=ports,
        events=EventRecorder(client, "runtime-controller"),
        executor=settings.executor or ApiPodExecutor(client), config=settings.config,
    )


def setup(manager: Manager, context: ControllerContext) -> None:
    """One controller per registered runtime kind, sharing informers, allocator and executor."""
    settings = context.engines
    factories = settings.factories or registry.factories()
    deps = build_deps(manager, context)
    datasets = manager.informer(DATASET.resource)
    pods = manager.informer(resources.PODS)
    for kind, factory in sorted(factories.items()):
        info = BY_KIND[kind]
        runtimes = manager.informer(info.resource)
        reconciler = RuntimeReconciler(
            info=info, runtimes=runtimes, datasets=datasets, deps=deps, factory=factory,
            resync_seconds=settings.resync_seconds, setup_retry_seconds=settings.setup_retry_seconds,
        )
        controller = Controller(f"{info.singular}-controller", reconciler, workers=3)
        controller.watch(runtimes, predicates=(generation_changed, lifecycle_changed))
        controller.watch(datasets, predicates=(generation_changed, lifecycle_changed))
        for res in (resources.STATEFULSETS, resources.DAEMONSETS):
            controller.owns(manager.informer(res), owner_kind=kind, owner_api_group=c.GROUP)
        controller.watch(pods, mapper=_worker_pod_mapper(str(info.runtime_type)))
        manager.add_controller(controller)
