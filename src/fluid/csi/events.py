"""Kubernetes Events about volumes the plugin repaired: on the pod and on its Dataset.

Owns finding the pod from a kubelet target path
(``<kubelet>/pods/<uid>/volumes/kubernetes.io~csi/<pv>/mount``) and the Dataset from the
namespace and name the volume context named, and creating one core/v1 Event on each
(upstream Fluid records recovery on the Dataset, the object operators watch; the pod is
where its owner looks). Never fails its caller: an object that cannot be found, or an
API error, is logged and dropped, because an Event is a courtesy and recovery must go on
without it. Called by ``fluid.csi.recovery``.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Awaitable
from typing import Any, Protocol

import attrs
import structlog

from fluid.api.kinds import DATASET
from fluid.kube import KubeClient, resources
from fluid.kube import errors as kube_errors
from fluid.kube.resources import Resource

__all__ = ["DatasetRef", "KubePodEvents", "NoopPodEvents", "PodEvents", "pod_uid_of"]

log = structlog.get_logger(__name__)

COMPONENT = "fluid-csi"
_POD_UID = re.compile(r"/pods/([0-9a-fA-F-]{36})/(?:volumes|volume-subpaths)/")


@attrs.frozen
class DatasetRef:
    """The Dataset behind a volume, as the PV's volume context named it."""

    namespace: str
    name: str


def pod_uid_of(target_path: str) -> str | None:
    """The pod UID in a kubelet volume path, or None for any other path."""
    match = _POD_UID.search(target_path)
    return match.group(1) if match else None


class PodEvents(Protocol):
    async def record(self, *, target_path: str, reason: str, message: str, warning: bool,
                     dataset: DatasetRef | None = None) -> None:
        """Record an Event on the pod that owns ``target_path`` and on ``dataset``, if found."""


class NoopPodEvents:
    async def record(self, *, target_path: str, reason: str, message: str, warning: bool,
                     dataset: DatasetRef | None = None) -> None:
        log.debug("pod_event_skipped", target=target_path, reason=reason)


class KubePodEvents:
    """Finds pods among those bound to this node, and Datasets by name; creates Events."""

    def __init__(self, kube: KubeClient, *, node: str) -> None:
        self._kube = kube
        self._node = node

    async def record(self, *, target_path: str, reason: str, message: str, warning: bool,
                     dataset: DatasetRef | None = None) -> None:
        uid = pod_uid_of(target_path)
        if uid is None:
            log.info("pod_event_no_pod", target=target_path, reason=reason)
        else:
            await self._on(resources.PODS, self._find_pod(uid), subject={"uid": uid},
                           reason=reason, message=message, warning=warning)
        if dataset is not None:
            found = self._kube.get_or_none(DATASET.resource, dataset.name, dataset.namespace)
            await self._on(DATASET.resource, found, subject=attrs.asdict(dataset),
                           reason=reason, message=message, warning=warning)

    async def _on(
        self, res: Resource, found: Awaitable[dict[str, Any] | None], *, subject: dict[str, str],
        reason: str, message: str, warning: bool,
    ) -> None:
        """Create the Event on the object ``found`` yields; log, never raise, on failure."""
        kind = res.kind.lower()
        try:
            obj = await found
            if obj is None:
                log.info("event_object_not_found", kind=kind, reason=reason, **subject)
                return
            await self._kube.create(
                self._event(res, obj, reason=reason, message=message, warning=warning))
        except kube_errors.ApiError as exc:
            log.warning("event_failed", kind=kind, reason=reason, error=str(exc), **subject)
            return
        log.info("event_recorded", kind=kind, reason=reason, **subject)

    async def _find_pod(self, uid: str) -> dict[str, Any] | None:
        pods, _ = await self._kube.list_all(
            resources.PODS, field_selector=f"spec.nodeName={self._node}"
        )
        return next((p for p in pods if p.get("metadata", {}).get("uid") == uid), None)

    def _event(
        self, res: Resource, obj: dict[str, Any], *, reason: str, message: str, warning: bool
    ) -> dict[str, Any]:
        meta = obj["metadata"]
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta['name']}.{uuid.uuid4().hex[:16]}",
                "namespace": meta["namespace"],
            },
            "involvedObject": {
                "apiVersion": res.api_version, "kind": res.kind,
                "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            },
            "reason": reason,
            "message": message,
            "type": "Warning" if warning else "Normal",
            "source": {"component": COMPONENT, "host": self._node},
            "reportingComponent": COMPONENT,
            "reportingInstance": self._node,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
