"""Conformance of the rate limiters with client-go's default_rate_limiters_test.go.

Each case is a script run against a fresh limiter: ``("when", key, seconds)`` asserts the
delay returned (``None`` ignores it), ``("requeues", key, n)`` asserts ``num_requeues``,
``("forget", key)`` forgets, ``("step", seconds)`` advances virtual time.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import pytest
from wq_support import VirtualClock

from fluid.reconcile import ratelimit

Step = tuple[Any, ...]


class StepRateLimiter:
    """``base`` for the first ``threshold`` calls overall, ``maximum`` after (client-go's test helper)."""

    def __init__(self, base: float, maximum: float, threshold: int) -> None:
        self.count = 0
        self.base, self.maximum, self.threshold = base, maximum, threshold

    def when(self, key: Hashable) -> float:
        self.count += 1
        return self.base if self.count <= self.threshold else self.maximum

    def num_requeues(self, key: Hashable) -> int:
        return 0

    def forget(self, key: Hashable) -> None:
        return None


def whens(key: Hashable, n: int) -> list[Step]:
    return [("when", key, None)] * n


Factory = Callable[[VirtualClock], ratelimit.RateLimiter[Any]]

CASES: list[tuple[str, Factory, Sequence[Step]]] = [
    (
        "exponential_doubles_per_key_and_forget_resets",
        lambda c: ratelimit.ItemExponentialFailureRateLimiter(0.001, 1.0),
        [
            ("when", "one", 0.001), ("when", "one", 0.002), ("when", "one", 0.004),
            ("when", "one", 0.008), ("when", "one", 0.016), ("requeues", "one", 5),
            ("when", "two", 0.001), ("when", "two", 0.002), ("requeues", "two", 2),
            ("forget", "one"), ("requeues", "one", 0), ("when", "one", 0.001),
            ("requeues", "two", 2),
        ],
    ),
    (
        "exponential_overflow_ms_base",
        lambda c: ratelimit.ItemExponentialFailureRateLimiter(0.001, 1000.0),
        [*whens("one", 5), ("when", "one", 0.032),
         *whens("overflow1", 1000), ("when", "overflow1", 1000.0)],
    ),
    (
        "exponential_overflow_minute_base",
        lambda c: ratelimit.ItemExponentialFailureRateLimiter(60.0, 1000 * 3600.0),
        [*whens("two", 2), ("when", "two", 240.0),
         *whens("overflow2", 1000), ("when", "overflow2", 3_600_000.0)],
    ),
    (
        "exponential_caps_at_max",
        lambda c: ratelimit.ItemExponentialFailureRateLimiter(0.005, 1000.0),
        [("when", "k", 0.005), ("when", "k", 0.01), ("when", "k", 0.02), *whens("k", 14),
         ("when", "k", 655.36), ("when", "k", 1000.0), ("when", "k", 1000.0),
         ("requeues", "k", 20)],
    ),
    (
        "fast_slow",
        lambda c: ratelimit.ItemFastSlowRateLimiter(
            fast_delay=0.005, slow_delay=10.0, max_fast_attempts=3
        ),
        [
            ("when", "one", 0.005), ("when", "one", 0.005), ("when", "one", 0.005),
            ("when", "one", 10.0), ("when", "one", 10.0), ("requeues", "one", 5),
            ("when", "two", 0.005), ("when", "two", 0.005), ("requeues", "two", 2),
            ("forget", "one"), ("requeues", "one", 0), ("when", "one", 0.005),
        ],
    ),
    (
        "max_of_takes_the_longest_and_forgets_in_all",
        lambda c: ratelimit.MaxOfRateLimiter(
            ratelimit.ItemFastSlowRateLimiter(
                fast_delay=0.005, slow_delay=3.0, max_fast_attempts=3
            ),
            ratelimit.ItemExponentialFailureRateLimiter(0.001, 1.0),
        ),
        [
            ("when", "one", 0.005), ("when", "one", 0.005), ("when", "one", 0.005),
            ("when", "one", 3.0), ("when", "one", 3.0), ("requeues", "one", 5),
            ("when", "two", 0.005), ("when", "two", 0.005), ("requeues", "two", 2),
            ("forget", "one"), ("requeues", "one", 0), ("when", "one", 0.005),
        ],
    ),
    (
        "with_max_wait_caps_the_inner_delay",
        lambda c: ratelimit.WithMaxWaitRateLimiter(StepRateLimiter(0.005, 1000.0, 100), 500.0),
        [*(("when", i, 0.005) for i in range(100)),
         *(("when", i, 500.0) for i in range(100, 200))],
    ),
    (
        "bucket_burst_then_reserves_future_tokens",
        lambda c: ratelimit.BucketRateLimiter(rate=10.0, burst=100, clock=c),
        [*(("when", i, 0.0) for i in range(100)),
         ("when", "a", 0.1), ("when", "b", 0.2), ("when", "c", 0.3), ("requeues", "a", 0)],
    ),
    (
        "bucket_refills_at_rate_after_going_negative",
        lambda c: ratelimit.BucketRateLimiter(rate=10.0, burst=100, clock=c),
        [*whens("x", 102),  # tokens now -2
         ("step", 0.2),  # back to 0
         ("when", "a", 0.1), ("step", 0.1), ("when", "b", 0.1),
         ("step", 0.35), ("when", "c", 0.0), ("when", "d", 0.0), ("when", "e", 0.05)],
    ),
    (
        "bucket_refill_is_capped_at_burst",
        lambda c: ratelimit.BucketRateLimiter(rate=10.0, burst=100, clock=c),
        [*whens("x", 100), ("step", 3600.0),
         *(("when", i, 0.0) for i in range(100)), ("when", "over", 0.1)],
    ),
    (
        "bucket_burst_of_one",
        lambda c: ratelimit.BucketRateLimiter(rate=2.0, burst=1, clock=c),
        [("when", "a", 0.0), ("when", "a", 0.5), ("when", "a", 1.0),
         ("step", 1.0), ("when", "a", 0.5)],
    ),
    (
        "bucket_infinite_rate_never_waits",
        lambda c: ratelimit.BucketRateLimiter(rate=math.inf, burst=1, clock=c),
        [("when", "a", 0.0), ("when", "a", 0.0), ("when", "b", 0.0)],
    ),
    (
        "default_controller_exponential_dominates_a_single_key",
        lambda c: ratelimit.default_controller_rate_limiter(c),
        [("when", "k", 0.005), ("when", "k", 0.01), ("when", "k", 0.02),
         ("requeues", "k", 3), ("forget", "k"), ("requeues", "k", 0), ("when", "k", 0.005)],
    ),
    (
        "default_controller_bucket_dominates_many_keys",
        lambda c: ratelimit.default_controller_rate_limiter(c),
        [*(("when", i, 0.005) for i in range(100)),
         ("when", 100, 0.1), ("when", 101, 0.2), ("requeues", 100, 1)],
    ),
]


def run(limiter: ratelimit.RateLimiter[Any], clock: VirtualClock, steps: Sequence[Step]) -> None:
    for index, step in enumerate(steps):
        match step:
            case ("when", key, expected):
                got = limiter.when(key)
                if expected is not None:
                    assert got == pytest.approx(expected, abs=1e-9), f"step {index}: {step}"
            case ("requeues", key, expected):
                assert limiter.num_requeues(key) == expected, f"step {index}: {step}"
            case ("forget", key):
                limiter.forget(key)
            case ("step", seconds):
                clock.step(seconds)
            case _:
                raise AssertionError(f"unknown step {step}")


@pytest.mark.parametrize(("factory", "steps"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rate_limiter_conformance(
    factory: Factory, steps: Sequence[Step], clock: VirtualClock
) -> None:
    run(factory(clock), clock, steps)


@pytest.mark.parametrize(
    "build",
    [
        lambda: ratelimit.BucketRateLimiter(rate=0.0, burst=1),
        lambda: ratelimit.BucketRateLimiter(rate=10.0, burst=0),
        lambda: ratelimit.ItemExponentialFailureRateLimiter(-1.0, 1.0),
        lambda: ratelimit.MaxOfRateLimiter(),
    ],
    ids=["zero_rate", "zero_burst", "negative_base", "max_of_nothing"],
)
def test_limiters_reject_configurations_that_could_never_admit(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is not the contract
        build()


async def test_loop_clock_reads_the_running_loop() -> None:
    loop = asyncio.get_running_loop()
    clock = ratelimit.LoopClock()
    before = loop.time()
    now = clock.now()
    assert before <= now <= loop.time()
    fired = asyncio.Event()
    clock.call_at(clock.now(), fired.set)
    await asyncio.wait_for(fired.wait(), timeout=5)
    await clock.sleep(0)
