"""The data-operation framework: one state machine shared by DataLoad, DataBackup, DataMigrate
and DataProcess.

Owns the phases ``"" -> Pending -> Executing -> Complete | Failed`` and everything between
them that does not depend on the kind:

- ``""``: the spec is checked (the kind's ``problems``); a mistake fails the operation
  with condition and Event ``DataOperationNotValid``; otherwise Pending, duration
  ``Unfinished``, and ``waitingFor.operationComplete`` when ``runAfter`` is set.
- Pending: ``runAfter`` gating (``flow.gate``): a missing or unfinished predecessor keeps
  it waiting, with a ``Waiting`` condition saying on what; a Failed one fails it with a
  condition naming the predecessor. Then the target dataset (missing: Failed with
  ``TargetDatasetNotFound``; not bound yet: waiting), the inherited affinity, the kind's
  pod plan (``DataOperationNotSupport`` when the runtime cannot do it), the dataset lock
  (``lock.Lock``; a busy dataset keeps it waiting and says who holds it), and finally the
  Job. Phase Executing.
- Executing: the Job's outcome becomes Complete or Failed with the Job's condition, the
  duration and, on success, ``status.nodeAffinity`` (where the pod ran, for followers).
- Complete/Failed: the lock is released; ``ttlSecondsAfterFinished`` deletes a Once
  operation; an OnEvent operation runs again when its dataset's spec changes.
- Cron: a CronJob (``concurrencyPolicy: Forbid``) runs the operation on schedule; the
  status follows its newest Job and mirrors ``lastScheduleTime``/``lastSuccessfulTime``.
  Cron runs take no dataset lock (the CronJob controller starts them on its own clock).
- Deletion: the lock is released and the finalizer removed; the Job goes with its owner.

The operator's settings (``EngineConfig`` from the controller-manager's environment) reach
every kind here: default runtime images through ``Target.runtime_image`` and
``IMAGE_PULL_SECRETS`` on every pod (Job and companions) whose spec names none.

Kinds plug in through the ``OperationKind`` protocol. Never renders containers (kinds and
``loaders`` do) and never edits another controller's fields: status goes back as a merge
patch on ``/status``, finalizers and owner references as guarded JSON patches, the lock
through ``lock``. Called by the per-kind modules' ``setup``.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs
import structlog

from fluid.api import converter, kinds
from fluid.api.constants import (
    ANNOTATION_DATAFLOW_AFFINITY_LABELS,
    CATEGORY_ACCELERATE,
    GROUP,
    OPERATION_FINALIZERS,
    DataOperationKind,
    DatasetPhase,
    OperationPhase,
    Policy,
)
from fluid.api.dataops import OperationRef
from fluid.controllers.dataops import flow, jobs, loaders, lock
from fluid.controllers.dataops.loaders import NotSupported
from fluid.engines.base import EngineConfig, add_pull_secrets, pod_template_spec
from fluid.kube import KubeClient, errors, events, resources
from fluid.reconcile import Controller, Informer, Manager, Request, Result, key_of

__all__ = [
    "Clock",
    "Informers",
    "InvalidSpec",
    "Operation",
    "OperationKind",
    "OperationReconciler",
    "Target",
    "format_duration",
    "with_pull_secrets",
]

log = structlog.get_logger(__name__)

Obj = dict[str, Any]
Clock = Callable[[], datetime.datetime]

WAIT_RECHECK = 10.0
"""Seconds between re-checks of a waiting operation; watches usually wake it sooner."""
MISSING_JOB_RECHECK = 2.0
"""Seconds before re-reading a Job just created that the cache has not seen yet."""
RETRY_CHANGED = 0.5
"""Seconds before retrying a guarded write that lost a race with another writer."""
UNFINISHED = "Unfinished"
WAITING = "Waiting"
"""Condition type of an operation held in Pending (reason says by what)."""
ANNOTATION_OPERATION_GENERATION = "data.fluid.io/operation-generation"
"""On a CronJob: the operation generation it was rendered from."""
INFO_DATASET_GENERATION = "datasetGeneration"
READY_PHASES = (DatasetPhase.BOUND, DatasetPhase.DATA_MIGRATING)


class InvalidSpec(ValueError):
    """The operation's spec cannot run as written; the message says what to change."""


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _timestamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def format_duration(seconds: float) -> str:
    """Go's rounded ``time.Duration`` text, as upstream prints it: ``2m1s``, ``45s``, ``1h0m3s``."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


# -- what the framework works on -------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Operation:
    """One operation as read from the cache: the raw object and its parsed model."""

    obj: Obj
    model: Any

    @property
    def kind(self) -> str:
        return str(self.obj["kind"])

    @property
    def meta(self) -> Obj:
        meta: Obj = self.obj.get("metadata") or {}
        return meta

    @property
    def name(self) -> str:
        return str(self.meta.get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.meta.get("namespace", ""))

    @property
    def ref(self) -> flow.OpRef:
        return flow.OpRef(self.kind, self.namespace, self.name)

    @property
    def status(self) -> Obj:
        status: Obj = self.obj.get("status") or {}
        return status

    @property
    def phase(self) -> str:
        return str(self.status.get("phase") or "")

    @property
    def spec(self) -> Any:
        return self.model.spec

    @property
    def policy(self) -> Policy:
        return getattr(self.spec, "policy", None) or Policy.ONCE

    @property
    def schedule(self) -> str:
        return str(getattr(self.spec, "schedule", None) or "").strip()

    @property
    def run_after(self) -> OperationRef | None:
        run_after: OperationRef | None = self.spec.run_after
        return run_after

    @property
    def ttl(self) -> int | None:
        ttl: int | None = self.spec.ttl_seconds_after_finished
        return ttl

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self.meta.get("annotations") or {})


@attrs.frozen(kw_only=True)
class Target:
    """The dataset an operation works on, its bound runtime's type and the runtime object."""

    dataset: Obj
    runtime_type: str
    runtime: Obj | None = None
    operator_images: Mapping[str, str] = attrs.field(factory=dict)
    """The operator's default images (``EngineConfig.images``)."""

    def runtime_image(self) -> str:
        """The image the runtime's workers run: its spec's, else the operator's, else built in."""
        return loaders.runtime_image(self.runtime_type, self.runtime,
                                     operator_images=self.operator_images)

    @property
    def name(self) -> str:
        return str(self.dataset["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.dataset["metadata"]["namespace"])

    @property
    def is_reference(self) -> bool:
        """A ``dataset://`` reference (served by a Thin runtime without a profile)."""
        mounts = (self.dataset.get("spec") or {}).get("mounts") or []
        return any(str(m.get("mountPoint", "")).startswith("dataset://") for m in mounts)


class OperationKind(Protocol):
    """What a kind module tells the framework."""

    kind: DataOperationKind
    info: kinds.KindInfo
    job_suffix: str
    """``<name>-<job_suffix>`` names the Job (and CronJob)."""
    release_suffix: str
    role: str
    exclusive: bool

    def target_dataset(self, op: Operation) -> tuple[str, str] | None:
        """(namespace, name) of the dataset to lock and check; None if the spec names none."""

    def problems(self, op: Operation) -> list[str]:
        """Spec mistakes the schema cannot catch, each saying what to fix."""

    def distributed(self, op: Operation) -> bool:
        """Runs on several pods at once (gets and gives no location affinity)."""

    def plan(self, op: Operation, target: Target) -> tuple[jobs.PodPlan, jobs.Placement]:
        """The pod to run; raises NotSupported or InvalidSpec."""

    def infos(self, op: Operation, target: Target | None, pod: Obj | None) -> dict[str, str]:
        """``status.infos`` once the operation finished successfully."""

    def companions(self, op: Operation) -> list[tuple[resources.Resource, str]]:
        """Objects of ``PodPlan.companions`` to delete once the Job finished."""


@attrs.frozen(kw_only=True)
class Informers:
    """The shared caches the framework reads; operations keyed by kind."""

    operations: Mapping[str, Informer]
    datasets: Informer
    jobs: Informer
    cron_jobs: Informer


INDEX_TARGET = "fluid.io/dataops-target-dataset"
"""Operations by ``<ns>/<name>`` of the dataset they target."""
INDEX_DEPENDS_ON = "fluid.io/dataops-depends-on"
"""Operations by the OpRef keys of their runAfter and dependOn operations."""
INDEX_CONTROLLER = "fluid.io/controller-owner"
"""Jobs by ``<Kind>/<ns>/<name>`` of their controlling owner."""


def controller_owner_keys(obj: Obj) -> list[str]:
    meta = obj.get("metadata") or {}
    return [
        f"{ref.get('kind')}/{meta.get('namespace')}/{ref.get('name')}"
        for ref in meta.get("ownerReferences") or ()
        if ref.get("controller")
    ]


# -- the reconciler ------------------------------------------------------------------------------


class _Stop(Exception):
    """Ends a reconcile early with a Result (a wait) after status was written."""

    def __init__(self, result: Result) -> None:
        super().__init__("stop")
        self.result = result


class OperationReconciler:
    """Drives one kind's operations through their phases."""

    def __init__(
        self,
        *,
        kind: OperationKind,
        client: KubeClient,
        informers: Informers,
        recorder: events.EventSink,
        clock: Clock = utcnow,
        operator: EngineConfig | None = None,
    ) -> None:
        self._kind = kind
        self._operator = operator or EngineConfig()
        self._client = client
        self._informers = informers
        self._events = recorder
        self._now = clock
        self._finalizer = OPERATION_FINALIZERS[kind.kind]
        self._lock = lock.Lock(
            client=client, kind=kind.kind, exclusive=kind.exclusive, is_running=self._holds_lock,
        )

    @property
    def _own(self) -> Informer:
        return self._informers.operations[self._kind.kind]

    async def reconcile(self, request: Request) -> Result:
        cached = self._own.get(request.key)
        if cached is None:
            return Result()
        # The cache is shared and read-only; this reconcile works on its own copy.
        obj = copy.deepcopy(cached)
        obj.setdefault("apiVersion", self._kind.info.resource.api_version)
        obj.setdefault("kind", self._kind.kind.value)
        if obj["metadata"].get("deletionTimestamp"):
            await self._finalize(obj)
            return Result()
        try:
            model = converter.structure(obj, self._kind.info.model)
        except converter.StructureError as exc:
            op = Operation(obj=obj, model=None)
            return await self._fail(op, "DataOperationNotValid", f"the spec does not parse: {exc}")
        op = Operation(obj=obj, model=model)
        try:
            await self._ensure_finalizer(op)
            return await self._dispatch(op)
        except _Stop as stop:
            return stop.result

    async def _dispatch(self, op: Operation) -> Result:
        phase = op.phase
        if phase == OperationPhase.NONE:
            return await self._initialize(op)
        if op.policy == Policy.CRON:
            return await self._cron(op)
        if phase == OperationPhase.PENDING:
            return await self._pending(op)
        if phase == OperationPhase.EXECUTING:
            return await self._executing(op)
        return await self._finished(op)

    # -- phase "" -------------------------------------------------------------------------------

    def _problems(self, op: Operation) -> list[str]:
        found = list(self._kind.problems(op))
        if op.policy == Policy.CRON and not op.schedule:
            found.append("spec.schedule is required when spec.policy is Cron (e.g. \"0 */6 * * *\")")
        if self._kind.target_dataset(op) is None and not found:
            found.append("the operation names no dataset")
        return found

    async def _initialize(self, op: Operation) -> Result:
        problems = self._problems(op)
        if problems:
            return await self._fail(op, "DataOperationNotValid", "; ".join(problems))
        await self._set_status(op, {
            "phase": OperationPhase.PENDING.value,
            "duration": UNFINISHED,
            "conditions": [],
            "infos": {},
            "waitingFor": {"operationComplete": op.run_after is not None},
        })
        predecessor = flow.predecessor(op.run_after, op.namespace)
        log.info("operation_accepted", run_after=str(predecessor) if predecessor else None)
        return Result()

    # -- Pending --------------------------------------------------------------------------------

    async def _pending(self, op: Operation) -> Result:
        await self._await_predecessor(op)
        target = await self._target(op)
        plan, placement = await self._plan(op, target)
        holder = await self._lock_for(op, target)
        if holder is not None:
            what = f"{self._kind.kind} {target.namespace}/{holder}"
            await self._wait(op, "DatasetLocked", f"{what} is running on dataset "
                             f"{target.namespace}/{target.name}; this one starts when it finishes")
        name = self._job_name(op, target)
        await self._create_job(op, target, name, plan, placement)
        await self._set_status(op, {
            "phase": OperationPhase.EXECUTING.value,
            "duration": UNFINISHED,
            "conditions": [],
            "lastScheduleTime": _timestamp(self._now()),
            "infos": {INFO_DATASET_GENERATION: str(target.dataset["metadata"].get("generation", ""))},
        })
        await self._events.record(op.obj, events.NORMAL, "DataOperationStarted",
                                  f"started Job {name} on dataset {target.namespace}/{target.name}")
        log.info("operation_started", job=name, dataset=target.name, runtime=target.runtime_type)
        return Result()

    async def _await_predecessor(self, op: Operation) -> None:
        waiting = (op.status.get("waitingFor") or {}).get("operationComplete")
        ref = flow.predecessor(op.run_after, op.namespace)
        if not waiting or ref is None:
            return
        result = flow.gate(ref, self._operation(ref))
        if result.gate is flow.Gate.FAIL:
            raise _Stop(await self._fail(op, result.reason, result.message))
        if result.gate is flow.Gate.WAIT:
            await self._wait(op, result.reason, result.message)
        await self._set_status(op, {"waitingFor": {"operationComplete": False}})
        log.info("operation_predecessor_complete", predecessor=str(ref))

    async def _target(self, op: Operation) -> Target:
        where = self._kind.target_dataset(op)
        if where is None:  # checked in phase "", but the spec may have been edited since
            raise _Stop(await self._fail(op, "DataOperationNotValid", "the operation names no dataset"))
        namespace, name = where
        dataset = self._informers.datasets.get(f"{namespace}/{name}")
        if dataset is None:  # the cache may lag: ask the API server before failing
            dataset = await self._client.get_or_none(kinds.DATASET.resource, name, namespace)
        if dataset is None:
            raise _Stop(await self._fail(
                op, "TargetDatasetNotFound",
                f"dataset {namespace}/{name} not found: create it (or correct the dataset in the "
                f"spec), then re-create this {op.kind}",
            ))
        status = dataset.get("status") or {}
        runtime = _bound_runtime(status)
        if status.get("phase") not in READY_PHASES or runtime is None:
            await self._wait(op, "RuntimeNotReady", f"dataset {namespace}/{name} is not bound to "
                             f"a ready runtime yet (phase {status.get('phase') or 'none'})")
        runtime_type = str((runtime or {}).get("type") or "")
        return Target(dataset=dataset, runtime_type=runtime_type,
                      operator_images=self._operator.images,
                      runtime=await self._runtime_object(runtime_type, namespace, name))

    async def _runtime_object(self, runtime_type: str, namespace: str, name: str) -> Obj | None:
        info = next((i for i in kinds.RUNTIMES if i.runtime_type == runtime_type), None)
        if info is None:
            return None
        return await self._client.get_or_none(info.resource, name, namespace)

    async def _plan(self, op: Operation, target: Target) -> tuple[jobs.PodPlan, jobs.Placement]:
        try:
            plan, placement = self._kind.plan(op, target)
        except NotSupported as exc:
            raise _Stop(await self._fail(op, "DataOperationNotSupport", str(exc))) from None
        except InvalidSpec as exc:
            raise _Stop(await self._fail(op, "DataOperationNotValid", str(exc))) from None
        plan = with_pull_secrets(plan, self._operator.image_pull_secrets)
        if self._kind.distributed(op):
            return plan, placement
        return plan, attrs.evolve(placement, affinity=await self._inherited(op, placement.affinity))

    async def _inherited(self, op: Operation, current: Obj | None) -> Obj | None:
        source = flow.affinity_source(op.run_after, op.namespace)
        strategy = op.run_after.affinity_strategy if op.run_after else None
        if source is None or strategy is None:
            return current
        result = flow.gate(source, self._operation(source), purpose="affinity dependOn")
        if result.gate is flow.Gate.FAIL:
            raise _Stop(await self._fail(op, result.reason, result.message))
        if result.gate is flow.Gate.WAIT:
            await self._wait(op, result.reason, result.message)
        exported = ((self._operation(source) or {}).get("status") or {}).get("nodeAffinity")
        inherited = flow.inherit_affinity(current, strategy=strategy, source_node_affinity=exported)
        if inherited.missing:
            await self._events.record(
                op.obj, events.WARNING, "AffinityLabelNotExported",
                f"{source} exports no value for {', '.join(inherited.missing)}: list the label(s) "
                f"in its annotation {ANNOTATION_DATAFLOW_AFFINITY_LABELS}",
            )
        return inherited.affinity

    async def _lock_for(self, op: Operation, target: Target) -> str | None:
        return await self._lock.acquire(target.namespace, target.name, op.name)

    def _holds_lock(self, namespace: str, name: str) -> bool:
        obj = self._own.get(f"{namespace}/{name}")
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return False
        phase = (obj.get("status") or {}).get("phase")
        return phase in (OperationPhase.PENDING, OperationPhase.EXECUTING)

    def _job_name(self, op: Operation, target: Target) -> str:
        if op.policy == Policy.ON_EVENT:
            generation = target.dataset["metadata"].get("generation", 0)
            return jobs.child_name(op.name, f"{self._kind.job_suffix}-g{generation}")
        return jobs.child_name(op.name, self._kind.job_suffix)

    def _identity(self, op: Operation, target: Target) -> jobs.Identity:
        return jobs.Identity(
            kind=op.kind, name=op.name, namespace=op.namespace, uid=str(op.meta.get("uid", "")),
            release=jobs.child_name(op.name, self._kind.release_suffix), role=self._kind.role,
            runtime_type=target.runtime_type, dataset=target.name,
        )

    async def _create_job(
        self, op: Operation, target: Target, name: str, plan: jobs.PodPlan,
        placement: jobs.Placement,
    ) -> None:
        await self._ensure_dataset_owner(op, target)
        owner = jobs.owner_reference(self._identity(op, target))
        for companion in plan.companions:
            companion["metadata"]["ownerReferences"] = [owner]
            await self._client.apply(companion)
        with contextlib.suppress(errors.AlreadyExists):
            await self._client.create(jobs.job(self._identity(op, target), name, plan, placement))

    # -- Executing ------------------------------------------------------------------------------

    def _current_job_name(self, op: Operation) -> str:
        if op.policy == Policy.ON_EVENT:
            generation = (op.status.get("infos") or {}).get(INFO_DATASET_GENERATION, "0")
            return jobs.child_name(op.name, f"{self._kind.job_suffix}-g{generation}")
        return jobs.child_name(op.name, self._kind.job_suffix)

    async def _executing(self, op: Operation) -> Result:
        name = self._current_job_name(op)
        job = self._informers.jobs.get(f"{op.namespace}/{name}")
        if job is None:
            job = await self._client.get_or_none(resources.JOBS, name, op.namespace)
        if job is None:
            # Deleted under us: run it again from Pending (the lock is still ours).
            log.info("operation_job_missing", job=name)
            await self._set_status(op, {"phase": OperationPhase.PENDING.value})
            return Result(requeue_after=MISSING_JOB_RECHECK)
        outcome = jobs.job_outcome(job)
        if outcome is None:
            return Result()
        await self._record_outcome(op, job, outcome)
        return Result()

    async def _record_outcome(self, op: Operation, job: Obj, outcome: jobs.JobOutcome) -> None:
        started = _parse_time(job["metadata"].get("creationTimestamp"))
        finished = _parse_time(outcome.finished_at) or self._now()
        status: Obj = {
            "phase": (OperationPhase.COMPLETE if outcome.succeeded else OperationPhase.FAILED).value,
            "duration": format_duration((finished - started).total_seconds()) if started else "",
            "conditions": [self._condition(
                OperationPhase.COMPLETE if outcome.succeeded else OperationPhase.FAILED,
                outcome.reason, outcome.message or f"Job {job['metadata']['name']} {outcome.reason}",
                at=_timestamp(finished),
            )],
        }
        if outcome.succeeded:
            pod = await self._succeeded_pod(job)
            status["lastSuccessfulTime"] = _timestamp(finished)
            status["infos"] = self._kind.infos(op, await self._target_or_none(op), pod)
            if not self._kind.distributed(op):
                status["nodeAffinity"] = await self._node_affinity(op, pod)
        await self._announce(op, outcome.succeeded, outcome.message or outcome.reason)
        await self._set_status(op, status)
        for resource, name in self._kind.companions(op):
            await self._client.delete(resource, name, op.namespace)
        await self._release(op)

    async def _announce(self, op: Operation, succeeded: bool, detail: str) -> None:
        if succeeded:
            await self._events.record(op.obj, events.NORMAL, "DataOperationSucceed",
                                      f"{op.kind} {op.name} succeeded")
            log.info("operation_complete")
        else:
            await self._events.record(op.obj, events.WARNING, "DataOperationFailed",
                                      f"{op.kind} {op.name} failed: {detail}; see its Job's pods")
            log.info("operation_failed", detail=detail)

    async def _succeeded_pod(self, job: Obj) -> Obj | None:
        meta = job["metadata"]
        uid = meta.get("uid")
        listing = await self._client.list(
            resources.PODS, meta["namespace"], label_selector=f"controller-uid={uid}"
        )
        pods = [p for p in listing.get("items") or () if (p.get("status") or {}).get("phase") == "Succeeded"]
        return pods[-1] if pods else None

    async def _node_affinity(self, op: Operation, pod: Obj | None) -> Obj | None:
        node_name = ((pod or {}).get("spec") or {}).get("nodeName")
        if not node_name:
            return None
        node = await self._client.get_or_none(resources.NODES, node_name)
        if node is None:
            return None
        labels = (node["metadata"].get("labels")) or {}
        return flow.exported_affinity(labels, flow.exported_label_keys(op.annotations))

    async def _target_or_none(self, op: Operation) -> Target | None:
        where = self._kind.target_dataset(op)
        if where is None:
            return None
        dataset = self._informers.datasets.get(f"{where[0]}/{where[1]}")
        if dataset is None:
            return None
        runtime = _bound_runtime(dataset.get("status") or {}) or {}
        return Target(dataset=dataset, runtime_type=str(runtime.get("type") or ""),
                      operator_images=self._operator.images)

    # -- Complete / Failed ----------------------------------------------------------------------

    async def _finished(self, op: Operation) -> Result:
        if self._listed_in_lock(op):  # e.g. a crash between the outcome and the release
            await self._release(op)
        if op.policy == Policy.ON_EVENT and await self._dataset_changed(op):
            await self._set_status(op, {
                "phase": OperationPhase.PENDING.value, "duration": UNFINISHED, "conditions": [],
                "nodeAffinity": None,
            })
            log.info("operation_rerun", reason="dataset spec changed")
            return Result()
        if op.policy != Policy.ONCE or op.ttl is None:
            return Result()
        return await self._expire(op)

    async def _dataset_changed(self, op: Operation) -> bool:
        where = self._kind.target_dataset(op)
        dataset = self._informers.datasets.get(f"{where[0]}/{where[1]}") if where else None
        if dataset is None:
            return False
        seen = (op.status.get("infos") or {}).get(INFO_DATASET_GENERATION)
        return seen is not None and seen != str(dataset["metadata"].get("generation", ""))

    async def _expire(self, op: Operation) -> Result:
        finished = None
        for condition in op.status.get("conditions") or ():
            if condition.get("type") in (OperationPhase.COMPLETE, OperationPhase.FAILED):
                finished = _parse_time(condition.get("lastTransitionTime"))
        if finished is None:
            return Result()
        left = (finished + datetime.timedelta(seconds=op.ttl or 0) - self._now()).total_seconds()
        if left > 0:
            return Result(requeue_after=left)
        log.info("operation_expired", ttl_seconds=op.ttl)
        await self._client.delete(self._kind.info.resource, op.name, op.namespace)
        return Result()

    # -- Cron -----------------------------------------------------------------------------------

    async def _cron(self, op: Operation) -> Result:
        name = jobs.child_name(op.name, self._kind.job_suffix, limit=jobs.CRON_JOB_MAX_NAME)
        cron = self._informers.cron_jobs.get(f"{op.namespace}/{name}")
        if cron is None and op.phase == OperationPhase.FAILED:
            return Result()  # failed before its CronJob existed: nothing runs until re-created
        generation = str(op.meta.get("generation", ""))
        current = (cron or {}).get("metadata", {}).get("annotations", {}).get(
            ANNOTATION_OPERATION_GENERATION)
        if cron is None or current != generation:
            await self._await_predecessor(op)
            target = await self._target(op)
            plan, placement = await self._plan(op, target)
            rendered = jobs.cron_job(self._identity(op, target), name, op.schedule, plan, placement)
            rendered["metadata"]["annotations"] = {ANNOTATION_OPERATION_GENERATION: generation}
            await self._ensure_dataset_owner(op, target)
            try:
                cron = await self._client.apply(rendered)
            except errors.Invalid as exc:
                return await self._fail(op, "DataOperationNotValid",
                                        f"the CronJob was refused: {exc.message}")
            log.info("operation_cron_applied", cronjob=name, schedule=op.schedule)
        return await self._follow_cron(op, cron)

    async def _follow_cron(self, op: Operation, cron: Obj) -> Result:
        cron_status = cron.get("status") or {}
        status: Obj = {
            "lastScheduleTime": cron_status.get("lastScheduleTime"),
            "lastSuccessfulTime": cron_status.get("lastSuccessfulTime"),
            "waitingFor": {"operationComplete": False},
        }
        key = f"CronJob/{op.namespace}/{cron['metadata']['name']}"
        runs = self._informers.jobs.store.by_index(INDEX_CONTROLLER, key)
        newest = max(runs, key=lambda j: str(j["metadata"].get("creationTimestamp", "")), default=None)
        outcome = jobs.job_outcome(newest) if newest else None
        if newest is None:
            status |= {"phase": OperationPhase.PENDING.value, "conditions": []}
        elif outcome is None:
            status |= {"phase": OperationPhase.EXECUTING.value, "duration": UNFINISHED, "conditions": []}
        else:
            status |= self._cron_outcome(newest, outcome)
        previous = op.phase
        await self._set_status(op, {k: v for k, v in status.items() if v is not None})
        if outcome is not None and previous != status["phase"]:
            await self._announce(op, outcome.succeeded, outcome.message or outcome.reason)
        return Result()

    def _cron_outcome(self, job: Obj, outcome: jobs.JobOutcome) -> Obj:
        started = _parse_time(job["metadata"].get("creationTimestamp"))
        finished = _parse_time(outcome.finished_at) or self._now()
        phase = OperationPhase.COMPLETE if outcome.succeeded else OperationPhase.FAILED
        return {
            "phase": phase.value,
            "duration": format_duration((finished - started).total_seconds()) if started else "",
            "conditions": [self._condition(phase, outcome.reason, outcome.message or
                                           f"Job {job['metadata']['name']} {outcome.reason}",
                                           at=_timestamp(finished))],
            "infos": {"lastJob": str(job["metadata"]["name"])},
        }

    # -- shared steps ---------------------------------------------------------------------------

    def _operation(self, ref: flow.OpRef) -> Obj | None:
        informer = self._informers.operations.get(ref.kind)
        return informer.get(f"{ref.namespace}/{ref.name}") if informer else None

    def _condition(self, type_: str, reason: str, message: str, *, at: str | None = None) -> Obj:
        now = at or _timestamp(self._now())
        return {
            "type": str(type_), "status": "True", "reason": reason, "message": message,
            "lastProbeTime": now, "lastTransitionTime": now,
        }

    async def _wait(self, op: Operation, reason: str, message: str) -> None:
        """Stay Pending with a Waiting condition saying why; raises _Stop."""
        existing = [c for c in op.status.get("conditions") or () if c.get("type") == WAITING]
        if not existing or existing[0].get("reason") != reason or existing[0].get("message") != message:
            # The Event goes first: whoever sees the condition can then find the Event too.
            await self._events.record(op.obj, events.NORMAL, "DataOperationWaiting", message)
            await self._set_status(op, {"conditions": [self._condition(WAITING, reason, message)]})
            log.info("operation_waiting", reason=reason, detail=message)
        raise _Stop(Result(requeue_after=WAIT_RECHECK))

    async def _fail(self, op: Operation, reason: str, message: str) -> Result:
        """A mistake retrying cannot fix: phase Failed, a condition and a Warning Event."""
        if op.phase == OperationPhase.FAILED and any(
            c.get("reason") == reason and c.get("message") == message
            for c in op.status.get("conditions") or ()
        ):
            return Result()
        await self._events.record(op.obj, events.WARNING, reason, message)
        await self._set_status(op, {
            "phase": OperationPhase.FAILED.value,
            "duration": "-" if op.status.get("duration") in (None, UNFINISHED) else op.status["duration"],
            "conditions": [self._condition(OperationPhase.FAILED, reason, message)],
            "waitingFor": {"operationComplete": False},
        })
        log.warning("operation_rejected", reason=reason, detail=message)
        if op.model is not None:
            await self._release(op)
        return Result()

    def _listed_in_lock(self, op: Operation) -> bool:
        """Whether the cached dataset still names ``op`` in its lock (no API call)."""
        where = self._kind.target_dataset(op)
        dataset = self._informers.datasets.get(f"{where[0]}/{where[1]}") if where else None
        return dataset is not None and op.name in lock.holders(dataset, self._kind.kind)

    async def _release(self, op: Operation) -> None:
        where = self._kind.target_dataset(op)
        if where is not None:
            await self._lock.release(where[0], where[1], op.name)

    async def _set_status(self, op: Operation, changes: Obj) -> None:
        """Merge-patch the status fields in ``changes`` that differ from what is there."""
        current = op.status
        diff = {k: v for k, v in changes.items() if current.get(k) != v}
        if not diff:
            return
        updated = await self._client.patch_status(self._kind.info.resource, op.name, op.namespace, diff)
        # Later steps of this reconcile see what was just written.
        op.obj["status"] = updated.get("status") or {}

    async def _ensure_finalizer(self, op: Operation) -> None:
        finalizers = list(op.meta.get("finalizers") or [])
        if self._finalizer in finalizers:
            return
        patch: list[Obj] = [{"op": "test", "path": "/metadata/resourceVersion",
                             "value": op.meta["resourceVersion"]}]
        if finalizers:
            patch.append({"op": "add", "path": "/metadata/finalizers/-", "value": self._finalizer})
        else:
            patch.append({"op": "add", "path": "/metadata/finalizers", "value": [self._finalizer]})
        op.obj["metadata"] = (await self._guarded_patch(op, patch))["metadata"]

    async def _guarded_patch(self, op: Operation, patch: list[Obj]) -> Obj:
        """A JSON patch whose leading ``test`` may fail because the object just changed:
        then this reconcile ends and the next one (woken by that change) starts over."""
        try:
            return await self._client.json_patch(self._kind.info.resource, op.name, op.namespace, patch)
        except (errors.Conflict, errors.Invalid) as exc:
            log.debug("operation_changed_meanwhile", error=exc.message)
            raise _Stop(Result(requeue_after=RETRY_CHANGED)) from None

    async def _ensure_dataset_owner(self, op: Operation, target: Target) -> None:
        """The operation belongs to its dataset: deleting the dataset deletes its operations."""
        uid = target.dataset["metadata"].get("uid")
        owners = list(op.meta.get("ownerReferences") or [])
        if target.namespace != op.namespace or any(o.get("uid") == uid for o in owners):
            return
        ref = {"apiVersion": target.dataset.get("apiVersion", kinds.DATASET.resource.api_version),
               "kind": "Dataset", "name": target.name, "uid": uid}
        patch: list[Obj] = [{"op": "test", "path": "/metadata/resourceVersion",
                             "value": op.meta["resourceVersion"]}]
        if owners:
            patch.append({"op": "add", "path": "/metadata/ownerReferences/-", "value": ref})
        else:
            patch.append({"op": "add", "path": "/metadata/ownerReferences", "value": [ref]})
        op.obj["metadata"] = (await self._guarded_patch(op, patch))["metadata"]

    async def _finalize(self, obj: Obj) -> None:
        finalizers = list(obj["metadata"].get("finalizers") or [])
        if self._finalizer not in finalizers:
            return
        try:
            model = converter.structure(obj, self._kind.info.model)
        except converter.StructureError:
            model = None
        if model is not None:
            await self._release(Operation(obj=obj, model=model))
        meta = obj["metadata"]
        try:
            await self._client.json_patch(self._kind.info.resource, meta["name"], meta["namespace"], [
                {"op": "test", "path": "/metadata/finalizers", "value": finalizers},
                {"op": "replace", "path": "/metadata/finalizers",
                 "value": [f for f in finalizers if f != self._finalizer]},
            ])
        except errors.NotFound:
            return  # an earlier reconcile already let it go; the cache had not caught up
        log.info("operation_finalized")


def _bound_runtime(status: Mapping[str, Any]) -> Obj | None:
    runtimes = status.get("runtimes") or []
    for runtime in runtimes:
        if runtime.get("category") == CATEGORY_ACCELERATE:
            return dict(runtime)
    return dict(runtimes[0]) if runtimes else None


def target_keys(obj: Obj) -> list[str]:
    """``<ns>/<name>`` of every dataset a raw operation of any kind names (index function)."""
    spec = obj.get("spec") or {}
    namespace = str((obj.get("metadata") or {}).get("namespace") or "")
    found: list[str] = []
    dataset = spec.get("dataset")
    if isinstance(dataset, str) and dataset:
        found.append(f"{namespace}/{dataset}")
    elif isinstance(dataset, dict) and dataset.get("name"):
        found.append(f"{dataset.get('namespace') or namespace}/{dataset['name']}")
    for side in ("from", "to"):
        ref = (spec.get(side) or {}).get("dataset") or {}
        if ref.get("name"):
            found.append(f"{ref.get('namespace') or namespace}/{ref['name']}")
    return found


def _add_index(informer: Informer, name: str, func: Callable[[Obj], list[str]]) -> None:
    """Shared informers get each index once, whichever kind's setup comes first."""
    with contextlib.suppress(ValueError):
        informer.add_indexer(name, func)


def _dependents(own: Informer, kind: str) -> Callable[[Obj], list[str]]:
    def mapper(obj: Obj) -> list[str]:
        meta = obj.get("metadata") or {}
        ref = flow.OpRef(kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        return own.store.index_keys(INDEX_DEPENDS_ON, ref.key)

    return mapper


def _targeting(own: Informer) -> Callable[[Obj], list[str]]:
    def mapper(obj: Obj) -> list[str]:
        return own.store.index_keys(INDEX_TARGET, key_of(obj))

    return mapper


def with_pull_secrets(plan: jobs.PodPlan, names: tuple[str, ...]) -> jobs.PodPlan:
    """``plan`` whose pod and companion workloads name the operator's pull secrets where
    they name none (upstream's ``IMAGE_PULL_SECRETS`` for operation pods)."""
    if not names:
        return plan
    extra = copy.deepcopy(dict(plan.extra_spec))
    add_pull_secrets(extra, names)
    companions = copy.deepcopy(list(plan.companions))
    for companion in companions:
        spec = pod_template_spec(companion)
        if spec is not None:
            add_pull_secrets(spec, names)
    return attrs.evolve(plan, extra_spec=extra, companions=tuple(companions))


def setup_kind(
    manager: Manager, *, client: KubeClient, kind: OperationKind, workers: int = 2,
    recorder: events.EventSink | None = None, clock: Clock = utcnow,
    operator: EngineConfig | None = None,
) -> Controller:
    """Wire one kind's controller: its informers, indexes, watches and reconciler;
    ``operator`` carries the controller-manager's default images and pull secrets."""
    operations = {info.kind: manager.informer(info.resource) for info in kinds.DATA_OPERATIONS}
    for informer in operations.values():
        _add_index(informer, INDEX_TARGET, target_keys)
        _add_index(informer, INDEX_DEPENDS_ON, flow.index_refs)
    informers = Informers(
        operations=operations,
        datasets=manager.informer(kinds.DATASET.resource),
        jobs=manager.informer(resources.JOBS),
        cron_jobs=manager.informer(resources.CRONJOBS),
    )
    _add_index(informers.jobs, INDEX_CONTROLLER, controller_owner_keys)
    reconciler = OperationReconciler(
        kind=kind, client=client, informers=informers, clock=clock,
        recorder=recorder or events.EventRecorder(client, "dataset-controller"), operator=operator,
    )
    own = operations[kind.kind]
    controller = Controller(kind.kind.lower(), reconciler, workers=workers)
    controller.watch(own)
    for owned in (informers.jobs, informers.cron_jobs):
        controller.owns(owned, owner_kind=kind.kind, owner_api_group=GROUP)
    controller.watch(informers.datasets, mapper=_targeting(own))
    for other_kind, informer in operations.items():
        controller.watch(informer, mapper=_dependents(own, other_kind))
    manager.add_controller(controller)
    return controller
