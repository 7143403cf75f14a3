"""Test support for the work queue: a manually stepped clock and loop-turn helpers.

``VirtualClock`` satisfies ``fluid.reconcile.ratelimit.Clock`` but time moves only when a
test calls ``step``. Timers fire inside ``step``, in time order, each seeing ``now()`` equal to its own due
time, so delayed adds become visible synchronously and tests need no real sleeps.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable


class VirtualTimer:
    """A timer scheduled on a ``VirtualClock``."""

    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], object]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """Satisfies ``fluid.reconcile.ratelimit.Clock``; starts at an arbitrary non-zero time."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, VirtualTimer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], object]) -> VirtualTimer:
        timer = VirtualTimer(when, callback)
        heapq.heappush(self._timers, (when, next(self._seq), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        self.call_at(self._now + seconds, wake)
        await future

    def step(self, seconds: float) -> None:
        """Advance time by ``seconds``, firing every timer that falls due on the way."""
        target = self._now + seconds
        while self._timers and self._timers[0][0] <= target:
            when, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, when)
            timer.callback()
        self._now = target

    @property
    def pending(self) -> int:
        """Timers armed and not cancelled."""
        return sum(1 for _, _, timer in self._timers if not timer.cancelled)


async def still_blocked(task: asyncio.Task[object], *, turns: int = 20) -> bool:
    """Let the loop run ``turns`` times, then report whether ``task`` is still pending."""
    for _ in range(turns):
        await asyncio.sleep(0)
    return not task.done()


async def eventually(predicate: Callable[[], bool], *, timeout: float = 5.0) -> None:
    """Yield to the loop until ``predicate()`` holds; fail after ``timeout`` real seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met within the deadline")
        await asyncio.sleep(0)
