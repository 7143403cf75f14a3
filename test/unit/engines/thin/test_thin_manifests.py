"""Thin rendering: profile/runtime merge, FUSE config JSON, secrets as files, pvc://, worker."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from engine_render_ctx import render_context

from fluid.api import converter
from fluid.api.dataset import Dataset
from fluid.api.thin import ThinRuntime, ThinRuntimeProfile
from fluid.engines.thin import manifests

TARGET = "/runtime-mnt/thin/team/nfs-data/thin-fuse"

PROFILE: dict[str, Any] = {
    "apiVersion": "data.fluid.io/v1alpha1", "kind": "ThinRuntimeProfile",
    "metadata": {"name": "nfs"},
    "spec": {
        "fileSystemType": "nfs",
        "volumes": [{"name": "tools", "hostPath": {"path": "/opt/tools"}}],
        "fuse": {
            "image": "fluidcloudnative/nfs", "imageTag": "v0.1", "imagePullPolicy": "IfNotPresent",
            "command": ["/usr/local/bin/entrypoint.sh"],
            "env": [{"name": "FROM_PROFILE", "value": "1"}],
            "options": {"vers": "4", "nolock": ""},
            "nodeSelector": {"disk": "ssd"},
            "volumeMounts": [{"name": "tools", "mountPath": "/tools"}],
            "podMetadata": {"labels": {"a": "profile", "b": "profile"}},
        },
        "worker": {"image": "fluidcloudnative/nfs-worker", "imageTag": "v1"},
    },
}
DATASET: dict[str, Any] = {
    "apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
    "metadata": {"name": "nfs-data", "namespace": "team", "uid": "ds-uid"},
    "spec": {"mounts": [{"mountPoint": "nfs://nfs-server.storage.svc:/exports/data",
                         "name": "data", "options": {"timeo": "600"}}]},
}
RUNTIME: dict[str, Any] = {
    "apiVersion": "data.fluid.io/v1alpha1", "kind": "ThinRuntime",
    "metadata": {"name": "nfs-data", "namespace": "team", "uid": "u1"},
    "spec": {"profileName": "nfs"},
}


def _render(*, runtime: dict[str, Any] = RUNTIME, profile: dict[str, Any] = PROFILE,
            dataset: dict[str, Any] = DATASET, **kwargs: Any) -> manifests.Rendered:
    fuse_selector = (runtime["spec"].get("fuse") or {}).get("nodeSelector")
    ctx = render_context(kind="ThinRuntime", namespace="team", name="nfs-data",
                         runtime_type="thin", replicas=runtime["spec"].get("replicas", 1),
                         fuse_selector=fuse_selector)
    return manifests.render(manifests.RenderInput(
        runtime=converter.structure(runtime, ThinRuntime),
        profile=converter.structure(profile, ThinRuntimeProfile),
        dataset=converter.structure(dataset, Dataset), ctx=ctx, **kwargs))


def _pod(obj: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = obj["spec"]["template"]["spec"]
    return pod


def _config(out: manifests.Rendered) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(out.config["data"]["config.json"])
    return config


def test_profile_only_runtime_renders_fuse_and_config() -> None:
    out = _render()

    assert [o["metadata"]["name"] for o in out.objects()] == ["nfs-data-fuse-conf", "nfs-data-fuse"]
    pod = _pod(out.fuse)
    container = pod["containers"][0]
    assert container["name"] == "thin-fuse"
    assert container["image"] == "fluidcloudnative/nfs:v0.1"
    assert container["command"] == ["/usr/local/bin/entrypoint.sh"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MOUNT_POINT"] == TARGET
    assert env["MOUNT_OPTIONS"] == "nolock,vers=4"
    assert env["FROM_PROFILE"] == "1"
    assert env["FLUID_RUNTIME_TYPE"] == "thin"
    assert pod["nodeSelector"] == {"disk": "ssd", "fluid.io/f-team-nfs-data": "true"}
    assert {"name": "thin-conf", "mountPath": "/etc/fluid/config", "readOnly": True} in container[
        "volumeMounts"]
    assert {"name": "thin-fuse-mount", "mountPath": "/runtime-mnt/thin/team/nfs-data",
            "mountPropagation": "Bidirectional"} in container["volumeMounts"]
    assert {"name": "tools", "hostPath": {"path": "/opt/tools"}} in pod["volumes"]
    assert container["lifecycle"] == {"preStop": {"exec": {"command": ["umount", TARGET]}}}
    assert out.worker is None
    assert out.fuse["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "thin", "app.kubernetes.io/instance": "nfs-data",
        "app.kubernetes.io/component": "fuse"}


def test_config_json_shape() -> None:
    assert _config(_render()) == {
        "mounts": [{"mountPoint": "nfs://nfs-server.storage.svc:/exports/data", "name": "data",
                    "options": {"timeo": "600"}}],
        "targetPath": TARGET,
        "accessModes": ["ReadOnlyMany"],
    }


def test_runtime_overrides_and_merges_with_profile() -> None:
    runtime = copy.deepcopy(RUNTIME)
    runtime["spec"]["fuse"] = {
        "imageTag": "v0.2", "args": ["--debug"], "options": {"vers": "3"},
        "env": [{"name": "FROM_RUNTIME", "value": "2"}],
        "nodeSelector": {"zone": "a"}, "networkMode": "ContainerNetwork",
        "podMetadata": {"labels": {"b": "runtime"}},
    }

    out = _render(runtime=runtime)

    pod = _pod(out.fuse)
    container = pod["containers"][0]
    assert container["image"] == "fluidcloudnative/nfs:v0.2"
    assert container["command"] == ["/usr/local/bin/entrypoint.sh"]
    assert container["args"] == ["--debug"]
    names = [e["name"] for e in container["env"]]
    assert names.index("FROM_PROFILE") < names.index("FROM_RUNTIME") < names.index("MOUNT_POINT")
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MOUNT_OPTIONS"] == "nolock,vers=3"
    assert pod["nodeSelector"] == {"disk": "ssd", "zone": "a", "fluid.io/f-team-nfs-data": "true"}
    assert pod["hostNetwork"] is False
    assert pod["dnsPolicy"] == "ClusterFirst"
    labels = out.fuse["spec"]["template"]["metadata"]["labels"]
    assert (labels["a"], labels["b"]) == ("profile", "runtime")
    assert _config(out)["runtimeOptions"] == {"vers": "3"}


def test_read_only_dataset_adds_ro_option() -> None:
    dataset = copy.deepcopy(DATASET)
    dataset["spec"]["accessModes"] = ["ReadOnlyMany"]

    env = {e["name"]: e.get("value") for e in _pod(_render(dataset=dataset).fuse)["containers"][0]["env"]}

    assert env["MOUNT_OPTIONS"] == "nolock,ro,vers=4"


def test_encrypt_options_are_secret_files_never_values() -> None:
    dataset = copy.deepcopy(DATASET)
    dataset["spec"]["mounts"][0]["encryptOptions"] = [
        {"name": "password", "valueFrom": {"secretKeyRef": {"name": "nfs-cred", "key": "pw"}}}]
    dataset["spec"]["sharedEncryptOptions"] = [
        {"name": "user", "valueFrom": {"secretKeyRef": {"name": "nfs-cred", "key": "user"}}}]

    out = _render(dataset=dataset)

    mount = _config(out)["mounts"][0]
    assert mount["options"] == {"timeo": "600", "user": "/etc/fluid/secrets/nfs-cred/user",
                                "password": "/etc/fluid/secrets/nfs-cred/pw"}
    assert "encryptOptions" not in mount
    pod = _pod(out.fuse)
    assert pod["volumes"].count({"name": "thin-fuseconfig-nfs-cred",
                                 "secret": {"secretName": "nfs-cred"}}) == 1
    assert {"name": "thin-fuseconfig-nfs-cred", "mountPath": "/etc/fluid/secrets/nfs-cred",
            "readOnly": True} in pod["containers"][0]["volumeMounts"]


def test_option_in_both_options_and_encrypt_options_is_rejected() -> None:
    dataset = copy.deepcopy(DATASET)
    dataset["spec"]["mounts"][0]["encryptOptions"] = [
        {"name": "timeo", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]

    with pytest.raises(manifests.RenderError, match="timeo"):
        _render(dataset=dataset)


def test_pvc_mount_passes_csi_attributes_and_publish_secret() -> None:
    dataset = copy.deepcopy(DATASET)
    dataset["spec"]["mounts"] = [{"mountPoint": "pvc://shared-vol/sub", "name": "vol"}]
    pvc = manifests.PvcMount(
        claim="shared-vol",
        csi={"driver": "nas.csi.example", "volumeHandle": "h1",
             "volumeAttributes": {"server": "nas"}},
        mount_options=("vers=4",), publish_secret="nas-secret", publish_secret_dir="nas-secret")

    out = _render(dataset=dataset, pvc_mounts=[pvc])

    config = _config(out)
    assert config["persistentVolumeAttrs"] == {"shared-vol": {
        "driver": "nas.csi.example", "volumeHandle": "h1", "volumeAttributes": {"server": "nas"}}}
    assert config["persistentVolumeMountOptions"] == {"shared-vol": ["vers=4"]}
    pod = _pod(out.fuse)
    assert {"name": "nas-secret", "secret": {"secretName": "nas-secret"}} in pod["volumes"]
    assert {"name": "nas-secret", "mountPath": "/etc/fluid/secrets/nas-secret",
            "readOnly": True} in pod["containers"][0]["volumeMounts"]


def test_unresolved_or_second_pvc_mount_is_rejected() -> None:
    dataset = copy.deepcopy(DATASET)
    dataset["spec"]["mounts"] = [{"mountPoint": "pvc://a", "name": "a"}]
    with pytest.raises(manifests.RenderError, match="not been resolved"):
        _render(dataset=dataset)

    dataset["spec"]["mounts"].append({"mountPoint": "pvc://b", "name": "b"})
    with pytest.raises(manifests.RenderError, match="at most one"):
        _render(dataset=dataset)


@pytest.mark.parametrize(("policy", "expected"), [
    ("NotMountNodePublishSecret", (None, False)),
    ("MountNodePublishSecretIfExists", ("pub", False)),
    ("CopyNodePublishSecretAndMountIfNotExists", ("nfs-data-thin-publish-secret", True)),
    (None, ("pub", False)),
])
def test_publish_secret_policy(policy: str | None, expected: tuple[str | None, bool]) -> None:
    from fluid.api.constants import NodePublishSecretPolicy

    chosen = NodePublishSecretPolicy(policy) if policy else None
    assert manifests.plan_publish_secret(policy=chosen, name="nfs-data",
                                         secret_name="pub") == expected


def test_host_volume_option() -> None:
    dataset = copy.deepcopy(DATASET)
    dataset["spec"]["mounts"][0]["options"]["fluid.fuse.hostvolume"] = "/data/host:/data/in"

    pod = _pod(_render(dataset=dataset).fuse)

    assert {"name": "fluid-fuse-hostvolume-0", "hostPath": {"path": "/data/host"}} in pod["volumes"]
    assert {"name": "fluid-fuse-hostvolume-0", "mountPath": "/data/in",
            "readOnly": False} in pod["containers"][0]["volumeMounts"]

    dataset["spec"]["mounts"][0]["options"]["fluid.fuse.hostvolume"] = "relative/path"
    with pytest.raises(manifests.RenderError, match="hostvolume"):
        _render(dataset=dataset)


def test_post_start_is_rejected_and_pre_stop_overridable() -> None:
    runtime = copy.deepcopy(RUNTIME)
    runtime["spec"]["fuse"] = {"lifecycle": {"preStop": {"exec": {"command": ["fusermount", "-u"]}}}}
    container = _pod(_render(runtime=runtime).fuse)["containers"][0]
    assert container["lifecycle"] == {"preStop": {"exec": {"command": ["fusermount", "-u"]}}}

    runtime["spec"]["fuse"] = {"lifecycle": {"postStart": {"exec": {"command": ["x"]}}}}
    with pytest.raises(manifests.RenderError, match="postStart"):
        _render(runtime=runtime)


def test_missing_image_is_rejected() -> None:
    profile = copy.deepcopy(PROFILE)
    del profile["spec"]["fuse"]["image"]

    with pytest.raises(manifests.RenderError, match="image"):
        _render(profile=profile)


def test_volume_mount_must_name_a_volume_of_its_owner() -> None:
    runtime = copy.deepcopy(RUNTIME)
    runtime["spec"]["fuse"] = {"volumeMounts": [{"name": "tools", "mountPath": "/t2"}]}

    with pytest.raises(manifests.RenderError, match="ThinRuntime volumeMount 'tools'"):
        _render(runtime=runtime)


def test_enabled_worker_and_cache_dir() -> None:
    runtime = copy.deepcopy(RUNTIME)
    runtime["spec"].update({
        "replicas": 2,
        "worker": {"enabled": True, "imageTag": "v2", "ports": [{"containerPort": 9000}]},
        "tieredstore": {"levels": [{"mediumtype": "SSD", "path": "/var/cache/thin", "quota": "1Gi"}]},
    })

    out = _render(runtime=runtime)

    assert out.worker is not None
    assert out.worker["metadata"]["name"] == "nfs-data-worker"
    assert out.worker["spec"]["replicas"] == 2
    worker = _pod(out.worker)["containers"][0]
    assert worker["image"] == "fluidcloudnative/nfs-worker:v2"
    assert worker["ports"] == [{"containerPort": 9000}]
    assert {"name": "cache-dir", "mountPath": "/var/cache/thin"} in worker["volumeMounts"]
    fuse_mounts = _pod(out.fuse)["containers"][0]["volumeMounts"]
    assert {"name": "cache-dir", "mountPath": "/var/cache/thin"} in fuse_mounts
    assert out.worker["metadata"]["labels"]["fluid.io/dataset-placement"] == "Exclusive"
    assert [o["kind"] for o in out.objects()] == ["ConfigMap", "DaemonSet", "StatefulSet"]


def test_image_pull_secrets_runtime_beats_profile() -> None:
    profile = copy.deepcopy(PROFILE)
    profile["spec"]["imagePullSecrets"] = [{"name": "p"}]
    assert _pod(_render(profile=profile).fuse)["imagePullSecrets"] == [{"name": "p"}]

    runtime = copy.deepcopy(RUNTIME)
    runtime["spec"]["imagePullSecrets"] = [{"name": "r"}]
    assert _pod(_render(profile=profile, runtime=runtime).fuse)["imagePullSecrets"] == [{"name": "r"}]
