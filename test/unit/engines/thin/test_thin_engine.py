"""Thin engine decisions and calls into FUSE pods, with a RecordingExecutor at the exec boundary."""

from __future__ import annotations

from typing import Any

import pytest

from fluid.engines.base import (
    EngineConfig,
    EngineDeps,
    MemoryView,
    RecordingExecutor,
    RuntimeKey,
    Snapshot,
    ValidationFailed,
)
from fluid.engines.thin import engine
from fluid.kube import resources

TARGET = "/runtime-mnt/thin/team/nfs-data/thin-fuse"
RUNTIME = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "ThinRuntime",
           "metadata": {"name": "nfs-data", "namespace": "team"}, "spec": {"profileName": "nfs"}}
DATASET = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
           "metadata": {"name": "nfs-data", "namespace": "team"},
           "spec": {"mounts": [{"mountPoint": "nfs://server:/data", "name": "data"}]}}


def _fuse_pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "team", "labels": {
        "app.kubernetes.io/name": "thin", "app.kubernetes.io/instance": "nfs-data",
        "app.kubernetes.io/component": "fuse"}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def _engine(executor: RecordingExecutor, objects: list[tuple[Any, dict[str, Any]]]
            ) -> engine.ThinEngine:
    deps = EngineDeps(client=None, view=MemoryView(objects), ports=None,  # type: ignore[arg-type]
                      events=None, executor=executor, config=EngineConfig())
    return engine.ThinEngine(deps, RuntimeKey("ThinRuntime", "team", "nfs-data"))


@pytest.mark.parametrize(("runtime_spec", "mounts", "match"), [
    ({}, [{"mountPoint": "nfs://s:/d", "name": "d"}], "profileName"),
    ({"profileName": "nfs"}, [{"mountPoint": "dataset://ns/other", "name": "d"}], "dataset://"),
    ({"profileName": "nfs"}, [{"mountPoint": "pvc://a", "name": "a"},
                              {"mountPoint": "pvc://b", "name": "b"}], "at most one"),
])
def test_validate(runtime_spec: dict[str, Any], mounts: list[dict[str, Any]], match: str) -> None:
    snap = Snapshot(runtime={**RUNTIME, "spec": runtime_spec},
                    dataset={**DATASET, "spec": {"mounts": mounts}})

    with pytest.raises(ValidationFailed, match=match):
        _engine(RecordingExecutor(), []).validate(snap)


def test_without_worker_the_workers_are_ready_and_not_counted() -> None:
    eng = _engine(RecordingExecutor(), [])
    snap = Snapshot(runtime=RUNTIME, dataset=DATASET)

    assert eng.workers_ready(snap)
    status = eng.component_status(snap)
    assert status["workerPhase"] == "Ready"
    assert status["desiredWorkerNumberScheduled"] == 0

    enabled = Snapshot(runtime={**RUNTIME, "spec": {"profileName": "nfs", "replicas": 2,
                                                    "worker": {"enabled": True}}}, dataset=DATASET)
    assert not eng.workers_ready(enabled)
    assert eng.component_status(enabled)["desiredWorkerNumberScheduled"] == 2


async def test_ufs_usage_in_the_fuse_container() -> None:
    df = f"Filesystem 1B-blocks Used Available Use% Mounted on\nserver:/data 1000 300 700 30% {TARGET}\n"
    executor = RecordingExecutor({("df",): df, ("bash", "-c"): "7\n"})
    eng = _engine(executor, [(resources.PODS, _fuse_pod("nfs-data-fuse-abcde"))])

    usage = await eng.ufs_usage(Snapshot(runtime=RUNTIME, dataset=DATASET))

    assert usage is not None
    assert (usage.total_bytes, usage.file_count) == (300, 7)
    assert [(c.pod, c.container, c.command) for c in executor.calls] == [
        ("nfs-data-fuse-abcde", "thin-fuse", ("df", "--block-size=1")),
        ("nfs-data-fuse-abcde", "thin-fuse", ("bash", "-c", f"ls -lR {TARGET} |grep ^- |wc -l")),
    ]


async def test_no_fuse_pod_means_no_usage() -> None:
    executor = RecordingExecutor()
    assert await _engine(executor, []).ufs_usage(Snapshot(runtime=RUNTIME, dataset=DATASET)) is None
    assert executor.calls == []
