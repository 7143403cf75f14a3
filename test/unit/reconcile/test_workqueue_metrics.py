"""The work queue's metrics hooks: what is observed, when, and with which durations."""

from __future__ import annotations

import pytest
from wq_support import VirtualClock

from fluid.reconcile import ratelimit, workqueue


class RecordingMetrics:
    """A ``QueueMetrics`` that remembers every observation in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, float | tuple[float, float] | None]] = []

    def add(self) -> None:
        self.events.append(("add", None))

    def depth(self, value: int) -> None:
        self.events.append(("depth", value))

    def retry(self) -> None:
        self.events.append(("retry", None))

    def queue_latency(self, seconds: float) -> None:
        self.events.append(("latency", seconds))

    def work_duration(self, seconds: float) -> None:
        self.events.append(("work", seconds))

    def unfinished_work(self, seconds: float, longest: float) -> None:
        self.events.append(("unfinished", (seconds, longest)))

    def take(
        self, *, unfinished: bool = False
    ) -> list[tuple[str, float | tuple[float, float] | None]]:
        """Observations since the last take; periodic unfinished-work reports only if asked."""
        events, self.events = self.events, []
        return [e for e in events if unfinished or e[0] != "unfinished"]


@pytest.fixture
def metrics() -> RecordingMetrics:
    return RecordingMetrics()


@pytest.fixture
def queue(clock: VirtualClock, metrics: RecordingMetrics) -> workqueue.RateLimitingQueue[str]:
    return workqueue.RateLimitingQueue[str](
        ratelimit.ItemExponentialFailureRateLimiter(0.001, 1.0), clock=clock, metrics=metrics
    )


async def test_adds_count_only_new_dirty_keys(
    queue: workqueue.RateLimitingQueue[str], metrics: RecordingMetrics
) -> None:
    queue.add("a")
    queue.add("a")
    queue.add("b")
    assert metrics.take() == [("add", None), ("depth", 1), ("add", None), ("depth", 2)]


async def test_latency_runs_from_first_add_to_get_and_work_from_get_to_done(
    queue: workqueue.RateLimitingQueue[str], metrics: RecordingMetrics, clock: VirtualClock
) -> None:
    queue.add("a")
    clock.step(0.25)
    queue.add("a")  # already dirty: neither an add nor a new start time
    clock.step(0.25)
    assert await queue.get() == "a"
    clock.step(2.0)
    queue.done("a")
    assert metrics.take() == [
        ("add", None), ("depth", 1), ("depth", 0), ("latency", 0.5), ("work", 2.0),
    ]


async def test_latency_of_a_key_added_while_processing_includes_the_wait_for_done(
    queue: workqueue.RateLimitingQueue[str], metrics: RecordingMetrics, clock: VirtualClock
) -> None:
    queue.add("a")
    await queue.get()
    metrics.take()
    queue.add("a")
    clock.step(1.0)
    queue.done("a")
    await queue.get()
    assert metrics.take() == [
        ("add", None), ("depth", 1), ("work", 1.0), ("depth", 0), ("latency", 1.0),
    ]


async def test_retries_come_from_add_rate_limited_only(
    queue: workqueue.RateLimitingQueue[str], metrics: RecordingMetrics, clock: VirtualClock
) -> None:
    queue.add_rate_limited("a")
    queue.add_after("b", 0.5)
    assert metrics.take() == [("retry", None)]
    clock.step(1.0)
    assert [name for name, _ in metrics.take()] == ["add", "depth", "add", "depth"]


async def test_unfinished_work_is_reported_periodically_until_shut_down(
    queue: workqueue.RateLimitingQueue[str], metrics: RecordingMetrics, clock: VirtualClock
) -> None:
    queue.add("a")
    queue.add("b")
    await queue.get()
    clock.step(1.0)
    await queue.get()
    metrics.take()
    clock.step(workqueue.UNFINISHED_WORK_UPDATE_PERIOD)
    # "a" has run 1.5 s (its first report fell due at 0.5 s), "b" 0.5 s.
    assert metrics.take(unfinished=True) == [("unfinished", (2.0, 1.5))]
    queue.done("a")
    queue.done("b")
    metrics.take()
    clock.step(workqueue.UNFINISHED_WORK_UPDATE_PERIOD)
    assert metrics.take(unfinished=True) == [("unfinished", (0.0, 0.0))]
    queue.shut_down()
    assert clock.pending == 0
    clock.step(10.0)
    assert metrics.take(unfinished=True) == []


async def test_default_metrics_arm_no_timer(clock: VirtualClock) -> None:
    queue = workqueue.WorkQueue[str](clock=clock)
    queue.add("a")
    await queue.get()
    assert clock.pending == 0
