"""Alluxio master commands: exact argv, output parsing, failures and redaction."""

from __future__ import annotations

import pytest

from fluid.engines.alluxio import ops
from fluid.engines.alluxio.fake import FakeAlluxioMaster, format_size
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
    await alluxio.free("/", timeout_seconds=60)
    assert {(c.namespace, c.pod, c.container) for c in executor.calls} == {
        ("ns", "demo-master-0", "alluxio-master")}
    assert executor.commands() == [
        ("alluxio", "fs", "mount"),
        ("alluxio", "fs", "mount", "/a", "https://x/a"),
        ("alluxio", "fs", "mount"),
        ("alluxio", "fs", "count", "/"),
        ("alluxio", "fsadmin", "report", "summary"),
        ("timeout", "60", "alluxio", "fs", "free", "-f", "/"),
    ]


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


def test_fake_sizes_read_back() -> None:
    assert format_size(20 * 2**30) == "20.00GB"
    assert ops.parse_size(format_size(123 * 2**20)) == 123 * 2**20
