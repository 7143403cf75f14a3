"""Informer: list, then watch from the list's resourceVersion, into a raw-dict Store.

Owns the list/watch/relist loop of one resource and the handlers notified of changes.
It never reconciles and never writes to the API. One informer per resource is shared by
every controller (the Manager hands them out).

Semantics follow client-go's reflector: bookmarks advance the resourceVersion; a 410 Gone
(expired resourceVersion) relists; a relist emits deletes for objects that vanished while
disconnected and updates for the rest; a periodic resync re-delivers every object as an
update so level-based controllers converge even without events.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any, Protocol

import structlog

from fluid.kube import KubeClient, errors
from fluid.kube.resources import Resource
from fluid.reconcile.store import IndexFunc, Obj, Store, key_of

__all__ = ["EventHandler", "Informer", "strip_managed_fields"]

log = structlog.get_logger(__name__)

Transform = Callable[[Obj], Obj]


def strip_managed_fields(obj: Obj) -> Obj:
    """Drop ``metadata.managedFields``: often half an object's size and never read by us."""
    meta = obj.get("metadata")
    if meta:
        meta.pop("managedFields", None)
    return obj


class EventHandler(Protocol):
    """Notified synchronously, in the informer's task, after the store changed.

    Handlers must be quick (enqueue keys); they must not block or await.
    """

    def on_add(self, obj: Obj) -> None: ...

    def on_update(self, old: Obj, new: Obj) -> None: ...

    def on_delete(self, obj: Obj) -> None: ...


class Informer:
    """Keeps a Store in step with one resource (optionally one namespace or label selector)."""

    def __init__(
        self,
        client: KubeClient,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        resync_period: float | None = 600.0,
        watch_timeout: int = 300,
        transform: Transform = strip_managed_fields,
        page_size: int = 250,
    ) -> None:
        """``resync_period`` (seconds, default 10 min as controller-runtime): None disables.

        ``page_size`` bounds the untransformed objects alive at once during a list (RSS after
        a sync is set by that peak, since freed memory stays with the process).

        ``watch_timeout`` (seconds) is sent to the server and jittered up to +20% so that
        many informers do not reconnect in lockstep.
        """
        self.resource = resource
        self.store = Store()
        self._client = client
        self._namespace = namespace
        self._label_selector = label_selector
        self._resync_period = resync_period
        self._watch_timeout = watch_timeout
        self._transform = transform
        self._page_size = page_size
        self._handlers: list[EventHandler] = []
        self._synced = asyncio.Event()
        self._resource_version = ""
        self.relists = 0

    # -- configuration -----------------------------------------------------------------------------

    def add_handler(self, handler: EventHandler) -> None:
        """Register a handler; if the cache is already synced it gets an add for every object."""
        self._handlers.append(handler)
        if self._synced.is_set():
            for obj in self.store.objects():
                handler.on_add(obj)

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        self.store.add_indexer(name, func)

    # -- state ------------------------------------------------------------------------------------

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_for_sync(self) -> None:
        await self._synced.wait()

    def get(self, key: str) -> Obj | None:
        return self.store.get(key)

    @property
    def resource_version(self) -> str:
        """Where the next watch resumes ("" means: list first). Kept across ``run`` calls."""
        return self._resource_version

    @resource_version.setter
    def resource_version(self, value: str) -> None:
        self._resource_version = value

    # -- the loop ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """List and watch until cancelled; errors back off and never end the loop."""
        backoff = 0.2
        resync = asyncio.create_task(self._resync_loop()) if self._resync_period else None
        try:
            while True:
                try:
                    if not self._resource_version:
                        await self._relist()
                    await self._watch()
                    backoff = 0.2
                except errors.Gone:
                    log.info("informer_relist", resource=self.resource.key(), reason="gone")
                    self._resource_version = ""
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # network, 5xx, auth: back off and try again
                    log.warning(
                        "informer_error", resource=self.resource.key(), error=str(exc),
                        backoff_s=round(backoff, 2),
                    )
                    await asyncio.sleep(backoff * (1 + random.random() * 0.2))
                    backoff = min(backoff * 2, 30.0)
        finally:
            if resync:
                resync.cancel()

    async def _relist(self) -> None:
        objects: list[Obj] = []
        resource_version = ""
        async for page, page_version in self._client.list_pages(
            self.resource, self._namespace, page_size=self._page_size,
            label_selector=self._label_selector,
        ):
            objects.extend(self._transform(item) for item in page)
            resource_version = page_version
            del page  # only one page of untransformed objects is alive at a time
        self._replace(objects)
        self._resource_version = resource_version
        self.relists += 1
        if not self._synced.is_set():
            self._synced.set()
            log.info(
                "informer_synced", resource=self.resource.key(), objects=len(self.store),
            )

    def _replace(self, objects: list[Obj]) -> None:
        fresh = {key_of(obj): obj for obj in objects}
        for key in self.store:
            if key not in fresh:
                old = self.store.remove(key)
                if old is not None:
                    self._notify_delete(old)
        for obj in fresh.values():
            self._apply_upsert(obj)

    async def _watch(self) -> None:
        timeout = int(self._watch_timeout * (1 + random.random() * 0.2))
        async for event in self._client.watch(
            self.resource, self._namespace, resource_version=self._resource_version,
            timeout_seconds=timeout, label_selector=self._label_selector,
        ):
            self._handle_event(event)

    def _handle_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        obj = event.get("object") or {}
        resource_version = (obj.get("metadata") or {}).get("resourceVersion")
        if kind == "BOOKMARK":
            if resource_version:
                self._resource_version = resource_version
            return
        obj = self._transform(obj)
        if kind in ("ADDED", "MODIFIED"):
            self._apply_upsert(obj)
        elif kind == "DELETED":
            self.store.remove(key_of(obj))
            self._notify_delete(obj)
        if resource_version:
            self._resource_version = resource_version

    def _apply_upsert(self, obj: Obj) -> None:
        old = self.store.upsert(obj)
        for handler in self._handlers:
            if old is None:
                handler.on_add(obj)
            elif old.get("metadata", {}).get("resourceVersion") != obj.get("metadata", {}).get(
                "resourceVersion"
            ):
                handler.on_update(old, obj)

    def _notify_delete(self, obj: Obj) -> None:
        for handler in self._handlers:
            handler.on_delete(obj)

    async def _resync_loop(self) -> None:
        assert self._resync_period is not None
        while True:
            await asyncio.sleep(self._resync_period)
            if not self._synced.is_set():
                continue
            for obj in self.store.objects():
                for handler in self._handlers:
                    handler.on_update(obj, obj)
