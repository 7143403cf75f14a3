"""GooseFS engine: UFS mounts through the master, cache report, bounded cache clean-up."""

from __future__ import annotations

from typing import Any

import pytest

from fluid.engines.base import (
    CommandFailed,
    EngineConfig,
    EngineDeps,
    ExecResult,
    MemoryView,
    RecordingExecutor,
    RuntimeKey,
    Snapshot,
)
from fluid.engines.goosefs import engine
from fluid.kube import resources

RUNTIME: dict[str, Any] = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "GooseFSRuntime",
                           "metadata": {"name": "hbase", "namespace": "db"},
                           "spec": {"replicas": 1, "cleanCachePolicy": {"maxRetryAttempts": 2}}}
DATASET: dict[str, Any] = {
    "apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
    "metadata": {"name": "hbase", "namespace": "db"},
    "spec": {"mounts": [
        {"mountPoint": "cosn://root/", "name": "root", "path": "/"},
        {"mountPoint": "cosn://other/x", "name": "other", "readOnly": True,
         "encryptOptions": [{"name": "fs.cosn.userSecretKey",
                             "valueFrom": {"secretKeyRef": {"name": "cos", "key": "sk"}}}]},
        {"mountPoint": "cosn://done/", "name": "done"},
        {"mountPoint": "pvc://claim", "name": "local"},
    ]},
}
MASTER = {"metadata": {"name": "hbase-master", "namespace": "db"}, "spec": {"replicas": 1},
          "status": {"readyReplicas": 1, "replicas": 1}}


def _engine(executor: RecordingExecutor) -> engine.GooseFSEngine:
    view = MemoryView([(resources.STATEFULSETS, MASTER)])
    deps = EngineDeps(client=None, view=view, ports=None,  # type: ignore[arg-type]
                      events=None, executor=executor, config=EngineConfig())
    return engine.GooseFSEngine(deps, RuntimeKey("GooseFSRuntime", "db", "hbase"))


async def test_prepare_ufs_mounts_only_what_is_missing() -> None:
    executor = RecordingExecutor({("goosefs", "fs", "mount"): "cosn://root/ on / (cosn)\n"
                                  "cosn://done/ on /done (cosn)\n"})

    await _engine(executor).prepare_ufs(Snapshot(runtime=RUNTIME, dataset=DATASET))

    assert executor.commands() == [
        ("goosefs", "fs", "mount"),
        ("sh", "-c", "goosefs fs mount --readonly "
                     "--option fs.cosn.userSecretKey=\"${FLUID_SECRET_1_0}\" /other cosn://other/x"),
    ]


async def test_usage_from_the_master() -> None:
    executor = RecordingExecutor({
        ("goosefs", "fs", "count"): "File Count Folder Count Total Bytes\n5 1 2048\n",
        ("goosefs", "fsadmin"): "Total Capacity: 1.00GB\nUsed Capacity: 1.00MB\n"})
    eng = _engine(executor)
    snap = Snapshot(runtime=RUNTIME, dataset=DATASET)

    ufs, cache = await eng.ufs_usage(snap), await eng.cache_usage(snap)

    assert ufs is not None
    assert cache is not None
    assert (ufs.file_count, ufs.total_bytes) == (5, 2048)
    assert (cache.capacity_bytes, cache.cached_bytes) == (2**30, 2**20)
    assert {c.container for c in executor.calls} == {"goosefs-master"}


async def test_clean_cache_gives_up_after_the_allowed_attempts() -> None:
    executor = RecordingExecutor({("goosefs", "fs", "free"): lambda c: ExecResult("", "down", 1)})
    eng = _engine(executor)
    snap = Snapshot(runtime=RUNTIME, dataset=DATASET)

    with pytest.raises(CommandFailed):
        await eng.clean_cache(snap)
    await eng.clean_cache(snap)  # second failure: abandoned, shutdown may proceed

    assert executor.commands() == [("goosefs", "fs", "free", "-f", "/")] * 2
