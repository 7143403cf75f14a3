"""Prometheus metrics of the reconcile framework, the webhook, datasets and runtimes.

Owns metric definitions (one registry per process, the default one), the work-queue
metrics adapter, and the helpers that set upstream Fluid's own series under upstream's
names and labels (``dataset_ufs_total_size``, ``dataset_ufs_file_num``,
``runtime_setup_error_total``, ``runtime_sync_healthcheck_error_total``), so dashboards
built for upstream keep working. Never starts a server: the Manager serves ``/metrics``.
Called by the controllers and the webhook.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = [
    "ADMISSION_DURATION",
    "ADMISSION_TOTAL",
    "DATASET_CACHED_BYTES",
    "DATASET_CACHED_PERCENTAGE",
    "DATASET_UFS_FILE_NUM",
    "DATASET_UFS_TOTAL_SIZE",
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
    "RUNTIME_HEALTHCHECK_ERRORS",
    "RUNTIME_SETUP_ERRORS",
    "PrometheusQueueMetrics",
    "Tally",
    "forget_dataset",
    "forget_runtime",
    "runtime_setup_failed",
    "runtime_unhealthy",
    "set_dataset_ufs",
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

# Upstream Fluid's series: no ``fluid_`` prefix, object keys as ``<namespace>/<name>``.
DATASET_UFS_TOTAL_SIZE = Gauge(
    "dataset_ufs_total_size", "Bytes of a dataset's files in its under storage (status.ufsTotal).",
    ["dataset"],
)
DATASET_UFS_FILE_NUM = Gauge(
    "dataset_ufs_file_num", "Number of a dataset's files in its under storage (status.fileNum).",
    ["dataset"],
)
RUNTIME_SETUP_ERRORS = Counter(
    "runtime_setup_error_total", "Failed setups of a runtime (master, workers, FUSE, binding).",
    ["runtime_type", "runtime"],
)
RUNTIME_HEALTHCHECK_ERRORS = Counter(
    "runtime_sync_healthcheck_error_total",
    "Syncs of a runtime that found its master or workers not ready.",
    ["runtime_type", "runtime"],
)


def set_dataset_ufs(dataset: str, *, total_bytes: int | None, file_num: int | None) -> None:
    """Export a dataset's known UFS size and file count (``<ns>/<name>``); None leaves a value."""
    if total_bytes is not None:
        DATASET_UFS_TOTAL_SIZE.labels(dataset).set(total_bytes)
    if file_num is not None:
        DATASET_UFS_FILE_NUM.labels(dataset).set(file_num)


def forget_dataset(dataset: str) -> None:
    for gauge in (DATASET_UFS_TOTAL_SIZE, DATASET_UFS_FILE_NUM):
        with suppress(KeyError):
            gauge.remove(dataset)


def _runtime_labels(kind: str, key: str) -> tuple[str, str]:
    """(``runtime_type``, ``runtime``) as upstream: the kind lowercased and ``<ns>/<name>``."""
    return kind.lower(), key


def runtime_setup_failed(kind: str, key: str) -> None:
    RUNTIME_SETUP_ERRORS.labels(*_runtime_labels(kind, key)).inc()


def runtime_unhealthy(kind: str, key: str) -> None:
    RUNTIME_HEALTHCHECK_ERRORS.labels(*_runtime_labels(kind, key)).inc()


def forget_runtime(kind: str, key: str) -> None:
    for counter in (RUNTIME_SETUP_ERRORS, RUNTIME_HEALTHCHECK_ERRORS):
        with suppress(KeyError):
            counter.remove(*_runtime_labels(kind, key))


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
