"""Shared engine steps in fluid.engines.base: phases, conditions, UFS volumes, status, labels."""

from __future__ import annotations

from typing import Any

from fluid.engines import base
from fluid.kube import resources


def test_component_phase_follows_upstream() -> None:
    assert base.component_phase(desired=0, ready=0) == "Ready"
    assert base.component_phase(desired=3, ready=3) == "Ready"
    assert base.component_phase(desired=3, ready=1) == "PartialReady"
    assert base.component_phase(desired=3, ready=0) == "NotReady"


def test_set_condition_changes_transition_time_only_on_status_change() -> None:
    conds = base.set_condition([], type_="Ready", status="True", reason="R", message="m")
    conds[0]["lastTransitionTime"] = first = "2020-01-01T00:00:00Z"
    same = base.set_condition(conds, type_="Ready", status="True", reason="R2", message="m2")
    assert same[0]["lastTransitionTime"] == first
    assert same[0]["reason"] == "R2"
    flipped = base.set_condition(same, type_="Ready", status="False", reason="R", message="m")
    assert flipped[0]["lastTransitionTime"] != first
    other = base.set_condition(same, type_="Updating", status="False", reason="x", message="y")
    assert [c["type"] for c in other] == ["Ready", "Updating"]


def test_mount_paths_in_the_dataset_namespace() -> None:
    assert base.mount_path_in_namespace({"name": "spark"}) == "/spark"
    assert base.mount_path_in_namespace({"name": "spark", "path": "/for"}) == "/for"
    assert base.mount_path_in_namespace({"name": "x", "path": "/"}) == "/"
    assert [u.container_path for u in base.ufs_mounts([
        {"mountPoint": "pvc://c", "name": "d", "path": "/"},
        {"mountPoint": "https://x/", "name": "web"},
        {"mountPoint": "local:///opt/d", "name": "l", "path": "/a/b"}])] == [
        "/underFSStorage", "/underFSStorage/a/b"]


def test_status_from_workloads(harness: Any, make_snapshot: Any) -> None:
    harness.view.add(resources.STATEFULSETS, {
        "metadata": {"name": "hbase-master", "namespace": "default"}, "spec": {"replicas": 1},
        "status": {"replicas": 1, "currentReplicas": 1, "readyReplicas": 1}})
    harness.view.add(resources.STATEFULSETS, {
        "metadata": {"name": "hbase-worker", "namespace": "default"}, "spec": {"replicas": 2},
        "status": {"replicas": 2, "currentReplicas": 2, "readyReplicas": 1}})
    status = harness.engine().component_status(make_snapshot())
    assert {k: status[k] for k in ("masterPhase", "workerPhase", "fusePhase",
                                   "desiredWorkerNumberScheduled", "currentWorkerNumberScheduled",
                                   "workerNumberReady", "valueFile")} == {
        "masterPhase": "Ready", "workerPhase": "PartialReady", "fusePhase": "Ready",
        "desiredWorkerNumberScheduled": 2, "currentWorkerNumberScheduled": 2,
        "workerNumberReady": 1, "valueFile": "hbase-alluxio-values"}
    assert status["selector"] == ("app.kubernetes.io/component=worker,"
                                  "app.kubernetes.io/instance=hbase,app.kubernetes.io/name=alluxio")


def test_worker_nodes_are_those_with_ready_workers(harness: Any) -> None:
    def pod(name: str, node: str, ready: str, deleting: bool = False) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "namespace": "default", "labels": {
            "app.kubernetes.io/name": "alluxio", "app.kubernetes.io/instance": "hbase",
            "app.kubernetes.io/component": "worker"}}
        if deleting:
            meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        return {"metadata": meta, "spec": {"nodeName": node},
                "status": {"conditions": [{"type": "Ready", "status": ready}]}}

    for obj in (pod("w0", "n0", "True"), pod("w1", "n1", "False"), pod("w2", "n2", "True", True)):
        harness.view.add(resources.PODS, obj)
    assert harness.engine().worker_nodes() == {"n0"}


def test_tiered_capacity_feeds_the_label_set(harness: Any, make_snapshot: Any) -> None:
    labels = harness.engine().label_set(make_snapshot())
    assert labels.capacity_labels == {"fluid.io/s-h-alluxio-m-default-hbase": "2GiB",
                                      "fluid.io/s-h-alluxio-t-default-hbase": "2GiB"}
    assert labels.exclusive_value == "default_hbase"
    shared = harness.engine().label_set(make_snapshot(dataset_spec={"placement": "Shared"}))
    assert shared.exclusive_value is None


async def test_recording_executor_prefers_the_longest_prefix() -> None:
    executor = base.RecordingExecutor({("a",): "short", ("a", "b"): "long"})
    assert (await executor.exec(namespace="n", pod="p", container="c", command=["a", "b", "c"],
                                timeout=1)).stdout == "long"
    assert (await executor.exec(namespace="n", pod="p", container="c", command=["a"],
                                timeout=1)).stdout == "short"
    assert (await executor.exec(namespace="n", pod="p", container="c", command=["z"],
                                timeout=1)).stdout == ""
    assert executor.commands("n") == [("a", "b", "c"), ("a",), ("z",)]


def test_exec_status_channel_exit_codes() -> None:
    assert base._exit_code(b"") == 0
    assert base._exit_code(b'{"status":"Success"}') == 0
    assert base._exit_code(b'{"status":"Failure","reason":"NonZeroExitCode","details":'
                           b'{"causes":[{"reason":"ExitCode","message":"3"}]}}') == 3
    assert base._exit_code(b'{"status":"Failure","message":"boom"}') == 1
