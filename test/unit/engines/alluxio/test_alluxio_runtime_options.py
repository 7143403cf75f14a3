"""AlluxioRuntime options upstream honours: the root UFS's Secret-backed options, the MEM
tier in the worker's memory request, the REST API gateway, user volumes, hadoopConfig,
runAs with initUsers, and masters following a ``local://`` Dataset's node affinity."""

from __future__ import annotations

from typing import Any

import pytest
from test_alluxio_manifests import MEM_SSD, context, env_of, properties, render, spec_of

from fluid.api.converter import structure
from fluid.api.dataset import Dataset
from fluid.engines import base
from fluid.engines.alluxio import manifests

Obj = dict[str, Any]
OSS = "oss://bucket/data/"
ROOT_MOUNT = {
    "mountPoint": OSS, "name": "data", "path": "/",
    "options": {"fs.oss.endpoint": "oss-cn-hangzhou.aliyuncs.com",
                "fs.oss.accessKeySecret": "overridden-by-the-secret"},
    "encryptOptions": [{"name": "fs.oss.accessKeySecret", "valueFrom": {
        "secretKeyRef": {"name": "oss-cred", "key": "secret"}}}],
}
SHARED = {"sharedEncryptOptions": [{"name": "fs.oss.accessKeyId", "valueFrom": {
    "secretKeyRef": {"name": "oss-cred", "key": "id"}}}]}


def pod(objects: dict[str, Obj], workload: str) -> Obj:
    spec: Obj = objects[workload]["spec"]["template"]["spec"]
    return spec


def containers(objects: dict[str, Obj], workload: str) -> dict[str, Obj]:
    return {x["name"]: x for x in pod(objects, workload)["containers"]}


# -- the root UFS's encryptOptions ---------------------------------------------------------------


def test_root_ufs_secret_options_reach_the_master_as_secret_references_only() -> None:
    objects = render(MEM_SSD, mounts=[ROOT_MOUNT], dataset=SHARED)
    props = properties(objects)
    assert props["alluxio.master.mount.table.root.ufs"] == OSS
    assert props["alluxio.master.mount.table.root.option.fs.oss.endpoint"] == (
        "oss-cn-hangzhou.aliyuncs.com")
    assert not any("accessKey" in k for k in props)  # neither the plain nor the secret one
    master = containers(objects, "StatefulSet/demo-master")["alluxio-master"]
    names = [e["name"] for e in master["env"]]
    assert names.index("FLUID_SECRET_S0") < names.index("ALLUXIO_MASTER_JAVA_OPTS")
    assert names.index("FLUID_SECRET_0_0") < names.index("ALLUXIO_MASTER_JAVA_OPTS")
    env = env_of(master)
    assert env["FLUID_SECRET_S0"] == {"secretKeyRef": {"name": "oss-cred", "key": "id"}}
    assert env["FLUID_SECRET_0_0"] == {"secretKeyRef": {"name": "oss-cred", "key": "secret"}}
    opts = env["ALLUXIO_MASTER_JAVA_OPTS"].split()
    assert "-Dalluxio.master.mount.table.root.option.fs.oss.accessKeyId=$(FLUID_SECRET_S0)" in opts
    assert ("-Dalluxio.master.mount.table.root.option.fs.oss.accessKeySecret=$(FLUID_SECRET_0_0)"
            in opts)
    others = [c for w in ("StatefulSet/demo-worker", "DaemonSet/demo-fuse")
              for c in pod(objects, w)["containers"]]
    others.append(containers(objects, "StatefulSet/demo-master")["alluxio-job-master"])
    assert not any(e["name"].startswith("FLUID_SECRET_") for c in others for e in c["env"])


def test_an_encrypt_option_without_its_secret_key_is_the_users_mistake() -> None:
    broken = {**ROOT_MOUNT, "encryptOptions": [
        {"name": "fs.oss.accessKeySecret", "valueFrom": {"secretKeyRef": {"name": "oss-cred"}}}]}
    dataset = structure({"spec": {"mounts": [broken]}}, Dataset)
    with pytest.raises(base.ValidationFailed, match="accessKeySecret"):
        manifests.check(spec_of(MEM_SSD), dataset)


# -- the MEM tier and the worker's memory ---------------------------------------------------------


def worker_resources(raw: Obj) -> Obj:
    return containers(render(raw), "StatefulSet/demo-worker")["alluxio-worker"]["resources"]


def test_worker_memory_request_covers_the_mem_tier() -> None:
    seed004 = {"replicas": 1, "tieredstore": {"levels": [
        {"path": "/dev/shm", "mediumtype": "MEM", "quota": "20Gi"}]}}
    assert worker_resources(seed004) == {"requests": {"memory": "20Gi"}}
    two_paths = {"tieredstore": {"levels": [
        {"path": "/dev/shm,/mnt/mem", "mediumtype": "MEM", "quota": "3Gi"}]}}
    assert worker_resources(two_paths) == {"requests": {"memory": "3Gi"}}
    ssd_only = {"tieredstore": {"levels": [{"path": "/mnt/ssd", "mediumtype": "SSD",
                                            "quota": "100Gi"}]}}
    assert "resources" not in containers(render(ssd_only), "StatefulSet/demo-worker")[
        "alluxio-worker"]


def test_a_larger_request_stays_and_a_smaller_one_is_raised() -> None:
    bigger = {**MEM_SSD, "worker": {"resources": {
        "requests": {"memory": "8Gi", "cpu": "2"}, "limits": {"memory": "16Gi"}}}}
    assert worker_resources(bigger) == {"requests": {"memory": "8Gi", "cpu": "2"},
                                        "limits": {"memory": "16Gi"}}
    smaller = {**MEM_SSD, "worker": {"resources": {"requests": {"memory": "512Mi"}}}}
    assert worker_resources(smaller) == {"requests": {"memory": "2Gi"}}


def test_a_memory_limit_below_the_mem_tier_is_refused() -> None:
    raw = {**MEM_SSD, "worker": {"resources": {"limits": {"memory": "1Gi"}}}}
    dataset = structure({"spec": {}}, Dataset)
    with pytest.raises(base.ValidationFailed, match=r"tieredStore's size 2Gi is greater than "
                                                    r"worker limits memory 1Gi"):
        manifests.check(spec_of(raw), dataset)


# -- the REST API gateway ------------------------------------------------------------------------


def test_api_gateway_runs_a_proxy_next_to_the_master_on_its_own_port() -> None:
    raw = {**MEM_SSD, "apiGateway": {"enabled": True, "env": {"X": "1"}}}
    names = manifests.port_names(spec_of(raw))
    assert "proxy-web" in names
    allocated = {n: 22000 + i for i, n in enumerate(names)}
    objects = render(raw, ctx=context(ports=allocated))
    gateway = containers(objects, "StatefulSet/demo-master")["api-gateway"]
    port = allocated["proxy-web"]
    assert gateway["args"] == ["proxy"]
    assert gateway["ports"] == [{"name": "rest", "containerPort": port, "protocol": "TCP"}]
    assert env_of(gateway)["X"] == "1"
    assert {"name": "alluxio-conf", "mountPath": "/opt/alluxio/conf"} in gateway["volumeMounts"]
    assert properties(objects)["alluxio.proxy.web.port"] == str(port)
    service = objects["Service/demo-master-0"]["spec"]["ports"]
    assert {"name": "rest", "port": port, "targetPort": port} in service
    assert manifests.api_gateway_endpoint(spec_of(raw), key=context().key,
                                          allocated=allocated) == f"demo-master-0.default:{port}"


def test_api_gateway_port_from_the_spec_and_nothing_when_disabled() -> None:
    pinned = spec_of({**MEM_SSD, "apiGateway": {"enabled": True, "ports": {"web": 31999}}})
    assert "proxy-web" not in manifests.port_names(pinned)
    assert manifests.api_gateway_endpoint(pinned, key=context().key, allocated={}) == (
        "demo-master-0.default:31999")
    objects = render(MEM_SSD)
    assert "api-gateway" not in containers(objects, "StatefulSet/demo-master")
    assert "alluxio.proxy.web.port" not in properties(objects)
    assert "proxy-web" not in manifests.port_names(spec_of(MEM_SSD))


# -- volumes, hadoopConfig, runAs, local:// -------------------------------------------------------


def test_volume_mounts_mount_the_named_volumes_where_asked() -> None:
    raw = {**MEM_SSD,
           "volumes": [{"name": "certs", "secret": {"secretName": "ca"}},
                       {"name": "scratch", "emptyDir": {}},
                       {"name": "unused", "emptyDir": {}}],
           "master": {"volumeMounts": [{"name": "certs", "mountPath": "/etc/certs"}]},
           "jobWorker": {"volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]},
           "fuse": {"volumeMounts": [{"name": "certs", "mountPath": "/etc/certs"}]}}
    objects = render(raw)
    master = containers(objects, "StatefulSet/demo-master")
    for name in ("alluxio-master", "alluxio-job-master"):  # the job master gets the master's
        assert {"name": "certs", "mountPath": "/etc/certs"} in master[name]["volumeMounts"]
    worker = containers(objects, "StatefulSet/demo-worker")
    assert {"name": "scratch", "mountPath": "/scratch"} in worker["alluxio-job-worker"]["volumeMounts"]
    assert all(m["name"] != "scratch" for m in worker["alluxio-worker"]["volumeMounts"])
    user = {"certs", "scratch", "unused"}
    assert [v["name"] for v in pod(objects, "StatefulSet/demo-master")["volumes"]
            if v["name"] in user] == ["certs"]
    assert [v["name"] for v in pod(objects, "StatefulSet/demo-worker")["volumes"]
            if v["name"] in user] == ["scratch"]
    assert [v["name"] for v in pod(objects, "DaemonSet/demo-fuse")["volumes"]
            if v["name"] in user] == ["certs"]


def test_a_volume_mount_naming_no_volume_is_the_users_mistake() -> None:
    raw = {**MEM_SSD, "worker": {"volumeMounts": [{"name": "nope", "mountPath": "/x"}]}}
    with pytest.raises(base.ValidationFailed, match="'nope'"):
        manifests.check(spec_of(raw), structure({"spec": {}}, Dataset))


def test_hadoop_config_files_are_mounted_and_named_for_hdfs() -> None:
    found = base.hadoop_config("hdfs-conf", {"hdfs-site.xml": "<configuration/>",
                                             "core-site.xml": "<configuration/>"})
    objects = render({**MEM_SSD, "hadoopConfig": "hdfs-conf"},
                     mounts=[{"mountPoint": "hdfs://nn:9000/data", "name": "d"}], hadoop=found)
    assert properties(objects)["alluxio.underfs.hdfs.configuration"] == (
        "/hdfs-config/hdfs-site.xml:/hdfs-config/core-site.xml")
    volume = {"name": "hdfs-confs", "configMap": {"name": "hdfs-conf", "items": [
        {"key": "hdfs-site.xml", "path": "hdfs-site.xml"},
        {"key": "core-site.xml", "path": "core-site.xml"}]}}
    mount = {"name": "hdfs-confs", "mountPath": "/hdfs-config", "readOnly": True}
    for workload in ("StatefulSet/demo-master", "StatefulSet/demo-worker"):
        assert volume in pod(objects, workload)["volumes"]
        for container in pod(objects, workload)["containers"]:
            assert mount in container["volumeMounts"], container["name"]
    with pytest.raises(base.ValidationFailed, match="has not been read"):
        render({**MEM_SSD, "hadoopConfig": "hdfs-conf"})


def test_run_as_runs_every_process_as_the_user_with_init_users() -> None:
    raw = {**MEM_SSD, "runAs": {"uid": 1201, "gid": 1202, "user": "alluxio", "group": "birds"},
           "apiGateway": {"enabled": True},
           "initUsers": {"image": "registry.example.com/init-users", "imageTag": "v1"}}
    objects = render(raw)
    for workload in ("StatefulSet/demo-master", "StatefulSet/demo-worker", "DaemonSet/demo-fuse"):
        for container in pod(objects, workload)["containers"]:
            security = container["securityContext"]
            assert (security["runAsUser"], security["runAsGroup"]) == (1201, 1202), container["name"]
            assert {"name": "user", "mountPath": "/etc/passwd", "readOnly": True} in \
                container["volumeMounts"]
    master_init = pod(objects, "StatefulSet/demo-master")["initContainers"]
    worker_init = pod(objects, "StatefulSet/demo-worker")["initContainers"]
    fuse_init = pod(objects, "DaemonSet/demo-fuse")["initContainers"]
    assert [(x["name"], x["image"], x["args"]) for x in master_init + worker_init + fuse_init] == [
        ("init-users", "registry.example.com/init-users:v1", ["init_users"]),
        ("init-users", "registry.example.com/init-users:v1", ["init_users", "chmod_tierpath"]),
        ("init-fuse", "registry.example.com/init-users:v1", ["chmod_fuse_mountpoint"])]
    tier_dirs = "/dev/shm/default/demo:/mnt/ssd1/default/demo:/mnt/ssd2/default/demo"
    assert {"name": "FLUID_TIERSTORE_PATHS", "value": tier_dirs} in worker_init[0]["env"]
    assert {"name": "FLUID_INIT_USERS", "value": "1201:alluxio:1202,1202:birds"} in \
        master_init[0]["env"]
    fuse = pod(objects, "DaemonSet/demo-fuse")["containers"][0]
    assert fuse["securityContext"]["privileged"] is True
    volumes = {v["name"]: v for v in pod(objects, "StatefulSet/demo-worker")["volumes"]}
    assert volumes["user"]["hostPath"] == {"path": "/tmp/fluid/default/demo/passwd",
                                           "type": "FileOrCreate"}
    default = render({**MEM_SSD, "runAs": raw["runAs"]})
    assert pod(default, "StatefulSet/demo-master")["initContainers"][0]["image"] == (
        base.DEFAULT_INIT_IMAGE)
    assert "initContainers" not in pod(render(MEM_SSD), "StatefulSet/demo-master")


AFFINITY = {"nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
    {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-a"]}]}]}}}


def test_local_mounts_put_the_masters_where_the_dataset_may_be_cached() -> None:
    local = [{"mountPoint": "local:///mnt/data", "name": "data"}]
    master = pod(render(MEM_SSD, mounts=local, dataset=AFFINITY), "StatefulSet/demo-master")
    assert master["affinity"] == {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": AFFINITY["nodeAffinity"]["required"]}}
    remote = pod(render(MEM_SSD, dataset=AFFINITY), "StatefulSet/demo-master")
    assert "affinity" not in remote
    assert "affinity" not in pod(render(MEM_SSD, mounts=local), "StatefulSet/demo-master")


# -- through the engine ---------------------------------------------------------------------------


def test_engine_refuses_what_rendering_would_meet(harness: Any, make_snapshot: Any) -> None:
    engine = harness.engine()
    limited = {**MEM_SSD, "worker": {"resources": {"limits": {"memory": "1Gi"}}}}
    with pytest.raises(base.ValidationFailed, match="worker limits memory"):
        engine.validate(make_snapshot(spec=limited))
    unnamed = {**MEM_SSD, "fuse": {"volumeMounts": [{"name": "gone", "mountPath": "/g"}]}}
    with pytest.raises(base.ValidationFailed, match="'gone'"):
        engine.validate(make_snapshot(spec=unnamed))
    engine.validate(make_snapshot(spec=MEM_SSD))


async def test_engine_reports_the_api_gateway_endpoint(harness: Any, make_snapshot: Any) -> None:
    engine = harness.engine()
    snap = make_snapshot(spec={**MEM_SSD, "apiGateway": {"enabled": True}})
    ctx = await engine.context(snap)
    assert engine.component_status(snap)["apiGateway"] == {
        "endpoint": f"hbase-master-0.default:{ctx.ports['proxy-web']}"}
    assert engine.component_status(make_snapshot(spec=MEM_SSD))["apiGateway"] is None
