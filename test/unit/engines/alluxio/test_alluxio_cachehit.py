"""Cache hit and throughput ratios from two samples of Alluxio's read metrics."""

from __future__ import annotations

from fluid.engines.alluxio import cachehit, ops

GiB = 2**30


def sample(
    local: int, remote: int, ufs: int, *, throughput: tuple[int, int, int] = (0, 0, 0)
) -> ops.ReadMetrics:
    return ops.ReadMetrics(local=local, remote=remote, ufs=ufs, local_throughput=throughput[0],
                           remote_throughput=throughput[1], ufs_throughput=throughput[2])


def test_hit_ratios_are_shares_of_the_bytes_read_in_the_window() -> None:
    before = sample(10 * GiB, 2 * GiB, 5 * GiB)
    after = sample(14 * GiB, 2 * GiB, 8 * GiB, throughput=(300, 100, 600))
    assert cachehit.ratios(before, after) == {
        "cacheHitRatio": "57.1%",   # (4 + 0) / (4 + 0 + 3)
        "localHitRatio": "57.1%",
        "remoteHitRatio": "0.0%",
        "localThroughputRatio": "30.0%",  # the latest per-minute throughputs
        "remoteThroughputRatio": "10.0%",
        "cacheThroughputRatio": "40.0%",
    }


def test_nothing_read_is_zero_percent() -> None:
    same = sample(GiB, GiB, GiB)
    assert set(cachehit.ratios(same, same).values()) == {"0.0%"}


def test_counters_restarted_by_a_new_primary_count_from_zero() -> None:
    before = sample(40 * GiB, 10 * GiB, 50 * GiB)
    after = sample(3 * GiB, 1 * GiB, 4 * GiB)  # a failover reset the cluster counters
    ratios = cachehit.ratios(before, after)
    assert (ratios["localHitRatio"], ratios["remoteHitRatio"], ratios["cacheHitRatio"]) == (
        "37.5%", "12.5%", "50.0%")


def test_percentage_rounds_like_printf() -> None:
    assert [cachehit.percentage(p, t) for p, t in ((1, 3), (2, 3), (1, 8), (5, 0), (7, 7))] == [
        "33.3%", "66.7%", "12.5%", "0.0%", "100.0%"]


def test_window_samples_at_most_once_per_window_and_reports_from_the_second() -> None:
    window = cachehit.HitRatioWindow(window_seconds=60)
    assert window.due(1000.0)
    assert window.record(sample(0, 0, 0), 1000.0) == {}  # one sample: nothing to compare yet
    assert not window.due(1059.9)
    assert window.due(1060.0)
    reported = window.record(sample(3 * GiB, GiB, 4 * GiB, throughput=(3, 1, 4)), 1060.0)
    assert reported["cacheHitRatio"] == "50.0%"
    assert reported["cacheThroughputRatio"] == "50.0%"
    assert window.current == reported
    assert not window.due(1100.0)
    assert sorted(reported) == sorted(cachehit.RATIO_KEYS)
