"""The controllers' work queue, with the semantics of client-go's ``util/workqueue``.

Owns which key a worker handles next and the guarantee that makes level-based reconcile
safe: a key is queued once however often it is added, is never handed to two workers at
once, and if it is added while a worker holds it, it is handed out again after ``done``.
Three layers, as in client-go:

- ``WorkQueue``: a FIFO of keys plus the ``dirty`` set (keys that need processing) and the
  ``processing`` set (keys a worker holds). Every key in the FIFO is dirty and not being
  processed.
- ``DelayingQueue``: ``add_after(key, delay)``; a key already waiting keeps the earliest
  ready time. One heap of waiting keys drives one timer on the injected clock (never one
  task or timer per key); shutting down cancels the timer and drops waiting keys.
- ``RateLimitingQueue``: ``add_rate_limited(key)`` is ``add_after(key, limiter.when(key))``;
  ``forget(key)`` resets the limiter's memory of the key, not the queue.

``get`` raises ``ShutDown`` rather than returning client-go's ``(item, shutdown)`` pair:
the key is then always a real key (no placeholder to type as optional) and a worker
cannot forget to check the flag. The same choice as ``asyncio.Queue.get`` raising
``QueueShutDown`` in Python 3.13. A worker::

    while True:
        try:
            key = await queue.get()
        except workqueue.ShutDown:
            return
        try:
            ...  # reconcile key
        finally:
            queue.done(key)

Deliberate differences from client-go, each closing a gap it leaves open:
``shut_down_with_drain`` also waits for queued keys (a dirty key pushed back by ``done``
is processed before it returns, not abandoned mid-drain); ``done`` of a key that is not
being processed is ignored with a warning (client-go would queue it a second time);
retries are counted by ``add_rate_limited`` only, so periodic ``add_after`` resyncs do not
look like failures; no 10 s heartbeat, as a single clock timer cannot be lost.

Everything runs in one event loop and nothing here is thread-safe. Keys are hashable
values (the framework uses ``"namespace/name"`` strings). Never touches the Kubernetes
API, never imports Prometheus (``QueueMetrics`` is the hook; ``NO_METRICS`` the default).
Called by the reconcile controller (workers) and by event handlers that enqueue keys.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import Hashable
from typing import Final, Generic, Protocol, TypeVar

import structlog

from fluid.reconcile import ratelimit

__all__ = [
    "NO_METRICS",
    "UNFINISHED_WORK_UPDATE_PERIOD",
    "DelayingQueue",
    "QueueMetrics",
    "RateLimitingQueue",
    "ShutDown",
    "WorkQueue",
]

log = structlog.get_logger(__name__)

K = TypeVar("K", bound=Hashable)

UNFINISHED_WORK_UPDATE_PERIOD: Final = 0.5
"""Seconds between reports of unfinished work; client-go's period."""


class ShutDown(Exception):
    """Raised by ``get`` once the queue is shut down and holds no more keys."""


class QueueMetrics(Protocol):
    """Observations of one queue; the Prometheus adapter lives in ``fluid.observability``.

    Called synchronously on the hot path, so implementations must be cheap and must not
    raise. Durations in seconds.
    """

    def add(self) -> None:
        """A key was added that was not already dirty."""
        ...

    def depth(self, value: int) -> None:
        """Keys waiting to be handed out (dirty keys), after each add and get."""
        ...

    def retry(self) -> None:
        """A key was requeued by ``add_rate_limited``."""
        ...

    def queue_latency(self, seconds: float) -> None:
        """Time from a key becoming dirty to a worker getting it."""
        ...

    def work_duration(self, seconds: float) -> None:
        """Time from a worker getting a key to its ``done``."""
        ...

    def unfinished_work(self, seconds: float, longest: float) -> None:
        """Sum of the ages of keys still processing, and the oldest one's age.

        Reported every ``UNFINISHED_WORK_UPDATE_PERIOD`` while the queue runs; a stuck
        worker shows as a value growing without bound.
        """
        ...


class _NoMetrics:
    """The default: observes nothing, and lets the queue skip timing work entirely."""

    __slots__ = ()

    def add(self) -> None:
        return None

    def depth(self, value: int) -> None:
        return None

    def retry(self) -> None:
        return None

    def queue_latency(self, seconds: float) -> None:
        return None

    def work_duration(self, seconds: float) -> None:
        return None

    def unfinished_work(self, seconds: float, longest: float) -> None:
        return None


NO_METRICS: Final[QueueMetrics] = _NoMetrics()


class WorkQueue(Generic[K]):
    """FIFO + dirty + processing: dedup, one worker per key, re-add while processing.

    ``shut_down`` makes ``add`` a no-op; ``get`` keeps handing out the keys still queued
    (including dirty keys pushed back by a later ``done``) and raises ``ShutDown`` once
    none is left.
    """

    def __init__(
        self,
        *,
        name: str = "",
        clock: ratelimit.Clock | None = None,
        metrics: QueueMetrics = NO_METRICS,
    ) -> None:
        self.name = name
        self._clock: ratelimit.Clock = clock or ratelimit.LOOP_CLOCK
        self._metrics = metrics
        self._timed = metrics is not NO_METRICS
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._getters: deque[asyncio.Future[None]] = deque()
        self._drainers: list[asyncio.Future[None]] = []
        self._shutting_down = False
        self._drain = False
        self._added_at: dict[K, float] = {}
        self._started_at: dict[K, float] = {}
        self._unfinished_timer: ratelimit.TimerHandle | None = None

    def __len__(self) -> int:
        """Keys ready to be handed out now; informational only, never gate on it."""
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def add(self, key: K) -> None:
        """Mark ``key`` as needing processing; a no-op if already dirty or shut down."""
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if self._timed:
            self._observe_add(key)
        if key in self._processing:
            return  # handed out again by done()
        self._queue.append(key)
        self._wake_getter()

    async def get(self) -> K:
        """Wait for a key and mark it processing; the caller must call ``done(key)``.

        Raises ``ShutDown`` when the queue is shut down and empty.
        """
        while not self._queue:
            if self._shutting_down:
                raise ShutDown(self.name)
            await self._wait_for_key()
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        if self._timed:
            self._observe_get(key)
        return key

    def done(self, key: K) -> None:
        """Finish processing ``key``; if it was added meanwhile, queue it again.

        A key that is not being processed is ignored (with a warning), never queued twice.
        """
        if key not in self._processing:
            log.warning("workqueue_done_without_get", queue=self.name, key=repr(key))
            return
        self._processing.discard(key)
        if self._timed:
            self._observe_done(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wake_getter()
        elif not self._processing and not self._queue:
            self._wake_drainers()

    def shut_down(self) -> None:
        """Ignore further adds; workers drain what is queued, then ``get`` raises ``ShutDown``.

        Does not wait for keys being processed; also ends a pending
        ``shut_down_with_drain`` early (a second SIGTERM).
        """
        self._drain = False
        self._begin_shutdown()

    async def shut_down_with_drain(self) -> None:
        """Shut down, then wait until every queued key was handed out and is done.

        Workers must keep running and calling ``done`` or this waits forever; call
        ``shut_down`` to stop waiting.
        """
        self._drain = True
        self._begin_shutdown()
        while self._drain and (self._processing or self._queue):
            waiter = asyncio.get_running_loop().create_future()
            self._drainers.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._drainers:
                    self._drainers.remove(waiter)

    def _begin_shutdown(self) -> None:
        if not self._shutting_down:
            log.debug("workqueue_shutting_down", queue=self.name, queued=len(self._queue),
                      processing=len(self._processing), drain=self._drain)
        self._shutting_down = True
        self._stop_timers()
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
        if not self._drain:
            self._wake_drainers()

    def _stop_timers(self) -> None:
        if self._unfinished_timer is not None:
            self._unfinished_timer.cancel()
            self._unfinished_timer = None

    async def _wait_for_key(self) -> None:
        getter = asyncio.get_running_loop().create_future()
        self._getters.append(getter)
        try:
            await getter
        except BaseException:
            getter.cancel()  # no-op if it was already woken
            if getter in self._getters:
                self._getters.remove(getter)
            if self._queue and not getter.cancelled():
                self._wake_getter()  # pass the wake-up we consumed to another worker
            raise

    def _wake_getter(self) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return

    def _wake_drainers(self) -> None:
        for waiter in self._drainers:
            if not waiter.done():
                waiter.set_result(None)
        self._drainers.clear()

    def _observe_add(self, key: K) -> None:
        self._metrics.add()
        self._metrics.depth(len(self._dirty))
        self._added_at[key] = self._clock.now()

    def _observe_get(self, key: K) -> None:
        now = self._clock.now()
        self._metrics.depth(len(self._dirty))
        self._started_at[key] = now
        added_at = self._added_at.pop(key, None)
        if added_at is not None:
            self._metrics.queue_latency(now - added_at)
        if self._unfinished_timer is None and not self._shutting_down:
            self._schedule_unfinished_work()

    def _observe_done(self, key: K) -> None:
        started_at = self._started_at.pop(key, None)
        if started_at is not None:
            self._metrics.work_duration(self._clock.now() - started_at)

    def _schedule_unfinished_work(self) -> None:
        when = self._clock.now() + UNFINISHED_WORK_UPDATE_PERIOD
        self._unfinished_timer = self._clock.call_at(when, self._report_unfinished_work)

    def _report_unfinished_work(self) -> None:
        now = self._clock.now()
        ages = [now - started for started in self._started_at.values()]
        self._metrics.unfinished_work(sum(ages), max(ages, default=0.0))
        self._schedule_unfinished_work()


class DelayingQueue(WorkQueue[K]):
    """A ``WorkQueue`` with ``add_after``: keys wait in a heap until their ready time.

    A key waiting twice keeps the earlier ready time. The heap may hold superseded entries
    (heapq has no decrease-key); ``_waiting`` names the live entry of each key and the
    others are skipped when they surface.
    """

    def __init__(
        self,
        *,
        name: str = "",
        clock: ratelimit.Clock | None = None,
        metrics: QueueMetrics = NO_METRICS,
    ) -> None:
        super().__init__(name=name, clock=clock, metrics=metrics)
        self._heap: list[tuple[float, int, K]] = []
        self._waiting: dict[K, tuple[float, int, K]] = {}
        self._seq = 0
        self._timer: ratelimit.TimerHandle | None = None
        self._timer_at = 0.0

    def add_after(self, key: K, delay: float) -> None:
        """Add ``key`` once ``delay`` seconds have passed; at once if ``delay <= 0``.

        A no-op after shutdown. Must be called from inside the event loop.
        """
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        ready_at = self._clock.now() + delay
        current = self._waiting.get(key)
        if current is not None and current[0] <= ready_at:
            return
        self._seq += 1
        entry = (ready_at, self._seq, key)
        self._waiting[key] = entry
        heapq.heappush(self._heap, entry)
        if self._timer is None or ready_at < self._timer_at:
            self._arm(ready_at)

    @property
    def waiting(self) -> int:
        """Keys waiting for their ready time (not yet in the FIFO)."""
        return len(self._waiting)

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = self._clock.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        now = self._clock.now()
        heap = self._heap
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            key = entry[2]
            if self._waiting.get(key) is entry:
                del self._waiting[key]
                self.add(key)
        if heap:
            self._arm(heap[0][0])

    def _stop_timers(self) -> None:
        super()._stop_timers()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()
        self._waiting.clear()


class RateLimitingQueue(DelayingQueue[K]):
    """A ``DelayingQueue`` whose requeues wait as long as a ``RateLimiter`` says.

    Remember ``forget(key)`` once a key succeeds, or the limiter tracks it forever and its
    next failure starts from a long backoff.
    """

    def __init__(
        self,
        limiter: ratelimit.RateLimiter[K] | None = None,
        *,
        name: str = "",
        clock: ratelimit.Clock | None = None,
        metrics: QueueMetrics = NO_METRICS,
    ) -> None:
        super().__init__(name=name, clock=clock, metrics=metrics)
        self.limiter: ratelimit.RateLimiter[K] = (
            limiter or ratelimit.default_controller_rate_limiter(self._clock)
        )

    def add_rate_limited(self, key: K) -> None:
        """``add_after(key, limiter.when(key))``; counts a retry. A no-op after shutdown."""
        if self._shutting_down:
            return
        self._metrics.retry()
        self.add_after(key, self.limiter.when(key))

    def forget(self, key: K) -> None:
        """Reset the limiter's backoff for ``key``; the queue itself is untouched."""
        self.limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        return self.limiter.num_requeues(key)
