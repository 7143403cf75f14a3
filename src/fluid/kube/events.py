"""Kubernetes Events (core/v1) about Fluid's objects, as ``kubectl describe`` shows them.

Owns the recorder that turns ``record(obj, type, reason, message)`` into a core/v1 Event
with ``involvedObject`` and ``source``, and that bumps ``count``/``lastTimestamp`` of the
event it wrote last time for the same object, reason and message instead of writing a new
one (as client-go's correlator does). Never raises into a reconcile: a failed write is
logged and dropped, since an Event is advice, not state. Called by controllers and engines.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping
from typing import Any, Protocol

import structlog

from fluid.kube import errors, resources
from fluid.kube.client import KubeClient

__all__ = ["NORMAL", "WARNING", "EventRecorder", "EventSink", "MemoryRecorder", "event_name"]

log = structlog.get_logger(__name__)

NORMAL = "Normal"
WARNING = "Warning"

_MAX_MESSAGE = 1024
"""Messages are cut to 1 KiB so one noisy error cannot bloat etcd."""


class EventSink(Protocol):
    """What controllers and engines depend on, so tests may pass a MemoryRecorder."""

    async def record(
        self, obj: Mapping[str, Any], type_: str, reason: str, message: str
    ) -> None: ...


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_name(obj: Mapping[str, Any], reason: str, message: str) -> str:
    """A deterministic name: the same object, reason and message reuse one Event."""
    meta = obj.get("metadata") or {}
    digest = hashlib.sha1(
        f"{meta.get('uid', '')}/{reason}/{message}".encode(), usedforsecurity=False
    ).hexdigest()[:10]
    return f"{meta.get('name', 'unknown')}.{digest}"


def _involved(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    ref = {
        "apiVersion": obj.get("apiVersion", ""),
        "kind": obj.get("kind", ""),
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
        "uid": meta.get("uid", ""),
        "resourceVersion": meta.get("resourceVersion", ""),
    }
    return {k: v for k, v in ref.items() if v}


class EventRecorder:
    """Writes Events to the API server on behalf of ``component`` (e.g. ``dataset-controller``).

    Events about cluster-scoped objects (nodes, PVs) go to the ``default`` namespace, as
    kubectl expects.
    """

    def __init__(self, client: KubeClient, component: str) -> None:
        self._client = client
        self._component = component

    async def record(
        self, obj: Mapping[str, Any], type_: str, reason: str, message: str
    ) -> None:
        message = message[:_MAX_MESSAGE]
        namespace = (obj.get("metadata") or {}).get("namespace") or "default"
        name = event_name(obj, reason, message)
        try:
            await self._upsert(obj, namespace=namespace, name=name, type_=type_, reason=reason,
                               message=message)
        except errors.ApiError as exc:
            log.warning("event_write_failed", reason=reason, event=name, error=str(exc))

    async def _upsert(
        self, obj: Mapping[str, Any], *, namespace: str, name: str, type_: str, reason: str,
        message: str,
    ) -> None:
        now = _now()
        existing = await self._client.get_or_none(resources.EVENTS, name, namespace)
        if existing is not None:
            count = int(existing.get("count") or 1) + 1
            await self._client.merge_patch(
                resources.EVENTS, name, namespace, {"count": count, "lastTimestamp": now}
            )
            return
        await self._client.create({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": _involved(obj),
            "type": type_,
            "reason": reason,
            "message": message,
            "source": {"component": self._component},
            "reportingComponent": self._component,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        })


class MemoryRecorder:
    """Keeps events in a list: for unit tests of code that records events."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []

    async def record(
        self, obj: Mapping[str, Any], type_: str, reason: str, message: str
    ) -> None:
        name = str((obj.get("metadata") or {}).get("name", ""))
        self.events.append((name, type_, reason, message))
