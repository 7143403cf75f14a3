"""Rendering an AlluxioRuntime: names, tiers as volumes, UFS volumes, ports, FUSE placement."""

from __future__ import annotations

from typing import Any

import pytest

from fluid.api.alluxio import AlluxioRuntimeSpec
from fluid.api.converter import structure
from fluid.engines import base
from fluid.engines.alluxio import manifests

Obj = dict[str, Any]


def context(*, ports: dict[str, int] | None = None, ufs: list[base.UfsMount] | None = None,
            replicas: int = 2) -> base.RenderContext:
    key = base.RuntimeKey("AlluxioRuntime", "default", "demo")
    return base.RenderContext(
        key=key, labels={"app.kubernetes.io/instance": "demo", "fluid.io/dataset-id": "default-demo"},
        ports=ports or {}, replicas=replicas, worker_affinity={"marker": "affinity"},
        tolerations=[{"key": "gpu", "operator": "Exists"}],
        fuse_node_selector={"fluid.io/f-default-demo": "true"},
        fuse_mount_path="/runtime-mnt/alluxio/default/demo", ufs=ufs or [],
        values_name="demo-alluxio-values",
    )


def spec_of(raw: Obj) -> AlluxioRuntimeSpec:
    return structure(raw, AlluxioRuntimeSpec)


def render(
    raw: Obj, *, mounts: list[Obj] | None = None, ctx: base.RenderContext | None = None
) -> dict[str, Obj]:
    mounts = mounts if mounts is not None else [{"mountPoint": "https://x.org/a/", "name": "a"}]
    objects = manifests.render(spec_of(raw), ctx=ctx or context(ufs=base.ufs_mounts(mounts)),
                               mounts=mounts, shared_options={},
                               fluid_path="/runtime-mnt/alluxio/default/demo/alluxio-fuse")
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}


def properties(objects: dict[str, Obj]) -> dict[str, str]:
    text = objects["ConfigMap/demo-config"]["data"]["alluxio-site.properties"]
    return dict(line.split("=", 1) for line in text.splitlines())


MEM_SSD = {"replicas": 2, "tieredstore": {"levels": [
    {"mediumtype": "SSD", "path": "/mnt/ssd1,/mnt/ssd2", "quota": "20Gi", "high": "0.9", "low": "0.7"},
    {"mediumtype": "MEM", "path": "/dev/shm", "quota": "2Gi"},
]}}


def test_object_names_follow_upstream() -> None:
    assert sorted(render(MEM_SSD)) == [
        "ConfigMap/demo-config", "DaemonSet/demo-fuse", "Service/demo-master-0",
        "StatefulSet/demo-master", "StatefulSet/demo-worker",
    ]


def test_tiers_become_worker_volumes_and_properties_in_tier_order() -> None:
    objects = render(MEM_SSD)
    props = properties(objects)
    assert props["alluxio.worker.tieredstore.levels"] == "2"
    assert props["alluxio.worker.tieredstore.level0.alias"] == "MEM"
    assert props["alluxio.worker.tieredstore.level0.dirs.quota"] == "2GB"
    assert props["alluxio.worker.tieredstore.level1.dirs.path"] == "/mnt/ssd1,/mnt/ssd2"
    assert props["alluxio.worker.tieredstore.level1.dirs.quota"] == "10GB,10GB"
    assert props["alluxio.worker.tieredstore.level1.watermark.high.ratio"] == "0.9"
    pod = objects["StatefulSet/demo-worker"]["spec"]["template"]["spec"]
    tier_volumes = {v["name"]: v for v in pod["volumes"] if v["name"].startswith("tier-")}
    assert tier_volumes == {
        "tier-0-0": {"name": "tier-0-0", "hostPath": {"path": "/dev/shm", "type": "DirectoryOrCreate"}},
        "tier-1-0": {"name": "tier-1-0", "hostPath": {"path": "/mnt/ssd1", "type": "DirectoryOrCreate"}},
        "tier-1-1": {"name": "tier-1-1", "hostPath": {"path": "/mnt/ssd2", "type": "DirectoryOrCreate"}},
    }
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["tier-1-1"] == "/mnt/ssd2"


def test_empty_dir_memory_tier() -> None:
    raw = {"tieredstore": {"levels": [{"mediumtype": "MEM", "path": "/dev/shm", "quota": "1Gi",
                                        "volumeType": "emptyDir"}]}}
    pod = render(raw)["StatefulSet/demo-worker"]["spec"]["template"]["spec"]
    (tier,) = [v for v in pod["volumes"] if v["name"].startswith("tier-")]
    assert tier == {"name": "tier-0-0", "emptyDir": {"medium": "Memory", "sizeLimit": str(2**30)}}


def test_pvc_and_local_mounts_are_volumes_under_underfsstorage() -> None:
    mounts = [{"mountPoint": "pvc://fluid-pvc", "name": "data", "path": "/"},
              {"mountPoint": "pvc://other/sub/dir", "name": "other"},
              {"mountPoint": "local:///mnt/data", "name": "local", "readOnly": True}]
    objects = render(MEM_SSD, mounts=mounts)
    props = properties(objects)
    assert props["alluxio.master.mount.table.root.ufs"] == "/underFSStorage"
    for sts in ("StatefulSet/demo-master", "StatefulSet/demo-worker"):
        pod = objects[sts]["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"] if v["name"].startswith("ufs-")}
        assert volumes["ufs-0"]["persistentVolumeClaim"] == {"claimName": "fluid-pvc"}
        assert volumes["ufs-1"]["persistentVolumeClaim"] == {"claimName": "other"}
        assert volumes["ufs-2"]["hostPath"] == {"path": "/mnt/data", "type": "Directory"}
        ufs_mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]
                      if m["name"].startswith("ufs-")}
        assert ufs_mounts["ufs-0"] == {"name": "ufs-0", "mountPath": "/underFSStorage"}
        assert ufs_mounts["ufs-1"] == {"name": "ufs-1", "mountPath": "/underFSStorage/other",
                                       "subPath": "sub/dir"}
        assert ufs_mounts["ufs-2"]["readOnly"] is True


def test_single_remote_mount_at_root_is_the_root_ufs() -> None:
    mounts = [{"mountPoint": "s3://bucket/data", "name": "d", "path": "/",
               "options": {"aws.region": "us-east-1"}}]
    props = properties(render(MEM_SSD, mounts=mounts))
    assert props["alluxio.master.mount.table.root.ufs"] == "s3://bucket/data"
    assert props["alluxio.master.mount.table.root.option.aws.region"] == "us-east-1"


def test_host_network_uses_allocated_ports_and_user_ports_win() -> None:
    raw = {**MEM_SSD, "properties": {"alluxio.master.rpc.port": "19998"},
           "worker": {"ports": {"web": 31000}}}
    spec = spec_of(raw)
    names = manifests.port_names(spec)
    assert "master-rpc" not in names
    assert "worker-web" not in names
    assert len(names) == 7
    allocated = {n: 20000 + i for i, n in enumerate(names)}
    objects = render(raw, ctx=context(ports=allocated))
    props = properties(objects)
    assert props["alluxio.master.rpc.port"] == "19998"
    assert props["alluxio.worker.web.port"] == "31000"
    assert props["alluxio.master.web.port"] == str(allocated["master-web"])
    master_pod = objects["StatefulSet/demo-master"]["spec"]["template"]["spec"]
    assert master_pod["hostNetwork"] is True
    assert master_pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert [p["containerPort"] for p in master_pod["containers"][0]["ports"]] == [
        19998, allocated["master-web"]]


def test_container_network_allocates_nothing() -> None:
    raw = {**MEM_SSD, "master": {"networkMode": "ContainerNetwork"},
           "worker": {"networkMode": "ContainerNetwork"}}
    assert manifests.port_names(spec_of(raw)) == []
    objects = render(raw)
    assert objects["StatefulSet/demo-worker"]["spec"]["template"]["spec"]["hostNetwork"] is False
    assert properties(objects)["alluxio.worker.rpc.port"] == "29999"


def test_ha_masters_need_embedded_journal_ports() -> None:
    spec = spec_of({**MEM_SSD, "master": {"replicas": 3}})
    assert {"master-embedded", "job-master-embedded"} <= set(manifests.port_names(spec))
    assert properties(render({**MEM_SSD, "master": {"replicas": 3}}))[
        "alluxio.master.journal.type"] == "EMBEDDED"


def test_worker_placement_and_fuse_selector() -> None:
    objects = render(MEM_SSD)
    worker = objects["StatefulSet/demo-worker"]["spec"]
    assert worker["replicas"] == 2
    assert worker["template"]["spec"]["affinity"] == {"marker": "affinity"}
    assert worker["template"]["spec"]["tolerations"] == [{"key": "gpu", "operator": "Exists"}]
    assert worker["selector"]["matchLabels"]["app.kubernetes.io/component"] == "worker"
    labels = worker["template"]["metadata"]["labels"]
    assert labels["fluid.io/dataset"] == "default-demo"
    assert labels["fluid.io/dataset-placement"] == "Exclusive"
    assert "fluid.io/dataset" not in objects["StatefulSet/demo-master"]["spec"]["template"][
        "metadata"]["labels"]
    fuse = objects["DaemonSet/demo-fuse"]["spec"]["template"]["spec"]
    assert fuse["nodeSelector"] == {"fluid.io/f-default-demo": "true"}
    container = fuse["containers"][0]
    assert container["args"][-2:] == ["/runtime-mnt/alluxio/default/demo/alluxio-fuse", "/"]
    assert container["securityContext"]["privileged"] is True
    mount = next(m for m in container["volumeMounts"] if m["name"] == "fuse-mount")
    assert mount == {"name": "fuse-mount", "mountPath": "/runtime-mnt/alluxio/default/demo",
                     "mountPropagation": "Bidirectional"}


def test_user_properties_override_and_data_replicas() -> None:
    raw = {**MEM_SSD, "data": {"replicas": 2},
           "properties": {"alluxio.user.block.size.bytes.default": "256MB"}}
    props = properties(render(raw))
    assert props["alluxio.user.file.replication.max"] == "2"
    assert props["alluxio.user.block.size.bytes.default"] == "256MB"


@pytest.mark.parametrize(("size", "text"), [(2**31, "2GB"), (3 * 2**20, "3MB"), (2**40, "1TB"),
                                            (1536 * 2**20, "1536MB"), (100, "100B")])
def test_alluxio_sizes(size: int, text: str) -> None:
    assert manifests.alluxio_size(size) == text
