"""The Alluxio engine's hooks, with the master behind a RecordingExecutor and no cluster."""

from __future__ import annotations

from typing import Any

import pytest

from fluid.engines import base
from fluid.engines.alluxio.fake import Reads
from fluid.kube import resources

HBASE = "https://mirrors.tuna.tsinghua.edu.cn/apache/hbase/stable/"
SPARK = "https://mirrors.bit.edu.cn/apache/spark/"


async def test_https_mount_is_mounted_once_and_pvc_never(harness: Any, make_snapshot: Any) -> None:
    engine = harness.engine()
    snap = make_snapshot(mounts=[{"mountPoint": HBASE, "name": "hbase"},
                                 {"mountPoint": "pvc://claim", "name": "p"},
                                 {"mountPoint": "local:///data", "name": "l"}])
    await engine.prepare_ufs(snap)
    await engine.prepare_ufs(snap)
    assert harness.executor.commands() == [
        ("alluxio", "fs", "mount"),
        ("alluxio", "fs", "mount", "/hbase", HBASE),
        ("alluxio", "fs", "mount"),
    ]


async def test_native_or_root_mounts_need_no_command(harness: Any, make_snapshot: Any) -> None:
    engine = harness.engine()
    await engine.prepare_ufs(make_snapshot(mounts=[{"mountPoint": "pvc://fluid-pvc", "name": "d",
                                                    "path": "/"}]))
    await engine.prepare_ufs(make_snapshot(mounts=[{"mountPoint": SPARK, "name": "s", "path": "/"}]))
    assert harness.executor.commands() == []


async def test_mount_options_merge_shared_then_mount_options(harness: Any, make_snapshot: Any) -> None:
    engine = harness.engine()
    snap = make_snapshot(
        mounts=[{"mountPoint": "s3://bucket/", "name": "b", "readOnly": True,
                 "options": {"aws.region": "eu", "k": "mount"}}],
        dataset_spec={"sharedOptions": {"k": "shared", "alluxio.underfs.s3.endpoint": "e"}})
    await engine.prepare_ufs(snap)
    assert harness.executor.commands()[-1] == (
        "alluxio", "fs", "mount", "--readonly", "--option", "alluxio.underfs.s3.endpoint=e",
        "--option", "aws.region=eu", "--option", "k=mount", "/b", "s3://bucket/")


async def test_update_mounts_mounts_added_and_unmounts_removed(harness: Any, make_snapshot: Any) -> None:
    engine = harness.engine()
    hbase = {"mountPoint": HBASE, "name": "hbase"}
    spark = {"mountPoint": SPARK, "name": "spark"}
    await engine.prepare_ufs(make_snapshot(mounts=[hbase]))
    snap = make_snapshot(mounts=[hbase, spark])
    await engine.update_mounts(snap, added=[spark], removed=[])
    await engine.update_mounts(snap, added=[], removed=[hbase, {"mountPoint": "pvc://x", "name": "x"}])
    commands = harness.executor.commands()
    assert ("alluxio", "fs", "mount", "/spark", SPARK) in commands
    assert commands[-1] == ("alluxio", "fs", "unmount", "/hbase")
    assert not any(c[:3] == ("alluxio", "fs", "unmount") and c[3] == "/x" for c in commands)


async def test_usage_and_cache_report(harness: Any, make_snapshot: Any) -> None:
    engine = harness.engine()
    usage = await engine.ufs_usage(make_snapshot())
    assert usage == base.UfsUsage(total_bytes=3 * 2**30, file_count=7)
    assert harness.executor.commands() == [("alluxio", "fs", "loadMetadata", "-R", "/"),
                                           ("alluxio", "fs", "count", "/")]
    cache = await engine.cache_usage(make_snapshot())
    assert cache == base.CacheUsage(capacity_bytes=2**31, cached_bytes=2**30)
    assert base.cache_states(cache, "4.00GiB") == {
        "cacheCapacity": "2.00GiB", "cached": "1.00GiB", "cachedPercentage": "25.0%"}
    assert "cachedPercentage" not in base.cache_states(cache, base.CALCULATING)


def test_validate_refuses_malformed_specs(harness: Any, make_snapshot: Any) -> None:
    engine = harness.engine()
    engine.validate(make_snapshot())
    with pytest.raises(base.ValidationFailed, match=r"spec\.replicas"):
        engine.validate(make_snapshot(spec={"replicas": "two"}))
    with pytest.raises(base.ValidationFailed, match="quota"):
        engine.validate(make_snapshot(spec={"tieredstore": {"levels": [
            {"mediumtype": "MEM", "path": "/dev/shm"}]}}))


async def test_ports_only_for_host_network(harness: Any, make_snapshot: Any) -> None:
    engine = harness.engine()
    assert len(engine.port_names(make_snapshot())) == 9
    container = make_snapshot(spec={"master": {"networkMode": "ContainerNetwork"},
                                    "worker": {"networkMode": "ContainerNetwork"}})
    assert engine.port_names(container) == []
    ctx = await engine.context(make_snapshot())
    assert len(ctx.ports) == 9
    assert harness.ports.held_by("AlluxioRuntime/default/hbase") == ctx.ports


def test_pv_and_pvc_rendering(harness: Any, make_snapshot: Any) -> None:
    engine = harness.engine(name="demo")
    snap = make_snapshot(name="demo", dataset_spec={"accessModes": ["ReadWriteMany"]})
    pv = engine.render_pv(snap)
    assert pv["metadata"] == {"name": "default-demo",
                              "labels": {"fluid.io/s-default-demo": "true",
                                         "fluid.io/dataset-id": "default-demo"},
                              "annotations": {"CreatedBy": "fluid"}}
    assert pv["spec"]["csi"] == {"driver": "fuse.csi.fluid.io", "volumeHandle": "default-demo",
                                 "volumeAttributes": {
                                     "fluid_path": "/runtime-mnt/alluxio/default/demo/alluxio-fuse",
                                     "mount_type": "fuse.alluxio-fuse",
                                     "runtime_name": "demo", "runtime_namespace": "default",
                                     "mount_pod_node_selector_key": "fluid.io/f-default-demo",
                                     "mount_pod_node_selector_value": "true"}}
    assert pv["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pv["spec"]["capacity"] == {"storage": "100Pi"}
    pvc = engine.render_pvc(snap)
    assert pvc["spec"]["volumeName"] == "default-demo"
    assert pvc["metadata"]["namespace"] == "default"
    assert engine.render_pvc(make_snapshot(name="demo"))["spec"]["accessModes"] == ["ReadOnlyMany"]


async def test_clean_cache_retries_then_gives_up(harness: Any, make_snapshot: Any) -> None:
    harness.executor.responders[("timeout",)] = lambda call: base.ExecResult("", "busy", 1)
    harness.view.add(resources.STATEFULSETS, {
        "metadata": {"name": "hbase-master", "namespace": "default"},
        "spec": {"replicas": 1}, "status": {"readyReplicas": 1}})
    engine = harness.engine()
    snap = make_snapshot(spec={"management": {"cleanCachePolicy": {"maxRetryAttempts": 2,
                                                                   "gracePeriodSeconds": 5}}})
    with pytest.raises(base.CommandFailed):
        await engine.clean_cache(snap)
    await engine.clean_cache(snap)  # second failure: the limit is reached, shutdown goes on
    await engine.clean_cache(snap)
    assert harness.executor.commands() == [("timeout", "5", "alluxio", "fs", "free", "-f", "/")] * 2


def masters(harness: Any, *, desired: int, ready: set[int]) -> None:
    """The master StatefulSet and its pods in the engine's cache; ``ready`` by ordinal."""
    harness.view.objects.clear()
    harness.view.add(resources.STATEFULSETS, {
        "metadata": {"name": "hbase-master", "namespace": "default"},
        "spec": {"replicas": desired},
        "status": {"replicas": desired, "currentReplicas": desired, "readyReplicas": len(ready)}})
    for index in range(desired):
        harness.view.add(resources.PODS, {
            "metadata": {"name": f"hbase-master-{index}", "namespace": "default"},
            "status": {"conditions": [{"type": "Ready",
                                       "status": "True" if index in ready else "False"}]}})


@pytest.mark.parametrize("replicas", [2, 4])
def test_even_master_counts_are_refused(harness: Any, make_snapshot: Any, replicas: int) -> None:
    with pytest.raises(base.ValidationFailed,
                       match=rf"spec\.master\.replicas: {replicas} masters .* odd number"):
        harness.engine().validate(make_snapshot(spec={"master": {"replicas": replicas}}))
    for fine in (1, 3, 5):
        harness.engine().validate(make_snapshot(spec={"master": {"replicas": fine}}))


async def test_every_master_must_be_ready_and_commands_go_to_a_ready_one(
    harness: Any, make_snapshot: Any
) -> None:
    engine = harness.engine()
    assert not engine.master_ready()  # no StatefulSet yet
    assert engine.exec_pod() == "hbase-master-0"
    masters(harness, desired=3, ready={1, 2})
    assert not engine.master_ready()
    status = engine.component_status(make_snapshot(spec={"master": {"replicas": 3}}))
    assert (status["masterPhase"], status["desiredMasterNumberScheduled"],
            status["currentMasterNumberScheduled"], status["masterNumberReady"]) == (
        "PartialReady", 3, 3, 2)
    assert engine.exec_pod() == "hbase-master-1"  # master-0 is down; the CLI finds the primary
    await engine.prepare_ufs(make_snapshot())
    assert [c.pod for c in harness.executor.calls] == ["hbase-master-1", "hbase-master-1"]
    masters(harness, desired=3, ready={0, 1, 2})
    assert engine.master_ready()
    assert engine.exec_pod() == "hbase-master-0"
    status = engine.component_status(make_snapshot(spec={"master": {"replicas": 3}}))
    assert (status["masterPhase"], status["masterNumberReady"]) == ("Ready", 3)


async def test_cache_report_carries_hit_ratios_from_the_second_sample(
    harness: Any, make_snapshot: Any
) -> None:
    engine = harness.engine(hit_ratio_window=0.0)
    snap = make_snapshot()
    first = await engine.cache_usage(snap)
    assert first.ratios == {}
    assert set(base.cache_states(first, "4.00GiB")) == {"cacheCapacity", "cached", "cachedPercentage"}
    harness.master.read(Reads(local=4 * 2**30, remote=0, ufs=3 * 2**30))
    harness.master.workload = Reads(local=2**20, remote=2**20, ufs=2 * 2**20)
    second = await engine.cache_usage(snap)
    # Counters: 4GiB + 1MiB local, 1MiB remote, 3GiB + 2MiB from the UFS since the first sample.
    assert base.cache_states(second, "4.00GiB") == {
        "cacheCapacity": "2.00GiB", "cached": "1.00GiB", "cachedPercentage": "25.0%",
        "cacheHitRatio": "57.1%", "localHitRatio": "57.1%", "remoteHitRatio": "0.0%",
        "localThroughputRatio": "25.0%", "remoteThroughputRatio": "25.0%",
        "cacheThroughputRatio": "50.0%"}
    assert harness.executor.commands().count(("alluxio", "fsadmin", "report", "metrics")) == 2


async def test_metrics_are_sampled_once_per_window_and_failures_keep_the_last_ratios(
    harness: Any, make_snapshot: Any
) -> None:
    engine = harness.engine(hit_ratio_window=0.0)
    snap = make_snapshot()
    await engine.cache_usage(snap)
    harness.master.workload = Reads(local=2**30, remote=2**30, ufs=2 * 2**30)
    assert (await engine.cache_usage(snap)).ratios["cacheHitRatio"] == "50.0%"
    harness.executor.responders[("alluxio", "fsadmin", "report", "metrics")] = (
        lambda call: base.ExecResult("", "UNAVAILABLE: no primary", 1))
    failed = await engine.cache_usage(snap)
    assert (failed.capacity_bytes, failed.ratios["cacheHitRatio"]) == (2**31, "50.0%")
    harness.executor.responders.update(harness.master.responders())
    slow = harness.engine(hit_ratio_window=3600.0)
    await slow.cache_usage(snap)
    await slow.cache_usage(snap)
    assert harness.executor.commands().count(("alluxio", "fsadmin", "report", "metrics")) == 4


async def test_clean_cache_needs_a_quorum_of_masters(harness: Any, make_snapshot: Any) -> None:
    masters(harness, desired=3, ready={2})
    engine = harness.engine()
    await engine.clean_cache(make_snapshot())
    assert harness.executor.commands() == []  # one of three masters: no primary to ask
    masters(harness, desired=3, ready={1, 2})
    await engine.clean_cache(make_snapshot())
    assert [(c.pod, c.command[-3:]) for c in harness.executor.calls] == [
        ("hbase-master-1", ("free", "-f", "/"))]
