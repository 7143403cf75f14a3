"""EFC engine: worker endpoints from ready pods, host-path cache removal at shutdown."""

from __future__ import annotations

from typing import Any

import pytest

from fluid.engines.base import (
    CommandFailed,
    EngineConfig,
    EngineDeps,
    MemoryView,
    RecordingExecutor,
    RuntimeKey,
    Snapshot,
    ValidationFailed,
)
from fluid.engines.efc import engine
from fluid.engines.efc.fake import FakeEFCWorkers
from fluid.kube import resources

Obj = dict[str, Any]
NAS = "nfs://0a1b2c3d4e-xyz12.cn-zhangjiakou.nas.aliyuncs.com:/sub/path"
DATASET: Obj = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
                "metadata": {"name": "nas", "namespace": "ml"},
                "spec": {"mounts": [{"mountPoint": NAS, "name": "nas"}]}}


def _runtime(volume_type: str) -> Obj:
    return {"apiVersion": "data.fluid.io/v1alpha1", "kind": "EFCRuntime",
            "metadata": {"name": "nas", "namespace": "ml"},
            "spec": {"replicas": 2, "cleanCachePolicy": {"maxRetryAttempts": 2},
                     "tieredstore": {"levels": [{"mediumtype": "SSD", "volumeType": volume_type,
                                                 "path": "/mnt/ssd", "quota": "10Gi"}]}}}


def _worker_pod(index: int, *, ready: bool) -> Obj:
    return {
        "metadata": {"name": f"nas-worker-{index}", "namespace": "ml",
                     "labels": {"app.kubernetes.io/name": "efc", "app.kubernetes.io/instance": "nas",
                                "app.kubernetes.io/component": "worker"}},
        "spec": {"nodeName": f"node-{index}", "containers": [{"name": "efc-worker"}]},
        "status": {"podIP": f"10.0.0.{index}",
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def _engine(executor: RecordingExecutor) -> engine.EFCEngine:
    view = MemoryView([(resources.PODS, _worker_pod(0, ready=True)),
                       (resources.PODS, _worker_pod(1, ready=True)),
                       (resources.PODS, _worker_pod(2, ready=False))])
    deps = EngineDeps(client=None, view=view, ports=None,  # type: ignore[arg-type]
                      events=None, executor=executor, config=EngineConfig())
    return engine.EFCEngine(deps, RuntimeKey("EFCRuntime", "ml", "nas"))


def test_endpoints_are_the_ready_workers_rpc_addresses() -> None:
    assert _engine(RecordingExecutor()).worker_endpoints(21000) == [
        "10.0.0.0:21000", "10.0.0.1:21000"]


async def test_a_host_path_cache_is_removed_from_each_ready_worker() -> None:
    workers = FakeEFCWorkers(caches={f"nas-worker-{i}": {"/mnt/ssd/ml/nas/tier_dadi"}
                                     for i in range(3)})
    executor = workers.executor()

    await _engine(executor).clean_cache(Snapshot(runtime=_runtime("hostPath"), dataset=DATASET))

    assert [(c.pod, c.container, c.command) for c in executor.calls] == [
        (f"nas-worker-{i}", "efc-worker", ("rm", "-rf", "/mnt/ssd/ml/nas/tier_dadi"))
        for i in (0, 1)]
    assert workers.caches == {"nas-worker-0": set(), "nas-worker-1": set(),
                              "nas-worker-2": {"/mnt/ssd/ml/nas/tier_dadi"}}


async def test_an_empty_dir_cache_needs_no_command() -> None:
    executor = RecordingExecutor()
    await _engine(executor).clean_cache(Snapshot(runtime=_runtime("emptyDir"), dataset=DATASET))
    assert executor.calls == []


async def test_a_failing_worker_retries_then_is_given_up() -> None:
    workers = FakeEFCWorkers(failing={"nas-worker-0"})
    eng = _engine(workers.executor())
    snap = Snapshot(runtime=_runtime("hostPath"), dataset=DATASET)

    with pytest.raises(CommandFailed):
        await eng.clean_cache(snap)
    await eng.clean_cache(snap)  # second of maxRetryAttempts=2: shutdown goes on


def test_a_dataset_without_a_nas_mount_is_refused() -> None:
    dataset = {**DATASET, "spec": {"mounts": [{"mountPoint": "oss://bucket/x", "name": "x"}]}}
    with pytest.raises(ValidationFailed, match="mountPoint"):
        _engine(RecordingExecutor()).validate(Snapshot(runtime=_runtime("hostPath"), dataset=dataset))
