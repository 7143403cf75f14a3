"""Alluxio master commands: exact argv, output parsing, failures and redaction."""

from __future__ import annotations

import pytest

from fluid.engines.alluxio import ops
from fluid.engines.alluxio.fake import FakeAlluxioMaster, Reads, format_size
from fluid.engines.base import CommandFailed, ExecResult, RecordingExecutor

COUNT = """File Count               Folder Count             Folder Size
1152                     4                        154262709011
"""
SUMMARY = """Alluxio cluster summary:
    Master Address: demo-master-0:19998
    Total Capacity: 20.00GB
        Tier: MEM  Size: 20.00GB
    Used Capacity: 3.31GB
        Tier: MEM  Size: 3.31GB
    Free Capacity: 16.69GB
"""
METRICS = """Cluster.ActiveRpcReadCount  (Type: COUNTER, Value: 0)
Cluster.BytesReadDomain  (Type: COUNTER, Value: 0B)
Cluster.BytesReadDomainThroughput  (Type: GAUGE, Value: 0B/MIN)
Cluster.BytesReadLocal  (Type: COUNTER, Value: 19.37MB)
Cluster.BytesReadLocalThroughput  (Type: GAUGE, Value: 495.97KB/MIN)
Cluster.BytesReadPerUfs.UFS:s3:%2F%2Ffluid  (Type: COUNTER, Value: 30.75MB)
Cluster.BytesReadRemote  (Type: COUNTER, Value: 4145.73KB)
Cluster.BytesReadRemoteThroughput  (Type: GAUGE, Value: 0B/MIN)
Cluster.BytesReadUfsAll  (Type: COUNTER, Value: 30.75MB)
Cluster.BytesReadUfsThroughput  (Type: GAUGE, Value: 787.17KB/MIN)
Cluster.BytesWrittenLocal  (Type: COUNTER, Value: 0B)
Cluster.BytesWrittenUfsAll  (Type: COUNTER, Value: 0B)
Cluster.CapacityFree  (Type: GAUGE, Value: 9,842,601)
Cluster.CapacityTotal  (Type: GAUGE, Value: 20,000,000)
Cluster.CapacityUsed  (Type: GAUGE, Value: 10,157,399)
Cluster.RootUfsCapacityFree  (Type: GAUGE, Value: -1)
Cluster.Workers  (Type: GAUGE, Value: 1)
Master.FilesCompleted  (Type: COUNTER, Value: 7)
Master.GetStatusFailures.User:root.UFS:s3:%2F%2Ffluid.UFS_TYPE:s3  (Type: COUNTER, Value: 2)
Master.getMetrics.User:root  (Type: TIMER, Value: 4)
"""
MOUNTS = """https://x.org/hbase/  on  /hbase  (web, capacity=-1B, used=-1B, read-only, not shared)
/underFSStorage  on  /  (local, capacity=100GB, used=1GB, not read-only, not shared, properties={})
"""


def test_parsers() -> None:
    assert ops.parse_count(COUNT) == ops.CountResult(1152, 4, 154262709011)
    summary = ops.parse_report_summary(SUMMARY)
    assert summary.capacity_bytes == 20 * 2**30
    assert summary.used_bytes == int(3.31 * 2**30)
    assert ops.parse_mount_table(MOUNTS) == ["/hbase", "/"]
    assert ops.parse_size("0B") == 0
    assert ops.parse_size("1.5 MB") == 1536 * 1024
    with pytest.raises(ValueError, match="fs count"):
        ops.parse_count("nonsense")
    with pytest.raises(ValueError, match="no capacity"):
        ops.parse_report_summary("Master Address: x")


def test_report_metrics_reads_the_cluster_read_counters_and_throughputs() -> None:
    assert ops.parse_report_metrics(METRICS) == ops.ReadMetrics(
        local=int(19.37 * 2**20), remote=int(4145.73 * 2**10), ufs=int(30.75 * 2**20),
        local_throughput=int(495.97 * 2**10), remote_throughput=0,
        ufs_throughput=int(787.17 * 2**10))


def test_report_metrics_tolerates_types_indentation_and_missing_lines() -> None:
    # Alluxio's own test prints unset metric types as GAUGE; some tools indent the lines.
    text = ("\tCluster.BytesReadLocal  (Type: GAUGE, Value: 11.47GB)\n"
            "\tCluster.BytesReadUfsThroughput  (Type: GAUGE, Value: 1202.37KB/MIN)\n")
    assert ops.parse_report_metrics(text) == ops.ReadMetrics(
        local=int(11.47 * 2**30), ufs_throughput=int(1202.37 * 2**10))
    with pytest.raises(ValueError, match=r"no Cluster\.BytesRead metrics"):
        ops.parse_report_metrics("Master.FilesCompleted  (Type: COUNTER, Value: 7)\n")
    with pytest.raises(ValueError, match="not a size"):
        ops.parse_report_metrics("Cluster.BytesReadLocal  (Type: COUNTER, Value: lots)\n")


async def test_fake_master_reports_what_its_clients_read() -> None:
    master = FakeAlluxioMaster(capacity_bytes=20 * 2**30)
    alluxio = ops.ExecAlluxioOps(master.executor(), namespace="ns", name="demo")
    master.read(Reads(local=3 * 2**20, remote=0, ufs=6 * 2**20))
    master.workload = Reads(local=4 * 2**30, remote=2**30, ufs=0)
    assert await alluxio.report_metrics() == ops.ReadMetrics(
        local=4 * 2**30 + 3 * 2**20, remote=2**30, ufs=6 * 2**20,
        local_throughput=4 * 2**30, remote_throughput=2**30)
    second = await alluxio.report_metrics()  # the steady workload read once more
    # 8195MB is past 5120MB, so Alluxio prints it as 8.00GB: the 3MB drop out, as they would.
    assert (second.local, second.remote, second.ufs) == (8 * 2**30, 2 * 2**30, 6 * 2**20)


def test_mount_command_is_exact() -> None:
    assert ops.mount_command("/spark", "s3://b/spark", options={"b": "2", "a": "1"},
                             read_only=True, shared=True) == [
        "alluxio", "fs", "mount", "--readonly", "--shared", "--option", "a=1", "--option", "b=2",
        "/spark", "s3://b/spark"]
    assert ops.mount_command("/x", "http://h/", options={}, read_only=False, shared=False) == [
        "alluxio", "fs", "mount", "/x", "http://h/"]


async def test_exec_ops_target_the_master_container_and_parse() -> None:
    master = FakeAlluxioMaster(ufs_bytes=1000, files=3, capacity_bytes=2**30, used_bytes=2**20)
    executor = master.executor()
    alluxio = ops.ExecAlluxioOps(executor, namespace="ns", name="demo")
    assert await alluxio.mounted_paths() == []
    await alluxio.mount("/a", "https://x/a", options={}, read_only=False, shared=False)
    assert await alluxio.mounted_paths() == ["/a"]
    assert await alluxio.count("/") == ops.CountResult(3, 1, 1000)
    assert await alluxio.report_summary() == ops.ReportSummary(2**30, 2**20)
    assert await alluxio.report_metrics() == ops.ReadMetrics()
    await alluxio.free("/", timeout_seconds=60)
    assert {(c.namespace, c.pod, c.container) for c in executor.calls} == {
        ("ns", "demo-master-0", "alluxio-master")}
    assert executor.commands() == [
        ("alluxio", "fs", "mount"),
        ("alluxio", "fs", "mount", "/a", "https://x/a"),
        ("alluxio", "fs", "mount"),
        ("alluxio", "fs", "count", "/"),
        ("alluxio", "fsadmin", "report", "summary"),
        ("alluxio", "fsadmin", "report", "metrics"),
        ("timeout", "60", "alluxio", "fs", "free", "-f", "/"),
    ]


async def test_exec_ops_ask_for_the_pod_at_each_call() -> None:
    executor = FakeAlluxioMaster().executor()
    pods = iter(["demo-master-1", "demo-master-2"])
    alluxio = ops.ExecAlluxioOps(executor, namespace="ns", name="demo", pod=lambda: next(pods))
    await alluxio.mounted_paths()
    await alluxio.report_summary()
    assert [c.pod for c in executor.calls] == ["demo-master-1", "demo-master-2"]


async def test_failures_raise_command_failed_without_option_values() -> None:
    executor = RecordingExecutor({("alluxio", "fs", "mount"): lambda call: ExecResult(
        "", "denied", 1)})
    alluxio = ops.ExecAlluxioOps(executor, namespace="ns", name="demo")
    with pytest.raises(CommandFailed) as failure:
        await alluxio.mount("/a", "s3://b", options={"fs.s3a.secret.key": "TOPSECRET"},
                            read_only=False, shared=False)
    assert "TOPSECRET" not in str(failure.value)
    assert "fs.s3a.secret.key=***" in str(failure.value)
    assert "denied" in str(failure.value)


async def test_timeouts_raise_command_failed_without_option_values() -> None:
    def hang(_: object) -> ExecResult:
        raise TimeoutError
    executor = RecordingExecutor({("alluxio", "fs", "mount"): hang})
    alluxio = ops.ExecAlluxioOps(executor, namespace="ns", name="demo")
    with pytest.raises(CommandFailed) as failure:
        await alluxio.mount("/a", "s3://b", options={"fs.s3a.secret.key": "TOPSECRET"},
                            read_only=False, shared=False)
    assert "TOPSECRET" not in str(failure.value)
    assert "fs.s3a.secret.key=***" in str(failure.value)
    assert "timed out" in str(failure.value)


def test_fake_sizes_read_back() -> None:
    assert format_size(20 * 2**30) == "20.00GB"
    assert [format_size(n) for n in (0, 5120, 4245232, 1231231)] == [
        "0B", "5120B", "4145.73KB", "1202.37KB"]  # Alluxio's own examples
    assert ops.parse_size(format_size(123 * 2**20)) == 123 * 2**20
