"""Rendering an AlluxioRuntime: names, tiers as volumes, UFS volumes, ports, FUSE placement."""

from __future__ import annotations

from typing import Any

import pytest

from fluid.api.alluxio import AlluxioRuntimeSpec
from fluid.api.converter import structure
from fluid.api.dataset import Dataset
from fluid.engines import base
from fluid.engines.alluxio import manifests

Obj = dict[str, Any]


def context(*, ports: dict[str, int] | None = None, ufs: list[base.UfsMount] | None = None,
            replicas: int = 2, namespace: str = "default", name: str = "demo") -> base.RenderContext:
    key = base.RuntimeKey("AlluxioRuntime", namespace, name)
    return base.RenderContext(
        key=key, labels={"app.kubernetes.io/instance": name, "fluid.io/dataset-id": key.id},
        ports=ports or {}, replicas=replicas, worker_affinity={"marker": "affinity"},
        tolerations=[{"key": "gpu", "operator": "Exists"}],
        fuse_node_selector={f"fluid.io/f-{key.id}": "true"},
        fuse_mount_path=f"/runtime-mnt/alluxio/{namespace}/{name}", ufs=ufs or [],
        values_name=f"{name}-alluxio-values",
    )


def spec_of(raw: Obj) -> AlluxioRuntimeSpec:
    return structure(raw, AlluxioRuntimeSpec)


def render_input(
    raw: Obj, *, mounts: list[Obj] | None = None, ctx: base.RenderContext | None = None,
    dataset: Obj | None = None, **options: Any,
) -> manifests.RenderInput:
    """``raw`` runtime spec over a Dataset with ``mounts`` (one https mount by default) and
    the other Dataset ``spec`` fields in ``dataset``."""
    mounts = mounts if mounts is not None else [{"mountPoint": "https://x.org/a/", "name": "a"}]
    model = structure({"spec": {"mounts": mounts, **(dataset or {})}}, Dataset)
    return manifests.RenderInput(
        spec=spec_of(raw), ctx=ctx or context(ufs=base.ufs_mounts(mounts)), dataset=model,
        fluid_path="/runtime-mnt/alluxio/default/demo/alluxio-fuse", **options)


def render(
    raw: Obj, *, mounts: list[Obj] | None = None, ctx: base.RenderContext | None = None,
    dataset: Obj | None = None, **options: Any,
) -> dict[str, Obj]:
    objects = manifests.render(render_input(raw, mounts=mounts, ctx=ctx, dataset=dataset,
                                            **options))
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
    assert props["alluxio.worker.tieredstore.level0.dirs.path"] == "/dev/shm/default/demo"
    assert props["alluxio.worker.tieredstore.level1.dirs.path"] == (
        "/mnt/ssd1/default/demo,/mnt/ssd2/default/demo")
    assert props["alluxio.worker.tieredstore.level1.dirs.quota"] == "10GB,10GB"
    assert props["alluxio.worker.tieredstore.level1.watermark.high.ratio"] == "0.9"
    pod = objects["StatefulSet/demo-worker"]["spec"]["template"]["spec"]
    tier_volumes = {v["name"]: v for v in pod["volumes"] if v["name"].startswith("tier-")}
    assert tier_volumes == {
        "tier-0-0": {"name": "tier-0-0", "hostPath": {"path": "/dev/shm/default/demo",
                                                      "type": "DirectoryOrCreate"}},
        "tier-1-0": {"name": "tier-1-0", "hostPath": {"path": "/mnt/ssd1/default/demo",
                                                      "type": "DirectoryOrCreate"}},
        "tier-1-1": {"name": "tier-1-1", "hostPath": {"path": "/mnt/ssd2/default/demo",
                                                      "type": "DirectoryOrCreate"}},
    }
    for container in pod["containers"]:
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert (mounts["tier-0-0"], mounts["tier-1-0"], mounts["tier-1-1"]) == (
            "/dev/shm/default/demo", "/mnt/ssd1/default/demo", "/mnt/ssd2/default/demo")


def _cache_dirs(objects: dict[str, Obj], name: str) -> tuple[set[str], set[str]]:
    """(hostPath directories of the worker's tier volumes, tier paths in its properties)."""
    pod = objects[f"StatefulSet/{name}-worker"]["spec"]["template"]["spec"]
    host = {v["hostPath"]["path"] for v in pod["volumes"] if v["name"].startswith("tier-")}
    text = objects[f"ConfigMap/{name}-config"]["data"]["alluxio-site.properties"]
    props = dict(line.split("=", 1) for line in text.splitlines())
    levels = int(props["alluxio.worker.tieredstore.levels"])
    configured = {p for i in range(levels)
                  for p in props[f"alluxio.worker.tieredstore.level{i}.dirs.path"].split(",")}
    return host, configured


@pytest.mark.parametrize(("first", "second"), [
    (("default", "demo"), ("default", "other")),   # same namespace, both on /dev/shm
    (("team-a", "data"), ("team-b", "data")),      # same name in two namespaces
])
def test_two_runtimes_sharing_a_node_get_disjoint_cache_directories(
    first: tuple[str, str], second: tuple[str, str],
) -> None:
    mounts = [{"mountPoint": "https://x.org/a/", "name": "a"}]
    dirs = []
    for namespace, name in (first, second):
        ctx = context(namespace=namespace, name=name, ufs=base.ufs_mounts(mounts))
        host, configured = _cache_dirs(render(MEM_SSD, ctx=ctx), name)
        assert host == configured  # Alluxio writes where the host directory is mounted
        assert all(d.endswith(f"/{namespace}/{name}") for d in host)
        dirs.append(host)
    assert len(dirs[0]) == len(dirs[1]) == 3
    assert not dirs[0] & dirs[1]
    for a in dirs[0]:  # neither runtime's directory contains the other's
        assert not any(b.startswith(a + "/") or a.startswith(b + "/") for b in dirs[1])


def test_empty_dir_memory_tier() -> None:
    raw = {"tieredstore": {"levels": [{"mediumtype": "MEM", "path": "/dev/shm", "quota": "1Gi",
                                        "volumeType": "emptyDir"}]}}
    pod = render(raw)["StatefulSet/demo-worker"]["spec"]["template"]["spec"]
    (tier,) = [v for v in pod["volumes"] if v["name"].startswith("tier-")]
    assert tier == {"name": "tier-0-0", "emptyDir": {"medium": "Memory", "sizeLimit": str(2**30)}}
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["tier-0-0"] == "/dev/shm/default/demo"  # where the properties point


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


HA = {**MEM_SSD, "master": {"replicas": 3}}


def env_of(container: Obj) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def allocated_for(raw: Obj) -> dict[str, int]:
    return {n: 21000 + i for i, n in enumerate(manifests.port_names(spec_of(raw)))}


def test_three_masters_list_each_other_in_the_journal_addresses() -> None:
    allocated = allocated_for(HA)
    assert {"master-embedded", "job-master-embedded"} <= set(allocated)
    assert len(allocated) == 11  # 9 + the two embedded-journal ports
    objects = render(HA, ctx=context(ports=allocated))
    props = properties(objects)
    port = allocated["master-embedded"]
    assert props["alluxio.master.embedded.journal.addresses"] == (
        f"demo-master-0.demo-master.default.svc:{port},"
        f"demo-master-1.demo-master.default.svc:{port},"
        f"demo-master-2.demo-master.default.svc:{port}")
    assert props["alluxio.master.journal.type"] == "EMBEDDED"
    assert props["alluxio.master.embedded.journal.port"] == str(port)
    assert props["alluxio.job.master.embedded.journal.port"] == str(allocated["job-master-embedded"])
    # Nobody is told that master-0 is the master: clients find the primary from the list.
    assert "alluxio.master.hostname" not in props
    assert objects["StatefulSet/demo-master"]["spec"]["replicas"] == 3


def test_each_master_is_named_as_in_the_journal_addresses() -> None:
    allocated = allocated_for(HA)
    objects = render(HA, ctx=context(ports=allocated))
    sts = objects["StatefulSet/demo-master"]["spec"]
    assert sts["serviceName"] == "demo-master"
    pod = sts["template"]["spec"]
    master, job_master = pod["containers"]
    for container in (master, job_master):
        names = [e["name"] for e in container["env"]]
        assert names[:2] == ["FLUID_POD_NAME", "ALLUXIO_MASTER_HOSTNAME"]  # $(VAR) order
        env = env_of(container)
        assert env["FLUID_POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
        assert env["ALLUXIO_MASTER_HOSTNAME"] == "$(FLUID_POD_NAME).demo-master.default.svc"
    assert {p["name"]: p["containerPort"] for p in master["ports"]} == {
        "master-rpc": allocated["master-rpc"], "master-web": allocated["master-web"],
        "embedded": allocated["master-embedded"]}
    assert {p["name"]: p["containerPort"] for p in job_master["ports"]} == {
        "job-master-rpc": allocated["job-master-rpc"], "job-master-web": allocated["job-master-web"],
        "job-embedded": allocated["job-master-embedded"]}
    assert {"name": "alluxio-journal", "mountPath": "/journal"} in master["volumeMounts"]
    assert {"name": "alluxio-journal", "emptyDir": {"sizeLimit": "30Gi"}} in pod["volumes"]
    for workload, container in (("StatefulSet/demo-worker", 0), ("StatefulSet/demo-worker", 1),
                                ("DaemonSet/demo-fuse", 0)):
        spec = objects[workload]["spec"]["template"]["spec"]
        assert "ALLUXIO_MASTER_HOSTNAME" not in env_of(spec["containers"][container])


def test_three_masters_get_their_own_services_and_a_governing_one() -> None:
    allocated = allocated_for(HA)
    objects = render(HA, ctx=context(ports=allocated))
    assert sorted(k for k in objects if k.startswith("Service/")) == [
        "Service/demo-master", "Service/demo-master-0", "Service/demo-master-1",
        "Service/demo-master-2"]
    governing = objects["Service/demo-master"]["spec"]
    assert governing["clusterIP"] == "None"
    assert governing["publishNotReadyAddresses"] is True  # peers resolve before they are Ready
    assert governing["selector"] == {"app.kubernetes.io/name": "alluxio",
                                     "app.kubernetes.io/instance": "demo",
                                     "app.kubernetes.io/component": "master"}
    second = objects["Service/demo-master-1"]["spec"]
    assert second["selector"]["statefulset.kubernetes.io/pod-name"] == "demo-master-1"
    assert {p["name"]: p["port"] for p in second["ports"]} == {
        name: allocated[name] for name in ("master-rpc", "master-web", "job-master-rpc",
                                           "job-master-web", "master-embedded",
                                           "job-master-embedded")}


def test_embedded_journal_ports_the_user_fixes_or_container_network_defaults() -> None:
    fixed = {**MEM_SSD, "master": {"replicas": 3, "ports": {"embeddedJournal": 19300}},
             "jobMaster": {"ports": {"embeddedJournal": 20300}}}
    names = manifests.port_names(spec_of(fixed))
    assert "master-embedded" not in names
    assert "job-master-embedded" not in names
    props = properties(render(fixed, ctx=context(ports=allocated_for(fixed))))
    assert props["alluxio.master.embedded.journal.addresses"].split(",")[2] == (
        "demo-master-2.demo-master.default.svc:19300")
    assert props["alluxio.job.master.embedded.journal.port"] == "20300"
    container = {**MEM_SSD, "master": {"replicas": 3, "networkMode": "ContainerNetwork"}}
    assert "master-embedded" not in manifests.port_names(spec_of(container))
    assert properties(render(container))["alluxio.master.embedded.journal.addresses"].endswith(
        "demo-master-2.demo-master.default.svc:19200")


def test_one_master_keeps_the_single_master_layout() -> None:
    objects = render(MEM_SSD)
    props = properties(objects)
    assert props["alluxio.master.hostname"] == "demo-master-0"
    assert props["alluxio.master.journal.type"] == "UFS"
    assert "alluxio.master.embedded.journal.addresses" not in props
    master = objects["StatefulSet/demo-master"]["spec"]["template"]["spec"]["containers"][0]
    assert env_of(master)["ALLUXIO_MASTER_HOSTNAME"] == "demo-master-0"
    worker = objects["StatefulSet/demo-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert env_of(worker)["ALLUXIO_MASTER_HOSTNAME"] == "demo-master-0"
    assert [p["name"] for p in objects["Service/demo-master-0"]["spec"]["ports"]] == [
        "master-rpc", "master-web", "job-master-rpc", "job-master-web"]


def test_config_map_tells_other_pods_where_the_masters_are() -> None:
    single = render(MEM_SSD)["ConfigMap/demo-config"]["data"]["ALLUXIO_JAVA_OPTS"].split()
    assert "-Dalluxio.master.hostname=demo-master-0.default" in single
    assert "-Dalluxio.master.rpc.port=19998" in single
    allocated = allocated_for(HA)
    ha = render(HA, ctx=context(ports=allocated))["ConfigMap/demo-config"]["data"][
        "ALLUXIO_JAVA_OPTS"].split()
    port = allocated["master-embedded"]
    assert not any(o.startswith("-Dalluxio.master.hostname=") for o in ha)
    assert (f"-Dalluxio.master.embedded.journal.addresses=demo-master-0.demo-master.default.svc:"
            f"{port},demo-master-1.demo-master.default.svc:{port},"
            f"demo-master-2.demo-master.default.svc:{port}") in ha
    assert f"-Dalluxio.job.master.rpc.port={allocated['job-master-rpc']}" in ha


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
