"""GooseFS rendering: names, Java options, root UFS, ports, tiers, secrets, FUSE arguments."""

from __future__ import annotations

import copy
import json
from typing import Any

import attrs
import pytest
from engine_render_ctx import render_context

from fluid.api import converter
from fluid.api.dataset import Dataset
from fluid.api.goosefs import GooseFSRuntime
from fluid.engines.base import ufs_mounts
from fluid.engines.goosefs import manifests, ops

DATASET: dict[str, Any] = {
    "apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
    "metadata": {"name": "hbase", "namespace": "db"},
    "spec": {"mounts": [{
        "mountPoint": "cosn://bucket-1250000000/hbase/", "name": "hbase", "path": "/",
        "options": {"fs.cosn.bucket.region": "ap-guangzhou"},
        "encryptOptions": [{"name": "fs.cosn.userSecretKey",
                            "valueFrom": {"secretKeyRef": {"name": "cos", "key": "sk"}}}],
    }]},
}
RUNTIME: dict[str, Any] = {
    "apiVersion": "data.fluid.io/v1alpha1", "kind": "GooseFSRuntime",
    "metadata": {"name": "hbase", "namespace": "db"},
    "spec": {"replicas": 2, "tieredstore": {"levels": [
        {"mediumtype": "SSD", "path": "/mnt/d1,/mnt/d2", "quota": "20Gi", "high": "0.9"}]}},
}


def _render(*, runtime: dict[str, Any] = RUNTIME, dataset: dict[str, Any] = DATASET,
            ports: dict[str, int] | None = None) -> manifests.Rendered:
    ctx = render_context(kind="GooseFSRuntime", namespace="db", name="hbase",
                         runtime_type="goosefs", ports=ports,
                         replicas=runtime["spec"].get("replicas", 1))
    ctx = attrs.evolve(ctx, ufs=ufs_mounts(dataset["spec"]["mounts"]))
    return manifests.render(manifests.RenderInput(
        runtime=converter.structure(runtime, GooseFSRuntime),
        dataset=converter.structure(dataset, Dataset), ctx=ctx))


def _opts(text: str) -> dict[str, str]:
    return dict(w[2:].split("=", 1) for w in text.split() if w.startswith("-D"))


def _containers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in obj["spec"]["template"]["spec"]["containers"]}


def test_objects_and_names() -> None:
    out = _render()

    assert [(o["kind"], o["metadata"]["name"]) for o in out.objects()] == [
        ("ConfigMap", "hbase-config"), ("Service", "hbase-master-0"),
        ("StatefulSet", "hbase-master"), ("StatefulSet", "hbase-worker"),
        ("DaemonSet", "hbase-fuse")]
    assert set(_containers(out.master)) == {"goosefs-master", "goosefs-job-master"}
    assert set(_containers(out.worker)) == {"goosefs-worker", "goosefs-job-worker"}
    assert out.worker["spec"]["replicas"] == 2
    assert out.fuse["spec"]["template"]["spec"]["nodeSelector"] == {"fluid.io/f-db-hbase": "true"}
    for workload in (out.master, out.worker, out.fuse):
        for container in _containers(workload).values():
            assert container["envFrom"] == [{"configMapRef": {"name": "hbase-config"}}]


def test_java_options() -> None:
    data = _render().config["data"]

    common = _opts(data["GOOSEFS_JAVA_OPTS"])
    assert common["goosefs.master.mount.table.root.ufs"] == "cosn://bucket-1250000000/hbase/"
    assert common["goosefs.master.hostname"] == "hbase-master-0"
    assert common["goosefs.user.file.replication.max"] == "1"
    assert common["fs.cosn.bucket.region"] == "ap-guangzhou"
    assert common["goosefs.worker.tieredstore.levels"] == "1"
    assert common["goosefs.worker.tieredstore.level0.alias"] == "SSD"
    assert common["goosefs.worker.tieredstore.level0.dirs.path"] == "/mnt/d1/db/hbase,/mnt/d2/db/hbase"
    assert common["goosefs.worker.tieredstore.level0.dirs.quota"] == "10737418240B,10737418240B"
    assert common["goosefs.worker.tieredstore.level0.watermark.high.ratio"] == "0.9"
    assert common["goosefs.master.rpc.port"] == "19998"
    assert common["goosefs.worker.rpc.port"] == "29999"
    assert _opts(data["GOOSEFS_MASTER_JAVA_OPTS"]) == {
        "goosefs.master.hostname": "${GOOSEFS_MASTER_HOSTNAME}"}


def test_secret_options_are_env_references() -> None:
    out = _render()

    assert "cos" not in json.dumps(out.config).replace("cosn", "")
    assert _opts(out.config["data"]["GOOSEFS_JAVA_OPTS"])["fs.cosn.userSecretKey"] == (
        "${FLUID_SECRET_0_0}")
    for workload in (out.master, out.worker, out.fuse):
        for container in _containers(workload).values():
            assert {"name": "FLUID_SECRET_0_0", "valueFrom": {"secretKeyRef": {
                "name": "cos", "key": "sk"}}} in container["env"]


def test_allocated_and_pinned_ports() -> None:
    runtime = copy.deepcopy(RUNTIME)
    runtime["spec"]["master"] = {"ports": {"rpc": 9999}}
    spec = converter.structure(runtime, GooseFSRuntime).spec
    assert spec is not None

    names = manifests.port_names(spec)

    assert "master-rpc" not in names
    assert names[:2] == ["master-web", "job-master-rpc"]
    out = _render(runtime=runtime, ports={"master-web": 21000, "worker-rpc": 21001})
    common = _opts(out.config["data"]["GOOSEFS_JAVA_OPTS"])
    assert common["goosefs.master.rpc.port"] == "9999"
    assert common["goosefs.master.web.port"] == "21000"
    assert common["goosefs.worker.rpc.port"] == "21001"
    assert {"name": "rpc", "containerPort": 21001} in _containers(out.worker)["goosefs-worker"]["ports"]


def test_ha_masters_use_embedded_journal() -> None:
    runtime = copy.deepcopy(RUNTIME)
    runtime["spec"]["master"] = {"replicas": 3}

    out = _render(runtime=runtime)

    common = _opts(out.config["data"]["GOOSEFS_JAVA_OPTS"])
    assert "goosefs.master.hostname" not in common
    assert common["goosefs.master.embedded.journal.addresses"] == (
        "hbase-master-0:19200,hbase-master-1:19200,hbase-master-2:19200")
    assert len(out.services) == 3
    assert out.master["spec"]["replicas"] == 3


def test_fuse_args_and_owner() -> None:
    dataset = copy.deepcopy(DATASET)
    dataset["spec"]["owner"] = {"uid": 1000, "gid": 1000, "user": "u", "group": "g"}

    args = _containers(_render(dataset=dataset).fuse)["goosefs-fuse"]["args"]

    assert args == ["fuse", "--fuse-opts=kernel_cache,ro,attr_timeout=7200,entry_timeout=7200,"
                    "uid=1000,gid=1000,allow_other",
                    "/runtime-mnt/goosefs/db/hbase/goosefs-fuse", "/"]


def test_native_mounts_leave_the_root_local() -> None:
    dataset = copy.deepcopy(DATASET)
    dataset["spec"]["mounts"] = [{"mountPoint": "pvc://data", "name": "data"}]

    out = _render(dataset=dataset)

    common = _opts(out.config["data"]["GOOSEFS_JAVA_OPTS"])
    assert common["goosefs.master.mount.table.root.ufs"] == "/underFSStorage"
    assert {"name": "ufs-0", "mountPath": "/underFSStorage/data"} in _containers(
        out.worker)["goosefs-worker"]["volumeMounts"]


def test_missing_quota_is_rejected() -> None:
    runtime = copy.deepcopy(RUNTIME)
    del runtime["spec"]["tieredstore"]["levels"][0]["quota"]

    with pytest.raises(manifests.RenderError, match="quota"):
        _render(runtime=runtime)


def test_mount_command_keeps_secrets_in_the_pod() -> None:
    plain = ops.MountRequest(path="/a", ufs="cosn://b/a", read_only=True, options={"x": "1"})
    assert ops.mount_command(plain) == [
        "goosefs", "fs", "mount", "--readonly", "--option", "x=1", "/a", "cosn://b/a"]

    secret = attrs.evolve(plain, secret_options={"fs.cosn.userSecretKey": "FLUID_SECRET_1_0"})
    assert ops.mount_command(secret) == [
        "sh", "-c", "goosefs fs mount --readonly --option x=1 "
        "--option fs.cosn.userSecretKey=\"${FLUID_SECRET_1_0}\" /a cosn://b/a"]


def test_parsers() -> None:
    assert ops.parse_mounts("cosn://b/ on / (cosn, capacity=-1B)\n/u on /x (local, ...)") == {
        "/": "cosn://b/", "/x": "/u"}
    assert ops.parse_count("File Count               Folder Count             Total Bytes\n"
                           "12                       3                        4096\n") == (12, 4096)
    assert ops.parse_summary("GooseFS cluster summary:\n    Total Capacity: 2.00GB\n"
                             "        Tier: SSD  Size: 2.00GB\n    Used Capacity: 512.00MB\n") == (
        2 * 2**30, 512 * 2**20)
