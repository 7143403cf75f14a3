"""Conformance of the work queue with client-go's queue, delaying and rate-limiting tests.

Single-worker cases are scripts run against a fresh ``RateLimitingQueue`` on a virtual
clock (the rate-limiting queue is also a delaying queue and a plain queue, so every
layer is exercised through the class controllers use). Steps:

``("add", k)``, ``("done", k)``, ``("forget", k)``, ``("shut_down",)``,
``("add_after", k, seconds)``, ``("add_rate_limited", k)``, ``("step", seconds)``;
``("get", k)`` asserts the next key handed out; ``("get_shutdown",)`` asserts ``get``
raises ``ShutDown``; ``("get_blocks",)`` asserts ``get`` waits; ``("len", n)``,
``("waiting", n)``, ``("requeues", k, n)`` assert counts; ``("ready_after", seconds)``
asserts one more key becomes ready after ``seconds`` and not noticeably before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from wq_support import VirtualClock, still_blocked

from fluid.reconcile import ratelimit, workqueue

Step = tuple[Any, ...]

QUEUE_CASES: list[tuple[str, Sequence[Step]]] = [
    # queue_test.go
    ("len_counts_distinct_keys", [
        ("add", "foo"), ("len", 1), ("add", "bar"), ("len", 2), ("add", "foo"), ("len", 2),
    ]),
    ("fifo_order", [
        ("add", "a"), ("add", "b"), ("add", "c"), ("add", "a"),
        ("get", "a"), ("get", "b"), ("get", "c"),
    ]),
    ("reinsert_while_processing_waits_for_done", [
        ("add", "foo"), ("get", "foo"), ("add", "foo"), ("len", 0),
        ("done", "foo"), ("len", 1), ("get", "foo"), ("done", "foo"), ("len", 0),
    ]),
    ("collapse", [
        ("add", "bar"), ("add", "bar"), ("get", "bar"), ("done", "bar"), ("len", 0),
        ("get_blocks",),
    ]),
    ("collapse_while_processing_never_hands_to_a_second_worker", [
        ("add", "foo"), ("get", "foo"), ("add", "foo"), ("add", "foo"), ("get_blocks",),
        ("done", "foo"), ("get", "foo"), ("done", "foo"), ("len", 0), ("get_blocks",),
    ]),
    ("done_without_get_is_ignored", [
        ("add", "a"), ("done", "a"), ("len", 1), ("get", "a"), ("done", "a"), ("len", 0),
        ("done", "a"), ("len", 0),
    ]),
    ("shut_down_drains_then_signals", [
        ("add", "a"), ("add", "b"), ("shut_down",), ("get", "a"), ("get", "b"),
        ("get_shutdown",), ("get_shutdown",),
    ]),
    ("add_after_shut_down_is_ignored", [
        ("add", "a"), ("shut_down",), ("add", "added after shutdown!"), ("len", 1),
        ("get", "a"), ("done", "a"), ("get_shutdown",),
    ]),
    ("dirty_key_goes_back_after_shut_down", [
        ("add", "foo"), ("get", "foo"), ("add", "foo"), ("shut_down",), ("get_shutdown",),
        ("done", "foo"), ("len", 1), ("get", "foo"), ("done", "foo"), ("get_shutdown",),
    ]),
    ("shut_down_twice", [("add", "a"), ("shut_down",), ("shut_down",), ("get", "a"),
                         ("get_shutdown",)]),
    # delaying_queue_test.go
    ("simple_add_after", [
        ("add_after", "foo", 0.05), ("waiting", 1), ("len", 0), ("step", 0.06), ("len", 1),
        ("waiting", 0), ("get", "foo"), ("done", "foo"), ("step", 10.0), ("len", 0),
    ]),
    ("later_add_after_does_not_postpone", [
        ("add_after", "foo", 0.05), ("add_after", "foo", 0.07), ("waiting", 1), ("len", 0),
        ("step", 0.06), ("len", 1), ("get", "foo"), ("done", "foo"),
        ("step", 0.02), ("len", 0),
    ]),
    ("earlier_add_after_wins", [
        ("add_after", "foo", 0.05), ("add_after", "foo", 0.03), ("waiting", 1), ("len", 0),
        ("step", 0.04), ("len", 1), ("get", "foo"), ("done", "foo"),
        ("step", 0.02), ("len", 0),
    ]),
    ("two_keys_fire_in_ready_order", [
        ("add_after", "foo", 1.0), ("add_after", "bar", 0.05), ("len", 0),
        ("step", 0.06), ("len", 1), ("get", "bar"),
        ("add_after", "baz", 2.0), ("step", 1.0), ("len", 1), ("get", "foo"),
        ("step", 2.0), ("len", 1), ("get", "baz"),
    ]),
    ("copy_shifting", [
        ("add_after", "foo", 1.0), ("add_after", "bar", 0.5), ("add_after", "baz", 0.25),
        ("len", 0), ("step", 2.0), ("len", 3), ("get", "baz"), ("get", "bar"), ("get", "foo"),
    ]),
    ("equal_ready_times_keep_insertion_order", [
        ("add_after", "a", 0.1), ("add_after", "b", 0.1), ("step", 0.1),
        ("get", "a"), ("get", "b"),
    ]),
    ("non_positive_delay_adds_now", [
        ("add_after", "a", 0.0), ("add_after", "b", -1.0), ("len", 2), ("waiting", 0),
    ]),
    ("add_after_of_a_queued_key_dedups", [
        ("add", "foo"), ("add_after", "foo", 0.1), ("step", 0.2), ("len", 1),
        ("get", "foo"), ("done", "foo"), ("len", 0),
    ]),
    ("add_after_while_processing_waits_for_done", [
        ("add", "foo"), ("get", "foo"), ("add_after", "foo", 0.1), ("step", 0.2),
        ("len", 0), ("get_blocks",), ("done", "foo"), ("get", "foo"),
    ]),
    ("shut_down_drops_waiting_keys", [
        ("add_after", "foo", 1.0), ("shut_down",), ("waiting", 0), ("step", 2.0),
        ("len", 0), ("get_shutdown",),
    ]),
    ("add_after_after_shut_down_is_ignored", [
        ("shut_down",), ("add_after", "foo", 0.1), ("add_after", "bar", 0.0), ("waiting", 0),
        ("step", 1.0), ("get_shutdown",),
    ]),
    # rate_limiting_queue_test.go, with client-go's default limiter
    ("rate_limited_backoff_per_key", [
        ("add_rate_limited", "one"), ("ready_after", 0.005), ("get", "one"),
        ("add_rate_limited", "one"), ("done", "one"), ("ready_after", 0.01), ("get", "one"),
        ("done", "one"), ("requeues", "one", 2),
        ("add_rate_limited", "two"), ("ready_after", 0.005), ("get", "two"), ("done", "two"),
        ("forget", "one"), ("requeues", "one", 0), ("requeues", "two", 1),
        ("add_rate_limited", "one"), ("ready_after", 0.005),
    ]),
    ("forget_resets_the_limiter_not_the_queue", [
        ("add", "a"), ("add_rate_limited", "b"), ("forget", "a"), ("forget", "b"),
        ("len", 1), ("waiting", 1), ("requeues", "b", 0), ("step", 0.01), ("len", 2),
    ]),
    ("rate_limited_keeps_the_earliest_time", [
        ("add_rate_limited", "k"), ("add_rate_limited", "k"), ("add_rate_limited", "k"),
        ("requeues", "k", 3), ("waiting", 1), ("ready_after", 0.005), ("waiting", 0),
    ]),
]


async def run(queue: workqueue.RateLimitingQueue[str], clock: VirtualClock,
              steps: Sequence[Step]) -> None:
    for index, step in enumerate(steps):
        where = f"step {index}: {step}"
        match step:
            case ("add", key):
                queue.add(key)
            case ("done", key):
                queue.done(key)
            case ("forget", key):
                queue.forget(key)
            case ("shut_down",):
                queue.shut_down()
            case ("add_after", key, seconds):
                queue.add_after(key, seconds)
            case ("add_rate_limited", key):
                queue.add_rate_limited(key)
            case ("step", seconds):
                clock.step(seconds)
            case ("get", key):
                assert await asyncio.wait_for(queue.get(), timeout=5) == key, where
            case ("get_shutdown",):
                with pytest.raises(workqueue.ShutDown):
                    await asyncio.wait_for(queue.get(), timeout=5)
            case ("get_blocks",):
                await assert_get_blocks(queue, where)
            case ("len", n):
                assert len(queue) == n, where
            case ("waiting", n):
                assert queue.waiting == n, where
            case ("requeues", key, n):
                assert queue.num_requeues(key) == n, where
            case ("ready_after", seconds):
                before = len(queue)
                clock.step(seconds * 0.9)
                assert len(queue) == before, where
                clock.step(seconds * 0.2)
                assert len(queue) == before + 1, where
            case _:
                raise AssertionError(f"unknown {where}")


async def assert_get_blocks(queue: workqueue.WorkQueue[str], where: str) -> None:
    getter = asyncio.ensure_future(queue.get())
    assert await still_blocked(getter), where
    getter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await getter


@pytest.mark.parametrize("steps", [c[1] for c in QUEUE_CASES], ids=[c[0] for c in QUEUE_CASES])
async def test_queue_conformance(steps: Sequence[Step], clock: VirtualClock) -> None:
    queue = workqueue.RateLimitingQueue[str](
        ratelimit.default_controller_rate_limiter(clock), clock=clock
    )
    await run(queue, clock, steps)


async def test_plain_queue_needs_no_clock_or_timer() -> None:
    queue = workqueue.WorkQueue[int]()
    queue.add(1)
    assert await queue.get() == 1
    queue.done(1)
    queue.shut_down()
    with pytest.raises(workqueue.ShutDown):
        await queue.get()


async def test_get_waits_for_an_add() -> None:
    queue = workqueue.WorkQueue[str]()
    getter = asyncio.ensure_future(queue.get())
    assert await still_blocked(getter)
    queue.add("foo")
    assert await asyncio.wait_for(getter, timeout=5) == "foo"


async def test_shut_down_wakes_every_blocked_getter() -> None:
    queue = workqueue.WorkQueue[str]()
    getters = [asyncio.ensure_future(queue.get()) for _ in range(5)]
    assert await still_blocked(getters[-1])
    queue.shut_down()
    results = await asyncio.wait_for(
        asyncio.gather(*getters, return_exceptions=True), timeout=5
    )
    assert all(isinstance(r, workqueue.ShutDown) for r in results)


async def test_a_cancelled_getter_passes_its_wake_up_on() -> None:
    queue = workqueue.WorkQueue[str]()
    first = asyncio.ensure_future(queue.get())
    second = asyncio.ensure_future(queue.get())
    assert await still_blocked(second)
    queue.add("foo")  # wakes `first`, which is cancelled before it runs
    first.cancel()
    assert await asyncio.wait_for(second, timeout=5) == "foo"
    assert first.cancelled()


async def test_shut_down_with_drain_waits_for_processing_keys() -> None:
    queue = workqueue.WorkQueue[str]()
    queue.add("foo")
    queue.add("bar")
    first, second = await queue.get(), await queue.get()
    drain = asyncio.ensure_future(queue.shut_down_with_drain())
    assert await still_blocked(drain)
    with pytest.raises(workqueue.ShutDown):
        await queue.get()
    queue.done(first)
    assert await still_blocked(drain)
    queue.done(second)
    await asyncio.wait_for(drain, timeout=5)


async def test_shut_down_does_not_wait_for_processing_keys() -> None:
    queue = workqueue.WorkQueue[str]()
    queue.add("foo")
    queue.add("bar")
    await queue.get()
    await queue.get()
    queue.shut_down()  # synchronous: returns although nothing is done
    assert queue.shutting_down
    with pytest.raises(workqueue.ShutDown):
        await queue.get()


async def test_shut_down_forces_a_pending_drain_to_return() -> None:
    queue = workqueue.WorkQueue[str]()
    queue.add("foo")
    await queue.get()
    drain = asyncio.ensure_future(queue.shut_down_with_drain())
    assert await still_blocked(drain)
    queue.shut_down()  # a second SIGTERM
    await asyncio.wait_for(drain, timeout=5)


async def test_drain_waits_for_a_dirty_key_to_be_processed_again() -> None:
    queue = workqueue.WorkQueue[str]()
    queue.add("foo")
    gotten = await queue.get()
    queue.add("foo")
    drain = asyncio.ensure_future(queue.shut_down_with_drain())
    assert await still_blocked(drain)
    with pytest.raises(workqueue.ShutDown):
        await queue.get()
    queue.done(gotten)  # foo goes back in the queue: not drained yet
    assert await still_blocked(drain)
    again = await asyncio.wait_for(queue.get(), timeout=5)
    assert again == "foo"
    assert await still_blocked(drain)
    queue.done(again)
    await asyncio.wait_for(drain, timeout=5)
    with pytest.raises(workqueue.ShutDown):
        await queue.get()


async def test_drain_waits_for_queued_keys_not_only_processing_ones() -> None:
    queue = workqueue.WorkQueue[str]()
    queue.add("foo")
    drain = asyncio.ensure_future(queue.shut_down_with_drain())
    assert await still_blocked(drain)
    key = await asyncio.wait_for(queue.get(), timeout=5)
    assert await still_blocked(drain)
    queue.done(key)
    await asyncio.wait_for(drain, timeout=5)


async def test_drain_of_an_idle_queue_returns_at_once() -> None:
    queue = workqueue.WorkQueue[str]()
    await asyncio.wait_for(queue.shut_down_with_drain(), timeout=5)
    assert queue.shutting_down


async def test_shut_down_cancels_the_delay_timer(clock: VirtualClock) -> None:
    queue = workqueue.DelayingQueue[str](clock=clock)
    queue.add_after("a", 5.0)
    queue.add_after("b", 1.0)
    assert clock.pending >= 1
    queue.shut_down()
    assert clock.pending == 0


async def test_one_timer_serves_many_waiting_keys(clock: VirtualClock) -> None:
    queue = workqueue.DelayingQueue[int](clock=clock)
    for i in range(1000):
        queue.add_after(i, 1.0 + (i % 10))
    assert clock.pending == 1
    assert queue.waiting == 1000
    clock.step(5.5)
    assert len(queue) == 500
    assert clock.pending == 1
    clock.step(5.0)
    assert len(queue) == 1000
    assert clock.pending == 0


async def test_bucket_spreads_a_burst_of_failures(clock: VirtualClock) -> None:
    """150 keys fail at once: 100 retry after 5 ms, then one more every 100 ms."""
    queue = workqueue.RateLimitingQueue[int](clock=clock)
    for i in range(150):
        queue.add_rate_limited(i)
    clock.step(0.005)
    assert len(queue) == 100
    clock.step(0.1 - 0.005 + 1e-6)
    assert len(queue) == 101
    clock.step(4.9)
    assert len(queue) == 150
    assert [await queue.get() for _ in range(150)] == list(range(150))
