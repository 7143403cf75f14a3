"""JuiceFS engine decisions and calls into pods, with a RecordingExecutor at the exec boundary."""

from __future__ import annotations

import copy
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
    ValidationFailed,
)
from fluid.engines.juicefs import engine, manifests
from fluid.kube import resources

MOUNT = "/runtime-mnt/juicefs/demo/jfsdemo/juicefs-fuse"
DF = (f"Filesystem 1B-blocks Used Available Use% Mounted on\n"
      f"overlay 100 50 50 50% /\n"
      f"JuiceFS:minio 1125899906842624 8589934592 1125891316908032 1% {MOUNT}\n")
STATS = ("juicefs_blockcache_bytes 1048576\njuicefs_blockcache_hits 30\n"
         "juicefs_blockcache_miss 10\njuicefs_uptime 12.5\n")


def _pod(name: str, ready: bool = True) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "demo", "labels": {
        "app.kubernetes.io/name": "juicefs", "app.kubernetes.io/instance": "jfsdemo",
        "app.kubernetes.io/component": "worker"}},
        "spec": {"nodeName": "n1"},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def _engine(executor: RecordingExecutor, pods: list[dict[str, Any]]) -> engine.JuiceFSEngine:
    view = MemoryView((resources.PODS, p) for p in pods)
    deps = EngineDeps(client=None, view=view, ports=None, events=None,  # type: ignore[arg-type]
                      executor=executor, config=EngineConfig(exec_timeout_seconds=7))
    return engine.JuiceFSEngine(deps, RuntimeKey("JuiceFSRuntime", "demo", "jfsdemo"),
                                images=manifests.Images())


def _snap(seed_runtime: dict[str, Any], seed_dataset: dict[str, Any]) -> Snapshot:
    return Snapshot(runtime=seed_runtime, dataset=seed_dataset)


async def test_ufs_usage_runs_df_and_ls_in_the_first_ready_worker(
        seed_runtime: dict[str, Any], seed_dataset: dict[str, Any]) -> None:
    executor = RecordingExecutor({("df",): DF, ("bash", "-c"): "42\n"})
    eng = _engine(executor, [_pod("jfsdemo-worker-1"), _pod("jfsdemo-worker-0", ready=False)])

    usage = await eng.ufs_usage(_snap(seed_runtime, seed_dataset))

    assert usage is not None
    assert (usage.total_bytes, usage.file_count) == (8589934592, 42)
    assert [(c.pod, c.container, c.command) for c in executor.calls] == [
        ("jfsdemo-worker-1", "juicefs-worker", ("df", "--block-size=1")),
        ("jfsdemo-worker-1", "juicefs-worker",
         ("bash", "-c", f"ls -lR {MOUNT} |grep ^- |wc -l")),
    ]


async def test_cache_usage_sums_worker_stats(seed_runtime: dict[str, Any],
                                             seed_dataset: dict[str, Any]) -> None:
    executor = RecordingExecutor({("cat",): STATS})
    eng = _engine(executor, [_pod("jfsdemo-worker-0"), _pod("jfsdemo-worker-1")])

    usage = await eng.cache_usage(_snap(seed_runtime, seed_dataset))

    assert usage is not None
    assert usage.cached_bytes == 2 * 1048576
    assert usage.capacity_bytes == 2 * 4 * 2**30
    assert usage.hit_ratio == "75.0%"
    assert executor.commands() == [("cat", f"{MOUNT}/.stats")] * 2


async def test_no_ready_worker_means_no_usage(seed_runtime: dict[str, Any],
                                              seed_dataset: dict[str, Any]) -> None:
    executor = RecordingExecutor()
    eng = _engine(executor, [_pod("jfsdemo-worker-0", ready=False)])

    assert await eng.ufs_usage(_snap(seed_runtime, seed_dataset)) is None
    assert executor.calls == []


async def test_failed_command_raises(seed_runtime: dict[str, Any],
                                     seed_dataset: dict[str, Any]) -> None:
    executor = RecordingExecutor({("df",): lambda call: ExecResult("", "boom", 1)})
    eng = _engine(executor, [_pod("jfsdemo-worker-0")])

    with pytest.raises(CommandFailed, match="boom"):
        await eng.ufs_usage(_snap(seed_runtime, seed_dataset))


def test_port_names_only_for_community_host_network(seed_runtime: dict[str, Any],
                                                    seed_dataset: dict[str, Any]) -> None:
    eng = _engine(RecordingExecutor(), [])
    assert eng.port_names(_snap(seed_runtime, seed_dataset)) == ["worker-metrics", "fuse-metrics"]

    runtime = copy.deepcopy(seed_runtime)
    runtime["spec"]["worker"] = {"networkMode": "ContainerNetwork"}
    assert eng.port_names(_snap(runtime, seed_dataset)) == ["fuse-metrics"]

    enterprise = copy.deepcopy(seed_dataset)
    enterprise["spec"]["mounts"][0]["encryptOptions"] = []
    assert eng.port_names(_snap(seed_runtime, enterprise)) == []


def test_validate_names_the_mistake(seed_runtime: dict[str, Any],
                                    seed_dataset: dict[str, Any]) -> None:
    eng = _engine(RecordingExecutor(), [])
    eng.validate(_snap(seed_runtime, seed_dataset))

    bad = copy.deepcopy(seed_dataset)
    bad["spec"]["mounts"][0]["mountPoint"] = "oss://bucket/"
    with pytest.raises(ValidationFailed, match="juicefs:///"):
        eng.validate(_snap(seed_runtime, bad))

    two = copy.deepcopy(seed_dataset)
    two["spec"]["mounts"].append(copy.deepcopy(two["spec"]["mounts"][0]))
    with pytest.raises(ValidationFailed, match="exactly one"):
        eng.validate(_snap(seed_runtime, two))


def test_images_from_the_operator_settings() -> None:
    images = engine.images_from(EngineConfig(images={"JUICEFS_CE_IMAGE_ENV": "registry.local/jfs:ce-1"}))
    assert images.community == "registry.local/jfs:ce-1"
    assert images.enterprise == manifests.Images().enterprise
