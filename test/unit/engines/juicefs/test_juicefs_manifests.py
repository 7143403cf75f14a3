"""JuiceFS rendering: the seed 002 runtime, both editions, options, scripts, secrets, volumes."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from engine_render_ctx import render_context

from fluid.api import converter
from fluid.api.dataset import Dataset
from fluid.api.juicefs import JuiceFSRuntime
from fluid.engines.juicefs import manifests

MOUNT_PATH = "/runtime-mnt/juicefs/demo/jfsdemo/juicefs-fuse"


def _render(dataset: dict[str, Any], runtime: dict[str, Any], *,
            ports: dict[str, int] | None = None) -> manifests.Rendered:
    model = converter.structure(runtime, JuiceFSRuntime)
    ctx = render_context(kind="JuiceFSRuntime", namespace="demo", name="jfsdemo",
                         runtime_type="juicefs", ports=ports,
                         replicas=runtime["spec"].get("replicas", 1))
    return manifests.render(manifests.RenderInput(
        runtime=model, dataset=converter.structure(dataset, Dataset), ctx=ctx))


def _container(obj: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = obj["spec"]["template"]["spec"]["containers"][0]
    return container


def _script(cm: dict[str, Any]) -> str:
    script: str = cm["data"]["script.sh"]
    return script


def _enterprise(dataset: dict[str, Any]) -> dict[str, Any]:
    ds = copy.deepcopy(dataset)
    mount = ds["spec"]["mounts"][0]
    mount["encryptOptions"] = [
        {"name": "token", "valueFrom": {"secretKeyRef": {"name": "jfs-ee", "key": "token"}}},
        {"name": "access-key", "valueFrom": {"secretKeyRef": {"name": "jfs-ee", "key": "ak"}}},
    ]
    return ds


def test_seed_002_renders_community_workers_and_fuse(seed_dataset: dict[str, Any],
                                                      seed_runtime: dict[str, Any]) -> None:
    out = _render(seed_dataset, seed_runtime)

    assert out.config.edition is manifests.Edition.COMMUNITY
    assert [o["metadata"]["name"] for o in out.objects()] == [
        "jfsdemo-worker-script", "jfsdemo-fuse-script", "jfsdemo-worker", "jfsdemo-fuse"]
    assert out.worker["kind"] == "StatefulSet"
    assert out.worker["spec"]["replicas"] == 5
    assert out.fuse["kind"] == "DaemonSet"
    assert out.fuse["spec"]["template"]["spec"]["nodeSelector"] == {"fluid.io/f-demo-jfsdemo": "true"}
    assert _container(out.worker)["image"] == "juicedata/mount:ce-v1.3.0"
    for obj in out.objects():
        assert obj["metadata"]["namespace"] == "demo"
        assert obj["metadata"]["labels"]["fluid.io/dataset-id"] == "demo-jfsdemo"
    worker_pod = out.worker["spec"]["template"]
    assert out.worker["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "juicefs", "app.kubernetes.io/instance": "jfsdemo",
        "app.kubernetes.io/component": "worker"}
    assert worker_pod["metadata"]["labels"]["app.kubernetes.io/component"] == "worker"
    assert worker_pod["spec"]["affinity"] == {"podAntiAffinity": {"marker": "placement"}}


def test_seed_002_commands_are_exact(seed_dataset: dict[str, Any],
                                     seed_runtime: dict[str, Any]) -> None:
    out = _render(seed_dataset, seed_runtime)

    fuse_script = _script(out.fuse_script)
    assert ("/usr/local/bin/juicefs format --access-key=\"${ACCESS_KEY}\" "
            "--secret-key=\"${SECRET_KEY}\" --storage=oss --bucket='<bucket-url>' "
            "\"${METAURL}\" minio") in fuse_script
    assert fuse_script.splitlines()[-1] == (
        f"exec /bin/mount.juicefs \"${{METAURL}}\" {MOUNT_PATH} -o "
        "cache-dir=/dev/shm,cache-size=4096,free-space-ratio=0.1,metrics=0.0.0.0:9567")
    assert fuse_script.startswith("#!/bin/bash\nset -e\n")
    assert "set -e" not in _script(out.worker_script)


def test_secrets_travel_only_as_secret_key_refs(seed_dataset: dict[str, Any],
                                                seed_runtime: dict[str, Any]) -> None:
    out = _render(seed_dataset, seed_runtime)

    for workload in (out.worker, out.fuse):
        env = {e["name"]: e for e in _container(workload)["env"]}
        for env_name, key in (("METAURL", "metaurl"), ("ACCESS_KEY", "access-key"),
                              ("SECRET_KEY", "secret-key")):
            assert env[env_name] == {"name": env_name, "valueFrom": {
                "secretKeyRef": {"name": "jfs-secret", "key": key}}}
    for cm in (out.worker_script, out.fuse_script):
        text = json.dumps(cm)
        assert "jfs-secret" not in text  # scripts name env vars, not Secrets
        assert "valueFrom" not in text


def test_metrics_port_allocated_in_host_network(seed_dataset: dict[str, Any],
                                                seed_runtime: dict[str, Any]) -> None:
    out = _render(seed_dataset, seed_runtime,
                  ports={"worker-metrics": 14001, "fuse-metrics": 14002})

    assert "metrics=0.0.0.0:14001" in _script(out.worker_script)
    assert "metrics=0.0.0.0:14002" in _script(out.fuse_script)
    assert _container(out.worker)["ports"] == [
        {"name": "metrics", "containerPort": 14001, "protocol": "TCP"}]
    assert out.fuse["spec"]["template"]["spec"]["hostNetwork"] is True


def test_enterprise_edition_auths_with_token_and_joins_cache_group(
        seed_dataset: dict[str, Any], seed_runtime: dict[str, Any]) -> None:
    out = _render(_enterprise(seed_dataset), seed_runtime)

    assert out.config.edition is manifests.Edition.ENTERPRISE
    fuse_script = _script(out.fuse_script)
    assert ("/usr/bin/juicefs auth --token=\"${TOKEN}\" --accesskey=\"${ACCESS_KEY}\" "
            "--bucket='<bucket-url>' minio") in fuse_script
    assert "if [ ! -f /root/.juicefs/minio.conf ]; then" in fuse_script
    assert fuse_script.splitlines()[-1] == (
        f"exec /sbin/mount.juicefs minio {MOUNT_PATH} -o cache-dir=/dev/shm,"
        "cache-group=demo-jfsdemo,cache-size=4096,foreground,free-space-ratio=0.1,"
        "no-sharing,no-update")
    worker_mount = _script(out.worker_script).splitlines()[-1]
    assert "no-sharing" not in worker_mount
    assert "cache-group=demo-jfsdemo" in worker_mount
    assert _container(out.worker)["image"] == "juicedata/mount:ee-5.2.10-eb0a8b3"
    assert _container(out.worker)["ports"] == []


def test_enterprise_without_token_skips_auth(seed_dataset: dict[str, Any],
                                            seed_runtime: dict[str, Any]) -> None:
    ds = copy.deepcopy(seed_dataset)
    ds["spec"]["mounts"][0]["encryptOptions"] = []

    out = _render(ds, seed_runtime)

    assert out.config.edition is manifests.Edition.ENTERPRISE
    assert "auth" not in _script(out.fuse_script)


def test_shared_metaurl_selects_community(seed_dataset: dict[str, Any],
                                          seed_runtime: dict[str, Any]) -> None:
    ds = copy.deepcopy(seed_dataset)
    ds["spec"]["mounts"][0]["encryptOptions"] = []
    ds["spec"]["sharedEncryptOptions"] = [
        {"name": "metaurl", "valueFrom": {"secretKeyRef": {"name": "s", "key": "m"}}}]

    assert manifests.edition_of(converter.structure(ds, Dataset)) is manifests.Edition.COMMUNITY


def test_read_only_dataset_mounts_ro_with_long_caches(seed_dataset: dict[str, Any],
                                                      seed_runtime: dict[str, Any]) -> None:
    ds = copy.deepcopy(seed_dataset)
    ds["spec"]["accessModes"] = ["ReadOnlyMany"]

    mount = _script(_render(ds, seed_runtime).fuse_script).splitlines()[-1]

    assert "attr-cache=7200" in mount
    assert "entry-cache=7200" in mount
    assert ",ro" in mount or "-o ro," in mount


def test_option_precedence_and_bucket2_filter(seed_dataset: dict[str, Any],
                                              seed_runtime: dict[str, Any]) -> None:
    ds = copy.deepcopy(seed_dataset)
    ds["spec"]["sharedOptions"] = {"trash-days": "3", "max-uploads": "10"}
    ds["spec"]["mounts"][0]["options"].update({"max-uploads": "20", "bucket2": "b2"})
    rt = copy.deepcopy(seed_runtime)
    rt["spec"]["fuse"] = {"options": {"max-uploads": "30", "cache-size": "100"}}

    mount = _script(_render(ds, rt).fuse_script).splitlines()[-1]

    options = mount.split(" -o ")[1].split(",")
    assert "max-uploads=30" in options
    assert "cache-size=100" in options
    assert "trash-days=3" in options
    assert not any(o.startswith("bucket2") for o in options)


def test_quota_needs_a_subdirectory(seed_dataset: dict[str, Any],
                                    seed_runtime: dict[str, Any]) -> None:
    ds = copy.deepcopy(seed_dataset)
    ds["spec"]["mounts"][0]["options"]["quota"] = "2Gi"

    with pytest.raises(manifests.RenderError, match="sub-directory"):
        _render(ds, seed_runtime)

    ds["spec"]["mounts"][0]["mountPoint"] = "juicefs:///team/a"
    out = _render(ds, seed_runtime)
    script = _script(out.fuse_script)
    assert "/usr/local/bin/juicefs quota set \"${METAURL}\" --path /team/a --capacity 2" in script
    assert "subdir=/team/a" in script.splitlines()[-1]
    assert "quota" not in script.splitlines()[-1]


def test_tiny_quota_is_rejected(seed_dataset: dict[str, Any], seed_runtime: dict[str, Any]) -> None:
    ds = copy.deepcopy(seed_dataset)
    ds["spec"]["mounts"][0]["options"]["quota"] = "100Mi"
    ds["spec"]["mounts"][0]["mountPoint"] = "juicefs:///a"

    with pytest.raises(manifests.RenderError, match="at least 1Gi"):
        _render(ds, seed_runtime)


def test_cache_dirs_become_volumes(seed_dataset: dict[str, Any],
                                   seed_runtime: dict[str, Any]) -> None:
    rt = copy.deepcopy(seed_runtime)
    rt["spec"]["tieredstore"]["levels"][0].update(
        {"mediumtype": "SSD", "path": "/mnt/a:/mnt/b", "quota": "10Gi"})

    out = _render(seed_dataset, rt)

    volumes = out.worker["spec"]["template"]["spec"]["volumes"]
    assert {"name": "cache-dir-0", "hostPath": {"path": "/mnt/a", "type": "DirectoryOrCreate"}} in volumes
    assert {"name": "cache-dir-1", "hostPath": {"path": "/mnt/b", "type": "DirectoryOrCreate"}} in volumes
    assert {"name": "cache-dir-1", "mountPath": "/mnt/b"} in _container(out.fuse)["volumeMounts"]
    assert "cache-dir=/mnt/a:/mnt/b" in _script(out.worker_script)


def test_empty_dir_cache(seed_dataset: dict[str, Any], seed_runtime: dict[str, Any]) -> None:
    rt = copy.deepcopy(seed_runtime)
    rt["spec"]["tieredstore"]["levels"][0].update(
        {"volumeType": "emptyDir", "volumeSource": {"emptyDir": {"medium": "Memory"}}})

    volumes = _render(seed_dataset, rt).worker["spec"]["template"]["spec"]["volumes"]

    assert {"name": "cache-dir-0", "emptyDir": {"medium": "Memory"}} in volumes


def test_no_tier_uses_default_cache_dir(seed_dataset: dict[str, Any],
                                        seed_runtime: dict[str, Any]) -> None:
    rt = copy.deepcopy(seed_runtime)
    del rt["spec"]["tieredstore"]

    assert "-o cache-dir=/var/jfsCache,metrics" in _script(_render(seed_dataset, rt).fuse_script)


def test_extra_encrypt_options_become_env_refs(seed_dataset: dict[str, Any],
                                               seed_runtime: dict[str, Any]) -> None:
    ds = copy.deepcopy(seed_dataset)
    ds["spec"]["mounts"][0]["encryptOptions"].append(
        {"name": "session-token", "valueFrom": {"secretKeyRef": {"name": "x", "key": "st"}}})

    out = _render(ds, seed_runtime)

    assert "--session-token=\"${SESSION_TOKEN}\"" in _script(out.fuse_script)
    env = {e["name"]: e for e in _container(out.fuse)["env"]}
    assert env["SESSION_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "x", "key": "st"}}


def test_bad_encrypt_option_name_is_rejected(seed_dataset: dict[str, Any],
                                             seed_runtime: dict[str, Any]) -> None:
    ds = copy.deepcopy(seed_dataset)
    ds["spec"]["mounts"][0]["encryptOptions"].append(
        {"name": "1bad name", "valueFrom": {"secretKeyRef": {"name": "x", "key": "k"}}})

    with pytest.raises(manifests.RenderError, match="environment variable"):
        _render(ds, seed_runtime)


def test_option_values_are_shell_quoted(seed_dataset: dict[str, Any],
                                        seed_runtime: dict[str, Any]) -> None:
    ds = copy.deepcopy(seed_dataset)
    ds["spec"]["mounts"][0]["options"]["storage"] = "oss; touch /pwned"

    script = _script(_render(ds, seed_runtime).fuse_script)

    assert "--storage='oss; touch /pwned'" in script
    assert "; touch /pwned " not in script.replace("--storage='oss; touch /pwned'", "")


def test_container_network_and_user_volumes(seed_dataset: dict[str, Any],
                                            seed_runtime: dict[str, Any]) -> None:
    rt = copy.deepcopy(seed_runtime)
    rt["spec"]["volumes"] = [{"name": "conf", "configMap": {"name": "my-conf"}}]
    rt["spec"]["worker"] = {"networkMode": "ContainerNetwork",
                            "volumeMounts": [{"name": "conf", "mountPath": "/etc/conf"}],
                            "podMetadata": {"labels": {"team": "a"}}}

    out = _render(seed_dataset, rt)

    pod = out.worker["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is False
    assert "dnsPolicy" not in pod
    assert {"name": "conf", "configMap": {"name": "my-conf"}} in pod["volumes"]
    assert out.worker["spec"]["template"]["metadata"]["labels"]["team"] == "a"
    assert out.worker["spec"]["template"]["metadata"]["labels"]["role"] == "juicefs-worker"


def test_volume_mount_without_volume_is_rejected(seed_dataset: dict[str, Any],
                                                 seed_runtime: dict[str, Any]) -> None:
    rt = copy.deepcopy(seed_runtime)
    rt["spec"]["fuse"] = {"volumeMounts": [{"name": "missing", "mountPath": "/x"}]}

    with pytest.raises(manifests.RenderError, match="missing"):
        _render(seed_dataset, rt)


def test_mount_point_must_be_juicefs(seed_dataset: dict[str, Any],
                                     seed_runtime: dict[str, Any]) -> None:
    ds = copy.deepcopy(seed_dataset)
    ds["spec"]["mounts"][0]["mountPoint"] = "s3://bucket/"

    with pytest.raises(manifests.RenderError, match="juicefs:///"):
        _render(ds, seed_runtime)
