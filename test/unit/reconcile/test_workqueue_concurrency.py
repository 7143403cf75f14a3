"""Many asyncio workers on one queue: the guarantees that make level-based reconcile safe.

A ledger checks, at every processing start, that no other worker holds the key, and at the
end that every add was followed by a processing that started after it (so an add made
while the key was being processed led to one more processing). Interleavings come from
seeded random yields; time is virtual where it matters, so nothing sleeps for real.
"""

from __future__ import annotations

import asyncio
import collections
import random
from collections.abc import Awaitable, Callable

import pytest
from wq_support import VirtualClock, eventually

from fluid.reconcile import ratelimit, workqueue

ShutDownFn = Callable[[workqueue.WorkQueue[int]], Awaitable[None]]


async def plain_shut_down(queue: workqueue.WorkQueue[int]) -> None:
    queue.shut_down()


async def drain_shut_down(queue: workqueue.WorkQueue[int]) -> None:
    await queue.shut_down_with_drain()


SHUT_DOWNS = pytest.mark.parametrize(
    "shut_down", [plain_shut_down, drain_shut_down], ids=["shut_down", "shut_down_with_drain"]
)


class Ledger:
    """What the workers did, checked against the queue's guarantees as it happens."""

    def __init__(self) -> None:
        self.active: set[int] = set()
        self.owed: set[int] = set()  # added, and no processing has started since
        self.adds: collections.Counter[int] = collections.Counter()
        self.runs: collections.Counter[int] = collections.Counter()
        self.adds_while_processing = 0
        self.max_parallel = 0

    def added(self, key: int) -> None:
        self.adds[key] += 1
        self.owed.add(key)
        if key in self.active:
            self.adds_while_processing += 1

    def started(self, key: int) -> None:
        assert key not in self.active, f"key {key} handed to two workers at once"
        self.active.add(key)
        self.owed.discard(key)
        self.runs[key] += 1
        self.max_parallel = max(self.max_parallel, len(self.active))

    def finished(self, key: int) -> None:
        self.active.remove(key)


async def yield_randomly(rng: random.Random, most: int = 3) -> None:
    for _ in range(rng.randrange(most + 1)):
        await asyncio.sleep(0)


@SHUT_DOWNS
async def test_basic_producers_and_consumers(shut_down: ShutDownFn) -> None:
    """client-go TestBasic: 50 producers add their key 50 times; 10 consumers; shut down."""
    queue = workqueue.WorkQueue[int]()
    seen_after_shutdown: list[int] = []
    after_shutdown = -1

    async def produce(key: int) -> None:
        for _ in range(50):
            queue.add(key)
            await asyncio.sleep(0)

    async def consume() -> None:
        while True:
            try:
                key = await queue.get()
            except workqueue.ShutDown:
                return
            if key == after_shutdown:
                seen_after_shutdown.append(key)
            await asyncio.sleep(0)
            queue.done(key)

    consumers = [asyncio.create_task(consume()) for _ in range(10)]
    await asyncio.gather(*(produce(i) for i in range(50)))
    await shut_down(queue)
    queue.add(after_shutdown)
    await asyncio.wait_for(asyncio.gather(*consumers), timeout=10)
    assert seen_after_shutdown == []
    assert len(queue) == 0


@SHUT_DOWNS
async def test_add_while_processing_with_many_consumers(shut_down: ShutDownFn) -> None:
    """client-go TestAddWhileProcessing: every worker re-adds each key it sees, once."""
    queue = workqueue.WorkQueue[int]()
    ledger = Ledger()
    for key in range(50):
        ledger.added(key)
        queue.add(key)

    async def consume() -> None:
        counters: collections.Counter[int] = collections.Counter()
        while True:
            try:
                key = await queue.get()
            except workqueue.ShutDown:
                return
            ledger.started(key)
            counters[key] += 1
            await asyncio.sleep(0)
            if counters[key] < 2:
                ledger.added(key)
                queue.add(key)
            ledger.finished(key)
            queue.done(key)

    consumers = [asyncio.create_task(consume()) for _ in range(10)]
    await eventually(lambda: not ledger.owed and not ledger.active)
    await shut_down(queue)
    await asyncio.wait_for(asyncio.gather(*consumers), timeout=10)
    assert len(queue) == 0
    assert ledger.adds_while_processing > 0
    assert all(ledger.runs[key] >= 2 for key in range(50))


@pytest.mark.parametrize("seed", range(8))
async def test_no_key_is_processed_twice_at_once_and_no_add_is_lost(seed: int) -> None:
    rng = random.Random(seed)
    queue = workqueue.WorkQueue[int]()
    ledger = Ledger()

    async def produce() -> None:
        for _ in range(300):
            key = rng.randrange(20)
            ledger.added(key)
            queue.add(key)
            await yield_randomly(rng)

    async def work() -> None:
        while True:
            try:
                key = await queue.get()
            except workqueue.ShutDown:
                return
            ledger.started(key)
            await yield_randomly(rng, 4)
            if rng.random() < 0.2 and not queue.shutting_down:
                ledger.added(key)  # a watch event for the key we are reconciling
                queue.add(key)
            await yield_randomly(rng, 2)
            ledger.finished(key)
            queue.done(key)

    workers = [asyncio.create_task(work()) for _ in range(16)]
    await asyncio.gather(*(produce() for _ in range(4)))
    await asyncio.wait_for(queue.shut_down_with_drain(), timeout=10)
    await asyncio.wait_for(asyncio.gather(*workers), timeout=10)

    assert ledger.owed == set(), "an add was never followed by a processing"
    assert ledger.active == set()
    assert len(queue) == 0
    assert ledger.max_parallel > 1, "the test never ran workers in parallel"
    assert ledger.adds_while_processing > 0, "the test never re-added a processing key"
    assert sum(ledger.runs.values()) < sum(ledger.adds.values()), "adds were never collapsed"


@pytest.mark.parametrize("seed", range(4))
async def test_rate_limited_retries_under_concurrency(seed: int, clock: VirtualClock) -> None:
    """Keys fail up to three times and are requeued with backoff; virtual time drives retries."""
    rng = random.Random(seed)
    queue = workqueue.RateLimitingQueue[int](
        ratelimit.default_controller_rate_limiter(clock), clock=clock
    )
    ledger = Ledger()
    failures: collections.Counter[int] = collections.Counter()
    max_requeues: collections.Counter[int] = collections.Counter()

    async def work() -> None:
        while True:
            try:
                key = await queue.get()
            except workqueue.ShutDown:
                return
            ledger.started(key)
            await yield_randomly(rng)
            if failures[key] < 3 and rng.random() < 0.5:
                failures[key] += 1
                ledger.added(key)
                queue.add_rate_limited(key)
                max_requeues[key] = max(max_requeues[key], queue.num_requeues(key))
            else:
                queue.forget(key)
            ledger.finished(key)
            queue.done(key)

    workers = [asyncio.create_task(work()) for _ in range(8)]
    for key in range(200):
        ledger.added(key)
        queue.add(key)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while ledger.owed or ledger.active or queue.waiting:  # retries pending: let time pass
        assert loop.time() < deadline, "retries did not settle"
        clock.step(0.05)
        await asyncio.sleep(0)
    await asyncio.wait_for(queue.shut_down_with_drain(), timeout=10)
    await asyncio.wait_for(asyncio.gather(*workers), timeout=10)

    assert ledger.owed == set()
    assert sum(failures.values()) > 0
    assert all(max_requeues[key] == failures[key] for key in failures)
    assert all(queue.num_requeues(key) == 0 for key in range(200)), "forget resets the limiter"
