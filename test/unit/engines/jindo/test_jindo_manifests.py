"""Jindo (JindoCache) rendering: names, config files, cache sets, tiers, credentials, ports."""

from __future__ import annotations

import copy
import json
from typing import Any

import attrs
import pytest
from engine_render_ctx import render_context
from jindo_ini_support import parse_ini

from fluid.api import converter
from fluid.api.dataset import Dataset
from fluid.api.jindo import JindoRuntime
from fluid.engines.jindo import manifests

DATASET: dict[str, Any] = {
    "apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
    "metadata": {"name": "hadoop", "namespace": "big", "uid": "ds"},
    "spec": {"mounts": [{
        "mountPoint": "oss://my-bucket/data/", "name": "hadoop",
        "options": {"fs.oss.endpoint": "oss-cn-hangzhou-internal.aliyuncs.com"},
        "encryptOptions": [
            {"name": "fs.oss.accessKeyId",
             "valueFrom": {"secretKeyRef": {"name": "oss-cred", "key": "ak"}}},
            {"name": "fs.oss.accessKeySecret",
             "valueFrom": {"secretKeyRef": {"name": "oss-cred", "key": "sk"}}},
        ],
    }]},
}
RUNTIME: dict[str, Any] = {
    "apiVersion": "data.fluid.io/v1alpha1", "kind": "JindoRuntime",
    "metadata": {"name": "hadoop", "namespace": "big", "uid": "u1"},
    "spec": {"replicas": 2, "tieredstore": {"levels": [
        {"mediumtype": "HDD", "path": "/mnt/disk1,/mnt/disk2", "quotaList": "100Gi,50Gi",
         "high": "0.9", "low": "0.7"}]}},
}


def _render(*, runtime: dict[str, Any] = RUNTIME, dataset: dict[str, Any] = DATASET,
            ports: dict[str, int] | None = None) -> manifests.Rendered:
    from fluid.engines.base import ufs_mounts

    ctx = render_context(kind="JindoRuntime", namespace="big", name="hadoop",
                         runtime_type="jindo", ports=ports,
                         replicas=runtime["spec"].get("replicas", 1))
    ctx = attrs.evolve(ctx, ufs=ufs_mounts(dataset["spec"].get("mounts") or []))
    return manifests.render(manifests.RenderInput(
        runtime=converter.structure(runtime, JindoRuntime),
        dataset=converter.structure(dataset, Dataset), ctx=ctx))


def _container(obj: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = obj["spec"]["template"]["spec"]["containers"][0]
    return container


def test_objects_and_names() -> None:
    out = _render()

    assert [(o["kind"], o["metadata"]["name"]) for o in out.objects()] == [
        ("ConfigMap", "hadoop-jindofs-config"),
        ("ConfigMap", "hadoop-jindofs-client-config"),
        ("Service", "hadoop-jindofs-master-0"),
        ("StatefulSet", "hadoop-jindofs-master"),
        ("StatefulSet", "hadoop-jindofs-worker"),
        ("DaemonSet", "hadoop-jindofs-fuse"),
    ]
    assert out.master["spec"]["replicas"] == 1
    assert out.worker["spec"]["replicas"] == 2
    assert out.fuse["spec"]["template"]["spec"]["nodeSelector"] == {"fluid.io/f-big-hadoop": "true"}
    assert out.client_config["data"] == {
        "STORAGE_NAMESPACE_RPC_ADDRESS": "hadoop-jindofs-master-0.big:8101",
        "CLIENT_NAMESPACE_RPC_ADDRESS": "hadoop-jindofs-master-0.big:8101"}
    assert out.worker["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "jindo", "app.kubernetes.io/instance": "hadoop",
        "app.kubernetes.io/component": "worker"}
    assert out.services[0]["spec"]["selector"]["app.kubernetes.io/component"] == "master"


def test_config_sections_and_tiers() -> None:
    cfg = parse_ini(_render().config["data"]["jindocache.cfg"])

    assert set(cfg) == {"jindocache-common", "jindocache-server", "jindocache-worker", "common",
                        "jindocache-client"}
    worker = cfg["jindocache-worker"]
    assert worker["storage.data-dirs"] == (
        "/mnt/disk1/big/hadoop/jindocache,/mnt/disk2/big/hadoop/jindocache")
    assert worker["storage.data-dirs.capacities"] == "100g,50g"
    assert worker["storage.watermark.high.ratio"] == "0.9"
    assert worker["storage.rpc.port"] == "6101"
    assert "storage.ram.cache.size" not in worker
    server = cfg["jindocache-server"]
    assert server["namespace.meta-dir"] == "/mnt/disk1/big/hadoop/jindocache/server"
    assert server["namespace.backend.type"] == "rocksdb"
    assert cfg["jindocache-common"][
        "jindocache.oss.bucket.my-bucket.endpoint"] == "oss-cn-hangzhou-internal.aliyuncs.com"
    client = cfg["jindocache-client"]
    assert client["fs.jindocache.namespace.rpc.address"] == "hadoop-jindofs-master-0.big:8101"
    assert client["fs.jindocache.ram.cache.enable"] == "false"


def test_credentials_are_projected_never_written() -> None:
    out = _render()

    text = json.dumps([out.config, out.client_config])
    assert "oss-cred" not in text
    cfg = parse_ini(out.config["data"]["jindocache.cfg"])["jindocache-client"]
    assert cfg["fs.oss.bucket.my-bucket.provider.endpoint"] == "secrets:///token/my-bucket/"
    assert cfg["fs.oss.bucket.my-bucket.credentials.provider"] == (
        "com.aliyun.jindodata.oss.auth.CustomCredentialsProvider")
    for workload in (out.master, out.worker, out.fuse):
        pod = workload["spec"]["template"]["spec"]
        assert {"name": "jindofs-secret-token", "projected": {"sources": [{"secret": {
            "name": "oss-cred", "items": [{"key": "ak", "path": "my-bucket/AccessKeyId"},
                                          {"key": "sk", "path": "my-bucket/AccessKeySecret"}]}}]}
                } in pod["volumes"]
        assert {"name": "jindofs-secret-token", "mountPath": "/token",
                "readOnly": True} in _container(workload)["volumeMounts"]


def test_unsupported_encrypt_option_is_rejected() -> None:
    dataset = copy.deepcopy(DATASET)
    dataset["spec"]["mounts"][0]["encryptOptions"].append(
        {"name": "fs.oss.token", "valueFrom": {"secretKeyRef": {"name": "x", "key": "y"}}})

    with pytest.raises(manifests.RenderError, match=r"fs\.oss\.token"):
        _render(dataset=dataset)


def test_oss_needs_an_endpoint() -> None:
    dataset = copy.deepcopy(DATASET)
    dataset["spec"]["mounts"][0]["options"] = {}

    with pytest.raises(manifests.RenderError, match=r"fs\.oss\.endpoint"):
        _render(dataset=dataset)


def test_cachesets_from_mount_options() -> None:
    dataset = copy.deepcopy(DATASET)
    dataset["spec"]["mounts"][0]["options"].update(
        {"cacheStrategy": "DHT", "writePolicy": "WRITE_THROUGH", "readCacheReplica": "2"})

    xml = _render(dataset=dataset).config["data"]["cacheset.xml"]

    assert "<name>hadoop</name>" in xml
    assert "<path>oss://my-bucket/data/</path>" in xml
    assert "<cacheStrategy>DHT</cacheStrategy>" in xml
    assert "<metaPolicy><type>ONCE</type></metaPolicy>" in xml
    assert "<writePolicy>WRITE_THROUGH</writePolicy>" in xml
    assert "<readCacheReplica>2</readCacheReplica>" in xml


@pytest.mark.parametrize(("options", "match"), [
    ({"metaPolicy": "SOMETIMES"}, "metaPolicy"),
    ({"metaPolicy": "ALWAYS", "cacheStrategy": "DHT"}, "DHT"),
    ({"metaPolicy": "ALWAYS", "writePolicy": "CACHE_ONLY"}, "CACHE_ONLY"),
    ({"readCacheReplica": "two"}, "readCacheReplica"),
])
def test_bad_cacheset_options(options: dict[str, str], match: str) -> None:
    dataset = copy.deepcopy(DATASET)
    dataset["spec"]["mounts"][0]["options"].update(options)

    with pytest.raises(manifests.RenderError, match=match):
        _render(dataset=dataset)


def test_default_tier_is_one_gig_of_memory() -> None:
    runtime = copy.deepcopy(RUNTIME)
    del runtime["spec"]["tieredstore"]

    out = _render(runtime=runtime)

    worker = parse_ini(out.config["data"]["jindocache.cfg"])["jindocache-worker"]
    assert worker["storage.ram.cache.size"] == "1g"
    assert worker["storage.data-dirs"] == "/dev/shm/big/hadoop/jindocache"
    assert {"name": "datavolume-1", "mountPath": "/dev/shm"} in _container(out.worker)["volumeMounts"]


def test_quota_list_must_match_paths() -> None:
    runtime = copy.deepcopy(RUNTIME)
    runtime["spec"]["tieredstore"]["levels"][0]["quotaList"] = "1Gi"

    with pytest.raises(manifests.RenderError, match="quotaList"):
        _render(runtime=runtime)


def test_raft_ha_masters_and_ports() -> None:
    runtime = copy.deepcopy(RUNTIME)
    runtime["spec"]["master"] = {"replicas": 3}
    runtime["spec"]["fuse"] = {"metrics": {"enabled": True}}
    ports = {"master-rpc": 18000, "worker-rpc": 18001, "master-raft": 18002,
             "fuse-metrics": 18003}

    out = _render(runtime=runtime, ports=ports)

    assert manifests.port_names(converter.structure(runtime, JindoRuntime)) == [
        "master-rpc", "worker-rpc", "master-raft", "fuse-metrics"]
    assert out.master["spec"]["replicas"] == 3
    assert [s["metadata"]["name"] for s in out.services] == [
        "hadoop-jindofs-master-0", "hadoop-jindofs-master-1", "hadoop-jindofs-master-2"]
    server = parse_ini(out.config["data"]["jindocache.cfg"])["jindocache-server"]
    assert server["namespace.backend.type"] == "raft"
    assert server["namespace.backend.raft.initial-conf"] == (
        "hadoop-jindofs-master-0:18002:0,hadoop-jindofs-master-1:18002:0,"
        "hadoop-jindofs-master-2:18002:0")
    assert "-ometrics_port=18003" in _container(out.fuse)["args"]
    assert {"name": "raft", "containerPort": 18002} in _container(out.master)["ports"]


def test_fuse_args_follow_access_modes() -> None:
    dataset = copy.deepcopy(DATASET)
    dataset["spec"]["accessModes"] = ["ReadOnlyMany"]

    args = _container(_render(dataset=dataset).fuse)["args"]

    assert args == ["-okernel_cache", "-oro", "-oattr_timeout=7200", "-oentry_timeout=7200",
                    "-onegative_timeout=7200", "-ono_symlink", "-ometrics_port=0"]
    assert _container(_render().fuse)["args"][0] == "-oauto_cache"


def test_pvc_mount_becomes_local_ufs_volume() -> None:
    dataset = copy.deepcopy(DATASET)
    dataset["spec"]["mounts"] = [{"mountPoint": "pvc://data-claim/sub", "name": "data"}]

    out = _render(dataset=dataset)

    assert "<path>local:///underFSStorage/data</path>" in out.config["data"]["cacheset.xml"]
    pod = out.master["spec"]["template"]["spec"]
    assert {"name": "ufs-0", "persistentVolumeClaim": {"claimName": "data-claim"}} in pod["volumes"]
    assert {"name": "ufs-0", "mountPath": "/underFSStorage/data", "readOnly": True,
            "subPath": "sub"} in _container(out.master)["volumeMounts"]


def test_container_network_uses_cluster_dns() -> None:
    runtime = copy.deepcopy(RUNTIME)
    runtime["spec"]["networkmode"] = "ContainerNetwork"

    pod = _render(runtime=runtime).worker["spec"]["template"]["spec"]

    assert pod["hostNetwork"] is False
    assert pod["dnsPolicy"] == "ClusterFirst"
    assert manifests.port_names(converter.structure(runtime, JindoRuntime)) == []
