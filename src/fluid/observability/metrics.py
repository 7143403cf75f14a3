"""Prometheus metrics of the reconcile framework, the webhook and datasets.

Owns metric definitions (one registry per process, the default one) and the work-queue
metrics adapter. Never starts a server: the Manager serves ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = [
    "ADMISSION_DURATION",
    "ADMISSION_TOTAL",
    "DATASET_CACHED_BYTES",
    "DATASET_CACHED_PERCENTAGE",
    "LEADER",
    "QUEUE_ADDS",
    "QUEUE_DEPTH",
    "QUEUE_LATENCY",
    "QUEUE_LONGEST",
    "QUEUE_RETRIES",
    "QUEUE_UNFINISHED",
    "QUEUE_WORK_DURATION",
    "RECONCILE_DURATION",
    "RECONCILE_TOTAL",
    "PrometheusQueueMetrics",
    "Tally",
]

_FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

RECONCILE_TOTAL = Counter(
    "fluid_reconcile_total", "Reconciles by controller and result (success, requeue, error, terminal).",
    ["controller", "result"],
)
RECONCILE_DURATION = Histogram(
    "fluid_reconcile_duration_seconds", "Reconcile duration by controller and result.",
    ["controller", "result"], buckets=_FAST_BUCKETS,
)
QUEUE_DEPTH = Gauge("fluid_workqueue_depth", "Keys waiting in the work queue.", ["name"])
QUEUE_ADDS = Counter("fluid_workqueue_adds_total", "Keys added to the work queue.", ["name"])
QUEUE_UNFINISHED = Gauge(
    "fluid_workqueue_unfinished_work_seconds", "Seconds of work in progress not yet done.", ["name"]
)
QUEUE_LONGEST = Gauge(
    "fluid_workqueue_longest_running_processor_seconds", "Age of the longest running work item.",
    ["name"],
)
QUEUE_RETRIES = Counter(
    "fluid_workqueue_retries_total", "Rate-limited re-adds (retries).", ["name"]
)
QUEUE_LATENCY = Histogram(
    "fluid_workqueue_queue_duration_seconds", "Time a key waited in the queue before a worker took it.",
    ["name"], buckets=_FAST_BUCKETS,
)
QUEUE_WORK_DURATION = Histogram(
    "fluid_workqueue_work_duration_seconds", "Time from a worker taking a key to done.",
    ["name"], buckets=_FAST_BUCKETS,
)
LEADER = Gauge("fluid_leader_election_master_status", "1 while this replica leads.", ["name"])


class Tally(Collector):
    """A counter family kept as plain ints and turned into samples only when scraped.

    Why not ``prometheus_client.Counter``: each ``labels(...).inc()`` takes a lock and costs
    about a microsecond; the webhook counts every plugin's decision on every admission, on
    the event loop's thread, where a dict increment is enough.
    """

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...],
                 registry: CollectorRegistry | None = REGISTRY) -> None:
        self._name = name.removesuffix("_total")
        self._documentation = documentation
        self._labelnames = labelnames
        self._counts: dict[tuple[str, ...], int] = {}
        if registry is not None:
            registry.register(self)

    def inc(self, *labels: str) -> None:
        """Count one occurrence of ``labels`` (one value per label name, in order)."""
        self._counts[labels] = self._counts.get(labels, 0) + 1

    def value(self, *labels: str) -> int:
        return self._counts.get(labels, 0)

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self._name, self._documentation, labels=self._labelnames)
        for labels, count in list(self._counts.items()):
            family.add_metric(labels, count)
        yield family


ADMISSION_TOTAL = Tally(
    "fluid_webhook_admission_total", "Admission decisions by path, plugin and outcome.",
    ("path", "plugin", "outcome"),
)
ADMISSION_DURATION = Histogram(
    "fluid_webhook_admission_duration_seconds",
    "Time to answer one AdmissionReview (parse, plugins, encode) by webhook path.",
    ["path"], buckets=(0.0001, 0.00025, *_FAST_BUCKETS),
)
DATASET_CACHED_BYTES = Gauge(
    "fluid_dataset_cached_bytes", "Bytes of a dataset held in cache.", ["namespace", "dataset"]
)
DATASET_CACHED_PERCENTAGE = Gauge(
    "fluid_dataset_cached_percentage", "Percentage of a dataset held in cache.",
    ["namespace", "dataset"],
)


class PrometheusQueueMetrics:
    """The work queue's metrics hooks, labelled with the queue (controller) name."""

    def __init__(self, name: str) -> None:
        self._depth = QUEUE_DEPTH.labels(name)
        self._adds = QUEUE_ADDS.labels(name)
        self._retries = QUEUE_RETRIES.labels(name)
        self._latency = QUEUE_LATENCY.labels(name)
        self._work = QUEUE_WORK_DURATION.labels(name)
        self._unfinished = QUEUE_UNFINISHED.labels(name)
        self._longest = QUEUE_LONGEST.labels(name)

    def add(self) -> None:
        self._adds.inc()

    def depth(self, value: int) -> None:
        self._depth.set(value)

    def retry(self) -> None:
        self._retries.inc()

    def queue_latency(self, seconds: float) -> None:
        self._latency.observe(seconds)

    def work_duration(self, seconds: float) -> None:
        self._work.observe(seconds)

    def unfinished_work(self, seconds: float, longest: float) -> None:
        self._unfinished.set(seconds)
        self._longest.set(longest)
