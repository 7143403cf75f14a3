"""EFC rendering: NAS/CPFS mount points, option strings, worker cache and ports, endpoints."""

from __future__ import annotations

import json
from typing import Any

import pytest
from engine_render_ctx import render_context

from fluid.api import converter
from fluid.api.dataset import Dataset
from fluid.api.efc import EFCRuntime
from fluid.engines.efc import manifests

Obj = dict[str, Any]
NAS = "nfs://0a1b2c3d4e-xyz12.cn-zhangjiakou.nas.aliyuncs.com:/sub/path"
SPEC: Obj = {"replicas": 1, "tieredstore": {"levels": [
    {"mediumtype": "MEM", "volumeType": "emptyDir", "path": "/mnt/efc-cache", "quota": "2Gi"}]}}


def _render(spec: Obj | None = None, *, mount: str = NAS, ports: dict[str, int] | None = None,
            endpoints: tuple[str, ...] = ()) -> dict[str, Obj]:
    runtime = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "EFCRuntime",
               "metadata": {"name": "nas", "namespace": "ml"}, "spec": spec or SPEC}
    dataset = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
               "metadata": {"name": "nas", "namespace": "ml"},
               "spec": {"mounts": [{"mountPoint": mount, "name": "nas"}]}}
    ctx = render_context(kind="EFCRuntime", namespace="ml", name="nas", runtime_type="efc",
                         ports=ports, replicas=runtime["spec"].get("replicas", 1))
    objects = manifests.render(manifests.RenderInput(
        runtime=converter.structure(runtime, EFCRuntime),
        dataset=converter.structure(dataset, Dataset), ctx=ctx, endpoints=endpoints))
    return {o["metadata"]["name"]: o for o in objects}


def _container(obj: Obj) -> Obj:
    result: Obj = obj["spec"]["template"]["spec"]["containers"][0]
    return result


def test_objects_and_the_master() -> None:
    out = _render(ports={"worker-rpc": 21000})
    assert [(o["kind"], n) for n, o in out.items()] == [
        ("ConfigMap", "nas-worker-endpoints"), ("StatefulSet", "nas-master"),
        ("StatefulSet", "nas-worker"), ("DaemonSet", "nas-fuse")]
    master = _container(out["nas-master"])
    assert master["args"] == [
        "master", "0a1b2c3d4e-xyz12.cn-zhangjiakou.nas.aliyuncs.com:/sub/path/", "/efc/efc-master",
        "client_owner=ml-nas-master,assign_uuid=ml-nas-master"]
    assert out["nas-master"]["spec"]["replicas"] == 1
    assert out["nas-master"]["spec"]["template"]["spec"]["hostNetwork"] is True


def test_worker_caches_in_memory_on_the_allocated_port() -> None:
    worker = _render(ports={"worker-rpc": 21000})["nas-worker"]
    container = _container(worker)
    assert container["args"] == ["worker", "cache_media=/mnt/efc-cache/ml/nas,server_port=21000,"
                                           "cache_capacity_gb=2,tmpfs=true"]
    assert container["ports"] == [{"name": "rpc", "containerPort": 21000, "protocol": "TCP"}]
    assert container["resources"] == {"requests": {"memory": "2048Mi"}}
    assert worker["spec"]["template"]["spec"]["volumes"] == [
        {"name": "mem", "emptyDir": {"sizeLimit": "2048Mi", "medium": "Memory"}}]
    assert container["volumeMounts"] == [{"name": "mem", "mountPath": "/mnt/efc-cache/ml/nas"}]


def test_container_network_uses_the_default_rpc_port() -> None:
    spec = {**SPEC, "worker": {"networkMode": "ContainerNetwork", "properties": {"a": "b"}},
            "master": {"networkMode": "ContainerNetwork"}}
    assert manifests.port_names(converter.structure(
        {"metadata": {}, "spec": spec}, EFCRuntime).spec) == []  # type: ignore[arg-type]
    container = _container(_render(spec)["nas-worker"])
    assert container["args"][1].endswith("server_port=14555,cache_capacity_gb=2,tmpfs=true,a=b")


def test_fuse_mounts_the_nas_with_the_cluster_cache() -> None:
    fuse = _render()["nas-fuse"]
    container = _container(fuse)
    assert container["args"] == [
        "fuse", "0a1b2c3d4e-xyz12.cn-zhangjiakou.nas.aliyuncs.com:/sub/path/", "/efc/efc-fuse",
        "g_tier_EnableClusterCache=true,g_tier_EnableClusterCachePrefetch=true,"
        "assign_uuid=ml-nas-fuse"]
    pod = fuse["spec"]["template"]["spec"]
    mount = next(v for v in pod["volumes"] if v["name"] == "efc-fuse-mount")
    assert mount["hostPath"]["path"] == "/runtime-mnt/efc/ml/nas"
    assert pod["nodeSelector"] == {"fluid.io/f-ml-nas": "true"}


def test_cpfs_speaks_nfs3_and_disabled_parts_shrink() -> None:
    spec = {**SPEC, "master": {"disabled": True}, "worker": {"disabled": True}}
    out = _render(spec, mount="cpfs://cpfs-0123abcd.cn-beijing.cpfs.aliyuncs.com:/share/data")
    assert out["nas-master"]["spec"]["replicas"] == 0
    assert out["nas-worker"]["spec"]["replicas"] == 0
    assert _container(out["nas-fuse"])["args"][3] == "protocol=nfs3,assign_uuid=ml-nas-fuse"


def test_endpoints_are_listed_for_master_and_fuse() -> None:
    conf = _render(endpoints=("10.0.0.5:14555", "10.0.0.6:14555"))["nas-worker-endpoints"]
    assert json.loads(conf["data"]["efc-worker-endpoints.json"]) == {
        "containerendpoints": ["10.0.0.5:14555", "10.0.0.6:14555"]}


def test_host_path_cache_on_the_fastest_tier() -> None:
    spec = {"replicas": 1, "tieredstore": {"levels": [
        {"mediumtype": "HDD", "path": "/mnt/hdd", "quota": "100Gi"},
        {"mediumtype": "SSD", "path": "/mnt/ssd1,/mnt/ssd2", "quota": "10Gi"}]}}
    worker = _render(spec)["nas-worker"]
    container = _container(worker)
    assert container["args"][1].startswith("cache_media=/mnt/ssd1/ml/nas,")
    assert "tmpfs" not in container["args"][1]
    assert worker["spec"]["template"]["spec"]["volumes"] == [
        {"name": "ssd", "hostPath": {"path": "/mnt/ssd1/ml/nas", "type": "DirectoryOrCreate"}}]


@pytest.mark.parametrize("mount", ["nfs://nas-mount-point-address:/sub/path", "s3://bucket/x"])
def test_other_mount_points_are_refused(mount: str) -> None:
    with pytest.raises(manifests.RenderError, match="mountPoint"):
        _render(mount=mount)


@pytest.mark.parametrize(("quota", "limit", "match"), [("512Mi", None, "minimum"),
                                                        ("4Gi", "2Gi", "memory limit")])
def test_cache_size_mistakes_are_refused(quota: str, limit: str | None, match: str) -> None:
    spec: Obj = {"replicas": 1, "tieredstore": {"levels": [
        {"mediumtype": "MEM", "path": "/dev/shm", "quota": quota}]}}
    if limit:
        spec["worker"] = {"resources": {"limits": {"memory": limit}}}
    with pytest.raises(manifests.RenderError, match=match):
        _render(spec)
