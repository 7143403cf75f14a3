"""Cache hit and throughput ratios of an AlluxioRuntime, from samples of its read metrics.

Owns the arithmetic and formatting upstream Fluid reports in ``status.cacheStates``. Over
the window between two ``alluxio fsadmin report metrics`` samples (at least
``window_seconds`` apart, a minute by default as upstream), the bytes read from the
client's own worker (local), from other workers (remote) and from the under storage give
``localHitRatio``, ``remoteHitRatio`` and ``cacheHitRatio`` (local + remote); the
per-minute read throughputs of the latest sample give ``localThroughputRatio``,
``remoteThroughputRatio`` and ``cacheThroughputRatio``. Each is a share of the total
formatted ``"%.1f%%"`` ("57.1%"), and "0.0%" when nothing was read. Nothing is reported
before the second sample.

Pure: the engine passes samples and monotonic times; no I/O and no clock here. Used by
``engine.py``.
"""

from __future__ import annotations

import attrs

from fluid.engines.alluxio.ops import ReadMetrics

__all__ = ["RATIO_KEYS", "WINDOW_SECONDS", "HitRatioWindow", "percentage", "ratios"]

WINDOW_SECONDS = 60.0
"""Upstream samples the metrics at most once a minute."""

RATIO_KEYS = ("cacheHitRatio", "localHitRatio", "remoteHitRatio",
              "localThroughputRatio", "remoteThroughputRatio", "cacheThroughputRatio")


def percentage(part: int, total: int) -> str:
    """``part`` of ``total`` as upstream prints it; "0.0%" of nothing."""
    return f"{part * 100 / total:.1f}%" if total > 0 else "0.0%"


def ratios(previous: ReadMetrics, current: ReadMetrics) -> dict[str, str]:
    """The six ratios between two samples.

    The counters grow from the primary master's start: if one went down, a new primary
    started counting from zero, so the window counts from zero too.
    """
    local, remote, ufs = (current.local - previous.local, current.remote - previous.remote,
                          current.ufs - previous.ufs)
    if min(local, remote, ufs) < 0:
        local, remote, ufs = current.local, current.remote, current.ufs
    read = local + remote + ufs
    lt, rt, ut = current.local_throughput, current.remote_throughput, current.ufs_throughput
    throughput = lt + rt + ut
    return {
        "cacheHitRatio": percentage(local + remote, read),
        "localHitRatio": percentage(local, read),
        "remoteHitRatio": percentage(remote, read),
        "localThroughputRatio": percentage(lt, throughput),
        "remoteThroughputRatio": percentage(rt, throughput),
        "cacheThroughputRatio": percentage(lt + rt, throughput),
    }


@attrs.define
class HitRatioWindow:
    """The last sample and the ratios computed when it was taken."""

    window_seconds: float = WINDOW_SECONDS
    """Seconds a sample stands before the next one is taken."""
    last: tuple[float, ReadMetrics] | None = None
    current: dict[str, str] = attrs.field(factory=dict)
    """The ratios to report now (empty until two samples were taken)."""

    def due(self, now: float) -> bool:
        """Whether a new sample should be taken at ``now``."""
        return self.last is None or now - self.last[0] >= self.window_seconds

    def record(self, sample: ReadMetrics, now: float) -> dict[str, str]:
        """Take ``sample`` at ``now``; returns the ratios to report."""
        if self.last is not None:
            self.current = ratios(self.last[1], sample)
        self.last = (now, sample)
        return self.current
