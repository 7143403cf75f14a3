"""The pod pieces engines share through ``fluid.engines.base``: user volumes chosen by
volumeMounts, hadoopConfig files, the init-users containers of a non-root runtime, and
Secret-backed options as container variables."""

from __future__ import annotations

import pytest

from fluid.api.base import PodMetadata
from fluid.api.converter import structure
from fluid.api.dataset import Dataset, User
from fluid.api.runtime_common import InitUsersSpec
from fluid.engines import base

KEY = base.RuntimeKey("AlluxioRuntime", "ns", "demo")
VOLUMES = [{"name": "a", "emptyDir": {}}, {"name": "b", "secret": {"secretName": "s"}},
           {"name": "c", "emptyDir": {}}]


def test_user_volumes_are_those_the_mounts_name_once_each_in_mount_order() -> None:
    mounts = [{"name": "b", "mountPath": "/b"}, {"name": "a", "mountPath": "/a"},
              {"name": "b", "mountPath": "/b2"}]
    assert base.user_volumes(VOLUMES, mounts) == [VOLUMES[1], VOLUMES[0]]
    assert base.user_volumes(None, []) == []
    with pytest.raises(base.ValidationFailed, match="'z'"):
        base.user_volumes(VOLUMES, [{"name": "z", "mountPath": "/z"}])


def test_hadoop_config_keeps_the_files_it_knows_in_a_fixed_order() -> None:
    found = base.hadoop_config("conf", {"core-site.xml": "", "hdfs-site.xml": "", "x": ""})
    assert found == base.HadoopConfig(configmap="conf", files=("hdfs-site.xml", "core-site.xml"))
    with pytest.raises(base.ValidationFailed, match="is not found"):
        base.hadoop_config("conf", None)


def test_init_users_only_with_run_as_and_images_field_by_field() -> None:
    user = User(uid=10, gid=20, user="u", group="g")
    assert base.init_users(key=KEY, run_as=None, spec=None, default_image="i:1",
                           pull_policy="Always") is None
    users = base.init_users(key=KEY, run_as=user, spec=InitUsersSpec(image_tag="v2"),
                            default_image="repo/init:v1", pull_policy="Always")
    assert users is not None
    assert (users.image, users.pull_policy, users.directory, users.users_env) == (
        "repo/init:v2", "Always", "/tmp/fluid/ns/demo", "10:u:20,20:g")
    fuse = users.init_fuse(host_dir="/runtime-mnt/x", volume="mnt")
    assert fuse["securityContext"] == {"runAsUser": 0, "runAsGroup": 0}
    assert fuse["volumeMounts"] == [{"name": "mnt", "mountPath": "/runtime-mnt/x"}]
    assert [v["name"] for v in users.volumes(with_dir=False)] == ["user", "group"]


def test_mount_secrets_name_variables_and_the_mounts_own_options_win() -> None:
    ref = {"valueFrom": {"secretKeyRef": {"name": "cred", "key": "k"}}}
    dataset = structure({"spec": {
        "sharedEncryptOptions": [{"name": "token", **ref}, {"name": "id", **ref}],
        "mounts": [{"mountPoint": "s3://b/", "name": "b",
                    "encryptOptions": [{"name": "token", "valueFrom": {
                        "secretKeyRef": {"name": "own", "key": "t"}}}]}]}}, Dataset)
    found = {s.option: (s.env_name, s.secret_name) for s in base.mount_secrets(dataset, 0)}
    assert found == {"token": ("FLUID_SECRET_0_0", "own"), "id": ("FLUID_SECRET_S1", "cred")}
    assert [s.option for s in base.mount_secrets(dataset, None)] == ["token", "id"]


def test_pod_metadata_merges_in_order_the_component_winning() -> None:
    common = PodMetadata(labels={"team": "a", "tier": "gold"}, annotations={"note": "runtime"})
    own = PodMetadata(labels={"team": "b"}, annotations=None)
    assert base.merged_pod_metadata(common, None, own) == (
        {"team": "b", "tier": "gold"}, {"note": "runtime"})
    assert base.merged_pod_metadata(None, None) == ({}, {})


def test_image_or_default_fills_each_missing_part_from_the_default() -> None:
    assert base.image_or_default(None, None, "reg.io/x/img:1.0") == "reg.io/x/img:1.0"
    assert base.image_or_default("mine/img", None, "reg.io:5000/img:1.0") == "mine/img:1.0"
    assert base.image_or_default(None, "2.0", "reg.io:5000/img:1.0") == "reg.io:5000/img:2.0"
