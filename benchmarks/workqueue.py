"""Work-queue throughput: how many keys per second go through add -> get -> done.

Pushes 100k distinct ``namespace/name`` keys through a ``RateLimitingQueue`` (the class
controllers use) drained by 8 asyncio workers, in three shapes:

- ``no_yield``: workers call ``done`` right after ``get``; the queue's own cost.
- ``yield_once``: workers await once between ``get`` and ``done``, as any real reconcile
  does; adds the event loop's task switching.
- ``metrics``: as ``yield_once`` with a counting ``QueueMetrics``, to show the cost of the
  timing bookkeeping that the no-op default skips.

Prints one line per shape; not a test (numbers depend on the machine). Run with
``PYTHONPATH=src python benchmarks/workqueue.py [--keys N] [--workers N] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

import structlog

from fluid.reconcile import workqueue


class CountingMetrics:
    """A cheap ``QueueMetrics``: counts observations, as a Prometheus adapter roughly would."""

    def __init__(self) -> None:
        self.calls = 0

    def add(self) -> None:
        self.calls += 1

    def depth(self, value: int) -> None:
        self.calls += 1

    def retry(self) -> None:
        self.calls += 1

    def queue_latency(self, seconds: float) -> None:
        self.calls += 1

    def work_duration(self, seconds: float) -> None:
        self.calls += 1

    def unfinished_work(self, seconds: float, longest: float) -> None:
        self.calls += 1


async def run_once(*, keys: list[str], workers: int, yield_in_work: bool,
                   metrics: workqueue.QueueMetrics) -> float:
    """Seconds to add every key and have the workers get and finish each one."""
    queue = workqueue.RateLimitingQueue[str](metrics=metrics)
    processed = 0

    async def work() -> None:
        nonlocal processed
        while True:
            try:
                key = await queue.get()
            except workqueue.ShutDown:
                return
            if yield_in_work:
                await asyncio.sleep(0)
            processed += 1
            queue.done(key)

    started = time.perf_counter()
    tasks = [asyncio.create_task(work()) for _ in range(workers)]
    for index, key in enumerate(keys):
        queue.add(key)
        if index % 64 == 63:  # an informer delivers events in batches between awaits
            await asyncio.sleep(0)
    await queue.shut_down_with_drain()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    if processed != len(keys):
        raise RuntimeError(f"processed {processed} of {len(keys)} keys")
    return elapsed


async def main(*, n_keys: int, workers: int, repeat: int) -> None:
    keys = [f"namespace-{i % 97}/object-{i}" for i in range(n_keys)]
    shapes: list[tuple[str, bool, bool]] = [
        ("no_yield", False, False), ("yield_once", True, False), ("metrics", True, True),
    ]
    print(f"workqueue: {n_keys} keys, {workers} workers, best of {repeat}")
    for name, yield_in_work, with_metrics in shapes:
        best = min([
            await run_once(keys=keys, workers=workers, yield_in_work=yield_in_work,
                           metrics=CountingMetrics() if with_metrics else workqueue.NO_METRICS)
            for _ in range(repeat)
        ])
        print(f"  {name:<11} {n_keys / best:>12,.0f} keys/s (add+get+done)  {best * 1000:8.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    asyncio.run(main(n_keys=args.keys, workers=args.workers, repeat=args.repeat))
