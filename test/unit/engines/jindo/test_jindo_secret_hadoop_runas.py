"""Jindo rendering of ``spec.secret``, ``spec.hadoopConfig``, ``spec.runAs`` and ``spec.user``.

The Secret is mounted whole at ``/token`` (never read, never written into a ConfigMap or
an env var); the Hadoop files the engine found are mounted at ``/<file>``; ``runAs`` sets the
master's and workers' user with an init container handing them their cache directories,
while FUSE stays root.
"""

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
from fluid.engines.base import (
    EngineConfig,
    EngineDeps,
    HadoopConfig,
    MemoryView,
    RuntimeKey,
    Snapshot,
    ValidationFailed,
    hadoop_config,
)
from fluid.engines.jindo import engine, manifests

DATASET: dict[str, Any] = {
    "apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
    "metadata": {"name": "spark", "namespace": "etl"},
    "spec": {"mounts": [{"mountPoint": "oss://lake/warehouse/", "name": "warehouse",
                         "options": {"fs.oss.endpoint": "oss-cn-beijing-internal.aliyuncs.com"}}]},
}
RUNTIME: dict[str, Any] = {
    "apiVersion": "data.fluid.io/v1alpha1", "kind": "JindoRuntime",
    "metadata": {"name": "spark", "namespace": "etl"},
    "spec": {"replicas": 1, "secret": "lake-sts", "hadoopConfig": "hdfs-conf",
             "runAs": {"uid": 1005, "gid": 1006, "user": "spark", "group": "analytics"},
             "user": "spark",
             "tieredstore": {"levels": [{"mediumtype": "SSD", "path": "/mnt/ssd0,/mnt/ssd1",
                                         "quota": "40Gi"}]}},
}
BOTH = HadoopConfig(configmap="hdfs-conf", files=("hdfs-site.xml", "core-site.xml"))


def _render(*, runtime: dict[str, Any] = RUNTIME, dataset: dict[str, Any] = DATASET,
            hadoop: HadoopConfig | None = BOTH) -> manifests.Rendered:
    ctx = render_context(kind="JindoRuntime", namespace="etl", name="spark",
                         runtime_type="jindo", replicas=1)
    return manifests.render(manifests.RenderInput(
        runtime=converter.structure(runtime, JindoRuntime),
        dataset=converter.structure(dataset, Dataset), ctx=ctx, hadoop=hadoop))


def _without(spec_key: str) -> dict[str, Any]:
    runtime = copy.deepcopy(RUNTIME)
    del runtime["spec"][spec_key]
    return runtime


def _pod(workload: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = workload["spec"]["template"]["spec"]
    return pod


def _main(workload: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = _pod(workload)["containers"][0]
    return container


# -- spec.secret --------------------------------------------------------------------------------


def test_secret_is_mounted_whole_at_token_in_every_component() -> None:
    out = _render()

    for workload in (out.master, out.worker, out.fuse):
        assert {"name": "jindofs-secret-token", "secret": {"secretName": "lake-sts"}} in \
            _pod(workload)["volumes"]
        assert {"name": "jindofs-secret-token", "mountPath": "/token", "readOnly": True} in \
            _main(workload)["volumeMounts"]
        assert all("valueFrom" not in e for e in _main(workload)["env"])


def test_secret_names_the_token_provider_in_every_config_section() -> None:
    out = _render()

    cfg = parse_ini(out.config["data"]["jindocache.cfg"])
    sdk = parse_ini(out.config["data"]["jindosdk.cfg"])
    for section in (cfg["jindocache-common"], cfg["common"], sdk["common"]):
        assert section["default.credential.provider"] == "secrets:///token/"
        assert section["jindocache.oss.provider.endpoint"] == "secrets:///token/"
    for client in (cfg["jindocache-client"], sdk["jindosdk"]):
        assert client["fs.oss.credentials.provider"] == (
            "com.aliyun.jindodata.oss.auth.CustomCredentialsProvider")
        assert client["fs.oss.provider.endpoint"] == "secrets:///token/"
        assert client["fs.oss.provider.format"] == "JSON"
    assert "lake-sts" not in json.dumps([out.config, out.client_config])


def test_secret_authenticates_each_mounted_object_store() -> None:
    dataset = copy.deepcopy(DATASET)
    dataset["spec"]["mounts"].append({"mountPoint": "s3://logs/", "name": "logs",
                                      "options": {"fs.s3.endpoint": "s3.example.com"}})

    cfg = parse_ini(_render(dataset=dataset).config["data"]["jindocache.cfg"])

    assert {k for k in cfg["jindocache-common"] if k.endswith(".provider.endpoint")} == {
        "jindocache.oss.provider.endpoint", "jindocache.s3.provider.endpoint"}
    assert cfg["jindocache-client"]["fs.s3.provider.endpoint"] == "secrets:///token/"


def test_no_credentials_means_no_provider() -> None:
    cfg = parse_ini(_render(runtime=_without("secret")).config["data"]["jindocache.cfg"])

    assert cfg["jindocache-common"]["default.credential.provider"] == "none"
    assert not any("provider" in k for k in cfg["jindocache-client"])


def test_secret_and_bucket_projections_share_the_token_volume() -> None:
    dataset = copy.deepcopy(DATASET)
    dataset["spec"]["mounts"][0]["encryptOptions"] = [
        {"name": "fs.oss.accessKeyId", "valueFrom": {"secretKeyRef": {"name": "ak", "key": "id"}}},
        {"name": "fs.oss.accessKeySecret",
         "valueFrom": {"secretKeyRef": {"name": "ak", "key": "secret"}}}]

    out = _render(dataset=dataset)

    assert {"name": "jindofs-secret-token", "projected": {"sources": [
        {"secret": {"name": "lake-sts"}},
        {"secret": {"name": "ak", "items": [{"key": "id", "path": "lake/AccessKeyId"},
                                            {"key": "secret", "path": "lake/AccessKeySecret"}]}},
    ]}} in _pod(out.worker)["volumes"]
    common = parse_ini(out.config["data"]["jindocache.cfg"])["jindocache-common"]
    assert common["jindocache.oss.bucket.lake.provider.endpoint"] == "secrets:///token/lake/"


def test_secret_conflicting_with_unbucketed_encrypt_options_is_rejected() -> None:
    dataset = copy.deepcopy(DATASET)
    dataset["spec"]["mounts"] = [{
        "mountPoint": "s3://logs/", "name": "logs",
        "encryptOptions": [{"name": "fs.s3.accessKeyId",
                            "valueFrom": {"secretKeyRef": {"name": "s3", "key": "id"}}}]}]
    runtime = converter.structure(RUNTIME, JindoRuntime)

    with pytest.raises(manifests.RenderError, match="/token/AccessKeyId"):
        manifests.validate(runtime, converter.structure(dataset, Dataset))
    with pytest.raises(manifests.RenderError, match=r"spec\.secret"):
        _render(dataset=dataset)
    manifests.validate(converter.structure(_without("secret"), JindoRuntime),
                       converter.structure(dataset, Dataset))


# -- spec.hadoopConfig ----------------------------------------------------------------------------


def test_hadoop_files_are_mounted_read_only_in_every_component() -> None:
    out = _render()

    for workload in (out.master, out.worker, out.fuse):
        assert {"name": "hdfs-confs", "configMap": {"name": "hdfs-conf", "items": [
            {"key": "hdfs-site.xml", "path": "hdfs-site.xml"},
            {"key": "core-site.xml", "path": "core-site.xml"}]}} in _pod(workload)["volumes"]
        mounts = [m for m in _main(workload)["volumeMounts"] if m["name"] == "hdfs-confs"]
        assert mounts == [
            {"name": "hdfs-confs", "mountPath": "/hdfs-site.xml", "subPath": "hdfs-site.xml",
             "readOnly": True},
            {"name": "hdfs-confs", "mountPath": "/core-site.xml", "subPath": "core-site.xml",
             "readOnly": True}]


def test_only_the_files_the_configmap_holds_are_mounted() -> None:
    found = hadoop_config("hdfs-conf", {"core-site.xml": "<configuration/>",
                                                  "README": "x"})

    out = _render(hadoop=found)

    assert found == HadoopConfig(configmap="hdfs-conf", files=("core-site.xml",))
    assert [m["mountPath"] for m in _main(out.master)["volumeMounts"]
            if m["name"] == "hdfs-confs"] == ["/core-site.xml"]


@pytest.mark.parametrize(("data", "match"), [
    (None, "hadoopConfig 'hdfs-conf' is not found"),
    ({"yarn-site.xml": "<configuration/>"}, r"neither hdfs-site\.xml nor core-site\.xml"),
])
def test_unusable_hadoop_configmap(data: dict[str, str] | None, match: str) -> None:
    with pytest.raises(ValidationFailed, match=match):
        hadoop_config("hdfs-conf", data)


def test_render_refuses_a_hadoop_config_it_was_not_given() -> None:
    with pytest.raises(ValidationFailed, match="has not been read"):
        _render(hadoop=None)
    with pytest.raises(ValidationFailed, match="has not been read"):
        _render(hadoop=attrs.evolve(BOTH, configmap="other"))
    out = _render(runtime=_without("hadoopConfig"), hadoop=None)
    assert all(v["name"] != "hdfs-confs" for v in _pod(out.worker)["volumes"])


# -- spec.runAs and spec.user ---------------------------------------------------------------------


def test_run_as_sets_master_and_worker_identity_and_fuse_stays_root() -> None:
    out = _render()

    for workload in (out.master, out.worker):
        assert _pod(workload)["securityContext"] == {
            "runAsUser": 1005, "runAsGroup": 1006, "fsGroup": 1006}
    assert _pod(out.fuse)["securityContext"] == {"runAsUser": 0, "runAsGroup": 0}
    assert "initContainers" not in _pod(out.fuse)
    default = _render(runtime=_without("runAs"))
    for workload in (default.master, default.worker):
        assert _pod(workload)["securityContext"] == {"runAsUser": 0, "runAsGroup": 0}
        assert "initContainers" not in _pod(workload)


def test_run_as_hands_the_cache_directories_to_the_user() -> None:
    out = _render()

    [worker_init] = _pod(out.worker)["initContainers"]
    assert worker_init["name"] == "init-cache-dirs"
    assert worker_init["securityContext"] == {"runAsUser": 0, "runAsGroup": 0}
    assert worker_init["image"] == _main(out.worker)["image"]
    assert worker_init["command"] == [
        "sh", "-c", 'mkdir -p "$@" && chown -R 1005:1006 "$@"', "init-cache-dirs",
        "/mnt/ssd0/etl/spark/jindocache", "/mnt/ssd1/etl/spark/jindocache"]
    assert worker_init["volumeMounts"] == [{"name": "datavolume-1", "mountPath": "/mnt/ssd0"},
                                           {"name": "datavolume-2", "mountPath": "/mnt/ssd1"}]
    [master_init] = _pod(out.master)["initContainers"]
    assert master_init["command"][4:] == ["/mnt/ssd0/etl/spark/jindocache"]
    assert master_init["volumeMounts"] == [
        {"name": "datavolume-1", "mountPath": "/mnt/ssd0/etl/spark/jindocache"}]


def test_user_becomes_run_as_user_everywhere() -> None:
    out = _render()

    for workload in (out.master, out.worker, out.fuse):
        assert {"name": "RUN_AS_USER", "value": "spark"} in _main(workload)["env"]
    default = _render(runtime=_without("user"))
    assert all(e["name"] != "RUN_AS_USER" for e in _main(default.worker)["env"])


# -- the engine ----------------------------------------------------------------------------------


def test_engine_validation_names_the_conflict() -> None:
    deps = EngineDeps(client=None, view=MemoryView(), ports=None,  # type: ignore[arg-type]
                      events=None, executor=None, config=EngineConfig())  # type: ignore[arg-type]
    eng = engine.JindoEngine(deps, RuntimeKey("JindoRuntime", "etl", "spark"))
    dataset = copy.deepcopy(DATASET)
    dataset["spec"]["mounts"][0]["mountPoint"] = "cos://logs/"
    dataset["spec"]["mounts"][0]["encryptOptions"] = [
        {"name": "fs.cos.accessKeySecret", "valueFrom": {"secretKeyRef": {"name": "c", "key": "k"}}}]

    with pytest.raises(ValidationFailed, match=r"spec\.secret 'lake-sts'"):
        eng.validate(Snapshot(runtime=RUNTIME, dataset=dataset))
    eng.validate(Snapshot(runtime=RUNTIME, dataset=DATASET))
