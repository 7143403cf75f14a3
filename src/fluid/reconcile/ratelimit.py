"""Rate limiters for the work queue, and the clock they (and the queue) read.

Owns the answer to "how long must this key wait before it is retried": per-key exponential
backoff, an overall token bucket, and combinators, with client-go's semantics and defaults
(``k8s.io/client-go/util/workqueue/default_rate_limiters.go``; the bucket reserves future
tokens as ``golang.org/x/time/rate`` does). Durations are float seconds.

Also owns the ``Clock`` protocol: monotonic ``now()`` plus a timer and a sleep, so that
tests drive rate limits and delayed adds in virtual time. Production uses ``LoopClock``
(the running event loop's ``time()`` and ``call_at``).

Never sleeps, never touches the Kubernetes API, knows nothing of Fluid's kinds: a limiter
only computes delays and keeps per-key failure counts. Not thread-safe; like the queue it
lives in one event loop. Called by ``fluid.reconcile.workqueue.RateLimitingQueue``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Hashable
from typing import Protocol, TypeVar

__all__ = [
    "LOOP_CLOCK",
    "BucketRateLimiter",
    "Clock",
    "ItemExponentialFailureRateLimiter",
    "ItemFastSlowRateLimiter",
    "LoopClock",
    "MaxOfRateLimiter",
    "RateLimiter",
    "TimerHandle",
    "WithMaxWaitRateLimiter",
    "default_controller_rate_limiter",
]

K = TypeVar("K", bound=Hashable)
K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)


class TimerHandle(Protocol):
    """A scheduled callback that can still be cancelled (``asyncio.TimerHandle`` fits)."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Monotonic time in seconds, and timers on the same time line."""

    def now(self) -> float:
        """Monotonic seconds; only differences are meaningful."""
        ...

    def call_at(self, when: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` in the event loop once ``now() >= when``."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Suspend the calling task for ``seconds`` of this clock's time."""
        ...


class LoopClock:
    """The running event loop's clock: ``loop.time()`` (monotonic) and ``loop.call_at``.

    Looks the loop up on each call, so it may be built before the loop runs; its methods
    must be called from inside the loop.
    """

    __slots__ = ()

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def call_at(self, when: float, callback: Callable[[], object]) -> TimerHandle:
        return asyncio.get_running_loop().call_at(when, callback)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


LOOP_CLOCK = LoopClock()


class RateLimiter(Protocol[K_contra]):
    """Decides how long a key waits before its next attempt (client-go's RateLimiter)."""

    def when(self, key: K_contra) -> float:
        """Seconds ``key`` should wait now; records one more requeue of it."""
        ...

    def forget(self, key: K_contra) -> None:
        """Stop tracking ``key`` (it succeeded, or was given up on)."""
        ...

    def num_requeues(self, key: K_contra) -> int:
        """How many times ``when`` was asked about ``key`` since it was last forgotten."""
        ...


class ItemExponentialFailureRateLimiter(RateLimiter[K]):
    """Per key: ``base_delay * 2 ** failures``, capped at ``max_delay``.

    Giving up after a number of failures is the caller's business (``num_requeues``).
    """

    __slots__ = ("_base", "_failures", "_max")

    def __init__(self, base_delay: float, max_delay: float) -> None:
        if base_delay < 0 or max_delay < 0:
            raise ValueError("delays must not be negative")
        self._base = base_delay
        self._max = max_delay
        self._failures: dict[K, int] = {}

    def when(self, key: K) -> float:
        exp = self._failures.get(key, 0)
        self._failures[key] = exp + 1
        if exp >= 1024:  # 2.0 ** 1024 overflows a float; the cap has long been reached
            return self._max
        return min(self._base * 2.0**exp, self._max)

    def num_requeues(self, key: K) -> int:
        return self._failures.get(key, 0)

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)


class ItemFastSlowRateLimiter(RateLimiter[K]):
    """Per key: ``fast_delay`` for the first ``max_fast_attempts`` requeues, then ``slow_delay``."""

    __slots__ = ("_failures", "_fast", "_max_fast", "_slow")

    def __init__(self, *, fast_delay: float, slow_delay: float, max_fast_attempts: int) -> None:
        self._fast = fast_delay
        self._slow = slow_delay
        self._max_fast = max_fast_attempts
        self._failures: dict[K, int] = {}

    def when(self, key: K) -> float:
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        return self._fast if failures <= self._max_fast else self._slow

    def num_requeues(self, key: K) -> int:
        return self._failures.get(key, 0)

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)


class BucketRateLimiter(RateLimiter[K]):
    """One token bucket shared by every key: ``rate`` tokens per second, ``burst`` deep.

    Starts full. Each ``when`` takes a token, and when none is left it reserves a future one
    (the bucket goes negative), returning how long until that token exists, exactly as
    ``rate.Limiter.Reserve().Delay()`` does. So 100 calls in a burst wait 0 s, the 101st
    waits 1/rate, the 102nd 2/rate, and so on. Keeps no per-key state.
    """

    __slots__ = ("_burst", "_clock", "_last", "_rate", "_tokens")

    def __init__(self, *, rate: float, burst: int, clock: Clock | None = None) -> None:
        if not rate > 0:
            raise ValueError("rate must be positive (tokens per second; math.inf for no limit)")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self._rate = rate
        self._burst = burst
        self._clock = clock or LOOP_CLOCK
        self._tokens = float(burst)
        self._last: float | None = None

    def when(self, key: K) -> float:
        if math.isinf(self._rate):
            return 0.0
        now = self._clock.now()
        tokens = self._tokens_at(now) - 1.0
        wait = -tokens / self._rate if tokens < 0 else 0.0
        self._last = now
        self._tokens = tokens
        return wait

    def _tokens_at(self, now: float) -> float:
        """Tokens the bucket holds at ``now``; refills since the last reservation, up to burst."""
        if self._last is None:
            return self._tokens
        elapsed = max(now - self._last, 0.0)
        return min(self._tokens + elapsed * self._rate, float(self._burst))

    def num_requeues(self, key: K) -> int:
        return 0

    def forget(self, key: K) -> None:
        return None


class MaxOfRateLimiter(RateLimiter[K]):
    """Asks every limiter and returns the longest delay (each one records the requeue).

    With a bucket inside, the burst may appear exceeded when some keys were separately
    delayed longer by another limiter: their bucket tokens were still taken early.
    """

    __slots__ = ("_limiters",)

    def __init__(self, *limiters: RateLimiter[K]) -> None:
        if not limiters:
            raise ValueError("MaxOfRateLimiter needs at least one limiter")
        self._limiters = limiters

    def when(self, key: K) -> float:
        return max([limiter.when(key) for limiter in self._limiters])

    def num_requeues(self, key: K) -> int:
        return max(limiter.num_requeues(key) for limiter in self._limiters)

    def forget(self, key: K) -> None:
        for limiter in self._limiters:
            limiter.forget(key)


class WithMaxWaitRateLimiter(RateLimiter[K]):
    """Caps another limiter's delay at ``max_delay``."""

    __slots__ = ("_limiter", "_max")

    def __init__(self, limiter: RateLimiter[K], max_delay: float) -> None:
        self._limiter = limiter
        self._max = max_delay

    def when(self, key: K) -> float:
        return min(self._limiter.when(key), self._max)

    def num_requeues(self, key: K) -> int:
        return self._limiter.num_requeues(key)

    def forget(self, key: K) -> None:
        self._limiter.forget(key)


def default_controller_rate_limiter(clock: Clock | None = None) -> MaxOfRateLimiter[K]:
    """client-go's default: max(per-key exponential 5 ms -> 1000 s, bucket 10/s burst 100).

    The exponential part spaces out retries of one failing key; the bucket bounds the
    overall retry rate when many keys fail at once (it throttles retries only: first adds
    do not go through a limiter).
    """
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(0.005, 1000.0),
        BucketRateLimiter(rate=10.0, burst=100, clock=clock),
    )
