"""The Jobs and CronJobs that run data operations: rendering them and reading their outcome.

Owns the batch/v1 objects of an operation: names (``<name>-loader-job``... as upstream,
shortened with a hash when too long for a label), labels (``release``, ``role``, ``app``,
``targetDataset``, ``fluid.io/managed-by``), the controller ownerReference to the
operation (so deleting it garbage-collects them), ``backoffLimit`` 3, and the pod
template assembled from a kind's ``PodPlan`` plus the operation's placement (affinity,
nodeSelector, tolerations, schedulerName, podMetadata). Also reads a Job's terminal
condition.

Never talks to the API server; ``fluid.controllers.dataops.framework`` applies what it
renders.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from fluid.api.constants import API_VERSION, LABEL_MANAGED_BY

__all__ = [
    "CRON_JOB_MAX_NAME",
    "JOB_BACKOFF_LIMIT",
    "LABEL_CRONJOB",
    "LABEL_JOB_POLICY",
    "Identity",
    "JobOutcome",
    "Placement",
    "PodPlan",
    "child_name",
    "cron_job",
    "job",
    "job_outcome",
]

Obj = dict[str, Any]

JOB_BACKOFF_LIMIT = 3
"""Retries of a failed operation pod before the operation fails (upstream's default)."""
LABEL_CRONJOB = "cronjob"
"""On Jobs of a Cron operation: the CronJob's name (upstream's label)."""
LABEL_JOB_POLICY = "fluid.io/jobPolicy"
_MAX_NAME = 63
"""Job names become the ``job-name`` label of their pods, so they are at most 63 characters."""
CRON_JOB_MAX_NAME = 52
"""CronJob names leave room for the 11-character suffix of the Jobs they create."""


def child_name(owner: str, suffix: str, *, limit: int = _MAX_NAME) -> str:
    """``<owner>-<suffix>``; too long, the owner part is cut and a stable hash added."""
    name = f"{owner}-{suffix}"
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(owner.encode()).hexdigest()[:8]
    keep = limit - len(suffix) - len(digest) - 2
    return f"{owner[:keep].rstrip('-.')}-{digest}-{suffix}"


@attrs.frozen(kw_only=True)
class PodPlan:
    """What a kind runs: containers, volumes, service account, restart policy, parallelism."""

    containers: tuple[Obj, ...]
    volumes: tuple[Obj, ...] = ()
    init_containers: tuple[Obj, ...] = ()
    service_account_name: str | None = None
    restart_policy: str = "Never"
    parallelism: int = 1
    extra_spec: Mapping[str, Any] = attrs.field(factory=dict)
    """Further PodSpec fields (a DataProcess job's own pod spec supplies these)."""
    companions: tuple[Obj, ...] = ()
    """Objects applied before the Job and deleted once it finished (parallel workers)."""


@attrs.frozen(kw_only=True)
class Placement:
    """Where the pods may run, from the operation's spec (and inherited affinity)."""

    affinity: Obj | None = None
    node_selector: Mapping[str, str] | None = None
    tolerations: Sequence[Obj] | None = None
    scheduler_name: str | None = None
    labels: Mapping[str, str] | None = None
    annotations: Mapping[str, str] | None = None


@attrs.frozen(kw_only=True)
class Identity:
    """Who the Job belongs to: the operation (owner) and the dataset/runtime it targets."""

    kind: str
    name: str
    namespace: str
    uid: str
    release: str
    role: str
    runtime_type: str
    dataset: str


def owner_reference(identity: Identity) -> Obj:
    return {
        "apiVersion": API_VERSION, "kind": identity.kind, "name": identity.name,
        "uid": identity.uid, "controller": True, "blockOwnerDeletion": True,
    }


def labels(identity: Identity) -> dict[str, str]:
    return {
        "release": identity.release,
        "role": identity.role,
        "app": identity.runtime_type,
        "targetDataset": identity.dataset,
        LABEL_MANAGED_BY: "fluid",
    }


def _pod_template(identity: Identity, plan: PodPlan, placement: Placement) -> Obj:
    spec: Obj = copy.deepcopy(dict(plan.extra_spec))
    spec.update({
        "restartPolicy": plan.restart_policy,
        "containers": copy.deepcopy(list(plan.containers)),
    })
    if plan.volumes:
        spec["volumes"] = [*spec.get("volumes", []), *copy.deepcopy(list(plan.volumes))]
    if plan.init_containers:
        spec["initContainers"] = copy.deepcopy(list(plan.init_containers))
    if plan.service_account_name:
        spec["serviceAccountName"] = plan.service_account_name
    if placement.affinity:
        spec["affinity"] = copy.deepcopy(placement.affinity)
    if placement.node_selector:
        spec["nodeSelector"] = dict(placement.node_selector)
    if placement.tolerations:
        spec["tolerations"] = copy.deepcopy(list(placement.tolerations))
    if placement.scheduler_name:
        spec["schedulerName"] = placement.scheduler_name
    metadata: Obj = {"labels": {**(placement.labels or {}), **labels(identity)}}
    if placement.annotations:
        metadata["annotations"] = dict(placement.annotations)
    return {"metadata": metadata, "spec": spec}


def _job_spec(identity: Identity, plan: PodPlan, placement: Placement) -> Obj:
    spec: Obj = {
        "backoffLimit": JOB_BACKOFF_LIMIT,
        "template": _pod_template(identity, plan, placement),
    }
    if plan.parallelism > 1:
        spec |= {
            "parallelism": plan.parallelism,
            "completions": plan.parallelism,
            "completionMode": "Indexed",
        }
    return spec


def job(identity: Identity, name: str, plan: PodPlan, placement: Placement) -> Obj:
    """The Job of a Once or OnEvent operation."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": identity.namespace,
            "labels": labels(identity),
            "ownerReferences": [owner_reference(identity)],
        },
        "spec": _job_spec(identity, plan, placement),
    }


def cron_job(identity: Identity, name: str, schedule: str, plan: PodPlan, placement: Placement) -> Obj:
    """The CronJob of a Cron operation; its runs never overlap (concurrencyPolicy Forbid)."""
    job_labels = {**labels(identity), LABEL_CRONJOB: name}
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": name,
            "namespace": identity.namespace,
            "labels": {**labels(identity), LABEL_JOB_POLICY: "cron"},
            "ownerReferences": [owner_reference(identity)],
        },
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": job_labels},
                "spec": _job_spec(identity, plan, placement),
            },
        },
    }


@attrs.frozen
class JobOutcome:
    """A finished Job: whether it succeeded, when, and the reason/message it gave."""

    succeeded: bool
    finished_at: str
    reason: str
    message: str


_SUCCESS = ("Complete", "SuccessCriteriaMet")
_FAILURE = ("Failed", "FailureTarget")


def job_outcome(obj: Mapping[str, Any]) -> JobOutcome | None:
    """The Job's terminal outcome, or None while it runs."""
    status = obj.get("status") or {}
    for condition in status.get("conditions") or ():
        if condition.get("status") != "True":
            continue
        kind = condition.get("type")
        if kind in _SUCCESS or kind in _FAILURE:
            return JobOutcome(
                succeeded=kind in _SUCCESS,
                finished_at=str(condition.get("lastTransitionTime") or status.get("completionTime") or ""),
                reason=str(condition.get("reason") or kind),
                message=str(condition.get("message") or ""),
            )
    return None
