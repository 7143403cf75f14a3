"""The reference-dataset engine's and controller's pure parts."""

from __future__ import annotations

from typing import Any

import pytest

from fluid.controllers import reference
from fluid.engines import base
from fluid.engines.reference import engine as ref_engine
from fluid.engines.reference.engine import Reference, ReferenceEngine, reference_of
from fluid.kube import events
from fluid.scheduling.ports import PortAllocator

DATASET = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
           "metadata": {"name": "spark", "namespace": "production", "uid": "u-ref"},
           "spec": {"mounts": [{"mountPoint": "dataset://development/spark/sub/dir"}]}}


def engine() -> ReferenceEngine:
    deps = base.EngineDeps(client=None, view=base.MemoryView(), ports=PortAllocator(),  # type: ignore[arg-type]
                           events=events.MemoryRecorder(), executor=base.RecordingExecutor())
    return ReferenceEngine(deps, base.RuntimeKey("ThinRuntime", "production", "spark"))


def snap(**spec: Any) -> base.Snapshot:
    dataset = {**DATASET, "spec": {**DATASET["spec"], **spec}}
    return base.Snapshot(runtime={"metadata": {"name": "spark", "namespace": "production", "uid": "u-rt"}},
                         dataset=dataset)


def test_parse_reference() -> None:
    assert Reference.parse("dataset://dev/spark") == Reference("dev", "spark", "")
    assert Reference.parse("dataset://dev/spark/a/b/") == Reference("dev", "spark", "a/b")
    for bad in ("dataset://dev", "dataset:///spark", "pvc://x"):
        with pytest.raises(ValueError, match="dataset://"):
            Reference.parse(bad)


def test_exactly_one_dataset_mount() -> None:
    assert reference_of([{"mountPoint": "dataset://a/b"}]) == Reference("a", "b")
    for mounts in ([], [{"mountPoint": "dataset://a/b"}, {"mountPoint": "s3://x"}], [{"mountPoint": "s3://x"}]):
        with pytest.raises(base.ValidationFailed, match="exactly one mount"):
            reference_of(mounts)


def test_a_dataset_cannot_refer_to_itself() -> None:
    own = {**DATASET, "spec": {"mounts": [{"mountPoint": "dataset://production/spark"}]}}
    with pytest.raises(base.ValidationFailed, match="itself"):
        engine().validate(base.Snapshot(runtime={}, dataset=own))


def testconfig_maps_used_by_a_pod_spec() -> None:
    projected = {"projected": {"sources": [{"configMap": {"name": "b"}}]}}
    from_key = {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "a", "key": "k"}}}
    spec = {"volumes": [{"configMap": {"name": "a"}}, projected, {"secret": {"secretName": "s"}}],
            "initContainers": [{"envFrom": [{"configMapRef": {"name": "c"}}]}],
            "containers": [{"env": [from_key]}]}
    assert ref_engine.config_maps_used(spec) == ["a", "b", "c"]


def test_pv_points_at_the_source_fuse_path_with_the_sub_path() -> None:
    source_pv = {"spec": {
        "capacity": {"storage": "100Pi"}, "accessModes": ["ReadOnlyMany"], "storageClassName": "fluid",
        "claimRef": {"namespace": "development", "name": "spark"},
        "nodeAffinity": {"required": {}},
        "csi": {"driver": "fuse.csi.fluid.io", "volumeHandle": "development-spark", "volumeAttributes": {
            "fluid_path": "/runtime-mnt/alluxio/development/spark/alluxio-fuse", "mount_type": "fuse"}}}}
    e = engine()
    s = snap(accessModes=["ReadWriteMany"])
    modes = e.access_modes(s, source_pv)
    assert modes == ["ReadOnlyMany"]  # the source is read-only, so the reference is too
    pv = e.render_pv(s, reference_of(s.mounts), source_pv, modes)
    assert pv["metadata"]["name"] == "production-spark"
    assert pv["metadata"]["annotations"] == {"CreatedBy": "fluid"}
    assert pv["spec"]["claimRef"] == {"namespace": "production", "name": "spark"}
    assert pv["spec"]["csi"]["volumeHandle"] == "production-spark"
    assert pv["spec"]["csi"]["volumeAttributes"] == {
        "fluid_path": "/runtime-mnt/alluxio/development/spark/alluxio-fuse", "mount_type": "fuse",
        "fluid_sub_path": "sub/dir"}
    assert pv["spec"]["nodeAffinity"] == {"required": {}}
    writable = {"spec": {**source_pv["spec"], "accessModes": ["ReadWriteMany"]}}
    assert e.access_modes(s, writable) == ["ReadWriteMany"]
    assert e.access_modes(snap(), writable) == ["ReadOnlyMany"]


def test_pvc_is_labelled_with_the_source() -> None:
    e = engine()
    s = snap()
    pvc = e.render_pvc(s, reference_of(s.mounts), {"spec": {"resources": {"requests": {"storage": "1Ti"}}}},
                       ["ReadOnlyMany"])
    labels = pvc["metadata"]["labels"]
    assert labels["fluid.io/dataset.referring-name"] == "spark"
    assert labels["fluid.io/dataset.referring-namespace"] == "development"
    assert labels["fluid.io/s-production-spark"] == "true"
    assert pvc["spec"]["volumeName"] == "production-spark"
    assert pvc["spec"]["resources"] == {"requests": {"storage": "1Ti"}}


def test_mirrored_status_keeps_its_own_runtime_and_drops_the_sources_bookkeeping() -> None:
    source = {"status": {"phase": "Bound", "ufsTotal": "3.41GiB", "datasetRef": ["production/spark"],
                         "operationRef": {"DataLoad": "spark"},
                         "runtimes": [{"name": "spark", "type": "alluxio"}],
                         "cacheStates": {"cached": "1.31GiB"}}}
    status = engine().dataset_status(snap(), source)
    assert status == {"phase": "Bound", "ufsTotal": "3.41GiB", "cacheStates": {"cached": "1.31GiB"},
                      "runtimes": [{"name": "spark", "namespace": "production", "category": "Accelerate",
                                    "type": "thin", "masterReplicas": 1}]}


def test_controller_makes_an_owned_thin_runtime_without_profile() -> None:
    assert reference.is_reference(DATASET)
    assert not reference.is_reference({"spec": {"mounts": [{"mountPoint": "dataset://a/b"},
                                                           {"mountPoint": "s3://c"}]}})
    runtime = reference.thin_runtime(DATASET)
    assert runtime["kind"] == "ThinRuntime"
    assert runtime["spec"] == {"profileName": ""}
    assert runtime["metadata"]["labels"] == {"fluid.io/dataset-id": "production-spark"}
    assert runtime["metadata"]["ownerReferences"] == [{
        "apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset", "name": "spark", "uid": "u-ref",
        "controller": True, "blockOwnerDeletion": True}]
