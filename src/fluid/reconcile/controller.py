"""Controller: a work queue of keys, N workers calling a Reconciler, and the watches that feed it.

Owns the mapping from watch events to keys (predicates, owner references), the queue and
the worker loop with client-go's after-reconcile rules:

- success: ``forget`` the key (reset its backoff);
- ``Result(requeue_after=s)``: forget, then add the key again after ``s`` seconds;
- an exception: rate-limited requeue (per-key exponential backoff and a global bucket);
- ``TerminalError``: logged and counted, not retried until the object changes again.

It knows nothing of Fluid's kinds. One canonical log line per reconcile carries the
controller, namespace, name, reconcile_id, result and duration.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import attrs
import structlog

from fluid.observability import metrics
from fluid.reconcile import ratelimit, workqueue
from fluid.reconcile.informer import Informer
from fluid.reconcile.store import Obj, key_of, split_key

__all__ = [
    "Controller",
    "Predicate",
    "Reconciler",
    "Request",
    "Result",
    "TerminalError",
    "annotations_changed",
    "generation_changed",
    "labels_changed",
    "owner_mapper",
]

log = structlog.get_logger(__name__)

Mapper = Callable[[Obj], Iterable[str]]
"""Maps a watched object to the keys of the objects to reconcile."""


@attrs.frozen
class Request:
    """What to reconcile: the object's key, read from the cache by the reconciler."""

    key: str

    @property
    def namespace(self) -> str | None:
        return split_key(self.key)[0]

    @property
    def name(self) -> str:
        return split_key(self.key)[1]


@attrs.frozen
class Result:
    """``requeue_after`` (seconds) asks for another reconcile even without a change."""

    requeue_after: float | None = None


class TerminalError(Exception):
    """A user's mistake that retrying cannot fix; reported, not requeued hot."""


class Reconciler(Protocol):
    async def reconcile(self, request: Request) -> Result: ...


class Predicate(Protocol):
    """Decides whether an update event is worth a reconcile (adds and deletes always are)."""

    def __call__(self, old: Obj, new: Obj) -> bool: ...


def generation_changed(old: Obj, new: Obj) -> bool:
    """Spec changes only (metadata.generation), as controller-runtime's GenerationChangedPredicate."""
    return bool(old.get("metadata", {}).get("generation") != new.get("metadata", {}).get("generation"))


def labels_changed(old: Obj, new: Obj) -> bool:
    return bool(old.get("metadata", {}).get("labels") != new.get("metadata", {}).get("labels"))


def annotations_changed(old: Obj, new: Obj) -> bool:
    return bool(
        old.get("metadata", {}).get("annotations") != new.get("metadata", {}).get("annotations")
    )


def _self_key(obj: Obj) -> Iterable[str]:
    return (key_of(obj),)


def owner_mapper(owner_kind: str, owner_api_group: str) -> Mapper:
    """Map an owned object to the key of its controlling owner of the given kind."""

    def mapper(obj: Obj) -> Iterable[str]:
        meta = obj.get("metadata") or {}
        for ref in meta.get("ownerReferences") or ():
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            if ref.get("kind") == owner_kind and group == owner_api_group:
                namespace = meta.get("namespace")
                yield f"{namespace}/{ref['name']}" if namespace else str(ref["name"])

    return mapper


@attrs.define
class _Watch:
    """Turns informer events into queue adds for one controller."""

    queue: workqueue.RateLimitingQueue[str]
    mapper: Mapper
    predicates: Sequence[Predicate]

    def on_add(self, obj: Obj) -> None:
        for key in self.mapper(obj):
            self.queue.add(key)

    def on_update(self, old: Obj, new: Obj) -> None:
        if old is not new and self.predicates and not any(p(old, new) for p in self.predicates):
            return
        for key in set(self.mapper(old)) | set(self.mapper(new)):
            self.queue.add(key)

    def on_delete(self, obj: Obj) -> None:
        for key in self.mapper(obj):
            self.queue.add(key)


class Controller:
    """Runs ``workers`` concurrent reconciles; the queue guarantees one worker per key."""

    def __init__(
        self,
        name: str,
        reconciler: Reconciler,
        *,
        workers: int = 2,
        rate_limiter: ratelimit.RateLimiter[str] | None = None,
    ) -> None:
        self.name = name
        self._reconciler = reconciler
        self._workers = workers
        self.queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            rate_limiter, name=name, metrics=metrics.PrometheusQueueMetrics(name)
        )
        self.informers: list[Informer] = []

    def watch(
        self,
        informer: Informer,
        *,
        mapper: Mapper = _self_key,
        predicates: Sequence[Predicate] = (),
    ) -> None:
        """Reconcile on changes of ``informer``'s objects, mapped to keys by ``mapper``.

        ``predicates`` filter updates (any one true lets it through); resyncs always pass,
        so a level-based reconcile still runs periodically.
        """
        informer.add_handler(_Watch(self.queue, mapper, predicates))
        self.informers.append(informer)

    def owns(self, informer: Informer, *, owner_kind: str, owner_api_group: str) -> None:
        """Reconcile the owner when an object it controls changes."""
        self.watch(informer, mapper=owner_mapper(owner_kind, owner_api_group))

    async def run(self) -> None:
        """Run the workers until cancelled; cancellation drains in-flight reconciles first."""
        log.info("controller_started", controller=self.name, workers=self._workers)
        workers = [asyncio.create_task(self._worker()) for _ in range(self._workers)]
        try:
            await asyncio.gather(*workers)
        finally:
            self.queue.shut_down()
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except workqueue.ShutDown:
                return
            try:
                await self._process(key)
            finally:
                self.queue.done(key)

    async def _process(self, key: str) -> None:
        request = Request(key)
        structlog.contextvars.bind_contextvars(
            controller=self.name, namespace=request.namespace, name=request.name,
            reconcile_id=uuid.uuid4().hex[:12],
        )
        started = time.perf_counter()
        outcome, requeue_after, error = "success", None, None
        try:
            result = await self._reconciler.reconcile(request)
            requeue_after = result.requeue_after
            self.queue.forget(key)
            if requeue_after is not None:
                outcome = "requeue"
                self.queue.add_after(key, requeue_after)
        except TerminalError as exc:
            outcome, error = "terminal", str(exc)
            self.queue.forget(key)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            outcome, error = "error", f"{type(exc).__name__}: {exc}"
            self.queue.add_rate_limited(key)
        finally:
            duration = time.perf_counter() - started
            metrics.RECONCILE_TOTAL.labels(self.name, outcome).inc()
            metrics.RECONCILE_DURATION.labels(self.name, outcome).observe(duration)
            event = log.warning if outcome in ("error", "terminal") else log.info
            event(
                "reconciled", result=outcome, duration_ms=round(duration * 1000, 2),
                requeue_after=requeue_after, error=error,
            )
            structlog.contextvars.clear_contextvars()
