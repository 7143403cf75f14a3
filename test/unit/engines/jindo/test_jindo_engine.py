"""Jindo engine: names, ports and the exact commands run in the master."""

from __future__ import annotations

from typing import Any

from fluid.engines.base import EngineConfig, EngineDeps, MemoryView, RecordingExecutor, RuntimeKey, Snapshot
from fluid.engines.jindo import engine, ops

RUNTIME: dict[str, Any] = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "JindoRuntime",
                           "metadata": {"name": "hadoop", "namespace": "big"},
                           "spec": {"replicas": 1, "tieredstore": {"levels": [
                               {"mediumtype": "MEM", "path": "/dev/shm", "quota": "2Gi"}]}}}
DATASET: dict[str, Any] = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
                           "metadata": {"name": "hadoop", "namespace": "big"},
                           "spec": {"mounts": [
                               {"mountPoint": "oss://b/data", "name": "data",
                                "options": {"fs.oss.endpoint": "e"}},
                               {"mountPoint": "pvc://claim", "name": "local"}]}}
REPORT = ("Namespace Address: hadoop-jindofs-master-0.big:8101\n"
          "Total MEM Capacity: 2.00GB\nUsed MEM Capacity: 512.00MB\n"
          "Total Disk Capacity: 0B\nUsed Disk Capacity: 0B\n")


def _engine(executor: RecordingExecutor) -> engine.JindoEngine:
    deps = EngineDeps(client=None, view=MemoryView(), ports=None,  # type: ignore[arg-type]
                      events=None, executor=executor, config=EngineConfig())
    return engine.JindoEngine(deps, RuntimeKey("JindoRuntime", "big", "hadoop"))


def test_names_and_ports() -> None:
    eng = _engine(RecordingExecutor())

    assert (eng.master_name, eng.worker_name, eng.fuse_name, eng.values_name) == (
        "hadoop-jindofs-master", "hadoop-jindofs-worker", "hadoop-jindofs-fuse",
        "hadoop-jindocache-values")
    assert eng.fluid_path() == "/runtime-mnt/jindo/big/hadoop/jindofs-fuse"
    assert eng.port_names(Snapshot(runtime=RUNTIME, dataset=DATASET)) == ["master-rpc", "worker-rpc"]


async def test_cache_report_and_ufs_count() -> None:
    executor = RecordingExecutor({("jindocache", "-report"): REPORT,
                                  ("jindo", "fs", "-count"): "3 120 98765 oss://b/data\n"})
    eng = _engine(executor)
    snap = Snapshot(runtime=RUNTIME, dataset=DATASET)

    usage = await eng.cache_usage(snap)
    ufs = await eng.ufs_usage(snap)

    assert usage is not None
    assert ufs is not None
    assert (usage.capacity_bytes, usage.cached_bytes) == (2 * 2**30, 512 * 2**20)
    assert (ufs.total_bytes, ufs.file_count) == (98765, 120)
    assert [(c.pod, c.container, c.command) for c in executor.calls] == [
        ("hadoop-jindofs-master-0", "jindofs-master", ("jindocache", "-report")),
        ("hadoop-jindofs-master-0", "jindofs-master", ("jindo", "fs", "-count", "oss://b/data")),
    ]


async def test_mount_change_refreshes_cachesets() -> None:
    executor = RecordingExecutor()

    await _engine(executor).update_mounts(Snapshot(runtime=RUNTIME, dataset=DATASET),
                                          added=[], removed=[])

    assert executor.commands() == [("jindocache", "-refreshCacheSet", "-path", "/cacheset.xml")]


def test_human_sizes() -> None:
    assert ops.parse_human_size("1.5GB") == int(1.5 * 2**30)
    assert ops.parse_human_size("0B") == 0
    assert ops.parse_report(REPORT, memory=False) == ops.CacheReport(0, 0)
