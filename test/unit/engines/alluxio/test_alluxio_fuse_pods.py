"""The Alluxio FUSE client and worker pods as upstream renders them: read-only or read-write
by the Dataset's access modes, the owner's ids, hostnames from the node, short-circuit
reads through the tier paths, and no Istio sidecar."""

from __future__ import annotations

from typing import Any

import pytest
from test_alluxio_manifests import MEM_SSD, env_of, properties, render, render_input

from fluid.engines.alluxio import manifests

Obj = dict[str, Any]
FUSE_PATH = "/runtime-mnt/alluxio/default/demo/alluxio-fuse"


def fuse_container(objects: dict[str, Obj]) -> Obj:
    container: Obj = objects["DaemonSet/demo-fuse"]["spec"]["template"]["spec"]["containers"][0]
    return container


def containers(objects: dict[str, Obj], workload: str) -> dict[str, Obj]:
    return {x["name"]: x for x in objects[workload]["spec"]["template"]["spec"]["containers"]}


@pytest.mark.parametrize(("modes", "opts"), [
    (None, "kernel_cache,ro,max_read=131072,attr_timeout=7200,entry_timeout=7200,nonempty"),
    (["ReadOnlyMany"], "kernel_cache,ro,max_read=131072,attr_timeout=7200,entry_timeout=7200,"
                       "nonempty"),
    (["ReadWriteMany", "ReadOnlyMany"], "kernel_cache,ro,max_read=131072,attr_timeout=7200,"
                                        "entry_timeout=7200,nonempty"),
    (["ReadWriteMany"], "kernel_cache,rw,max_read=131072"),
    (["ReadWriteOnce"], "kernel_cache,rw,max_read=131072"),
])
def test_fuse_is_read_only_only_when_the_dataset_is_read_only_many(
        modes: list[str] | None, opts: str) -> None:
    dataset = {"accessModes": modes} if modes else {}
    args = fuse_container(render(MEM_SSD, dataset=dataset))["args"]
    assert args == ["fuse", f"--fuse-opts={opts},allow_other", FUSE_PATH, "/"]


def test_libfuse_3_takes_upstreams_libfuse_3_options() -> None:
    raw = {**MEM_SSD, "properties": {"alluxio.fuse.jnifuse.libfuse.version": "3"}}
    assert manifests.fuse_args(render_input(raw))[1] == (
        "--fuse-opts=kernel_cache,ro,attr_timeout=7200,entry_timeout=7200,allow_other")
    rw = render_input({**MEM_SSD, "fuse": {"properties": {
        "alluxio.fuse.jnifuse.libfuse.version": "3"}}}, dataset={"accessModes": ["ReadWriteMany"]})
    assert manifests.fuse_args(rw)[1] == "--fuse-opts=kernel_cache,rw,allow_other"


def test_owner_ids_go_into_the_fuse_options_instead_of_user_translation() -> None:
    owner = {"owner": {"uid": 1005, "gid": 1006, "user": "app", "group": "app"}}
    objects = render(MEM_SSD, dataset={**owner, "accessModes": ["ReadWriteMany"]})
    assert fuse_container(objects)["args"][1] == (
        "--fuse-opts=kernel_cache,rw,max_read=131072,uid=1005,gid=1006,allow_other")
    assert "alluxio.fuse.user.group.translation.enabled" not in properties(objects)
    assert properties(render(MEM_SSD))["alluxio.fuse.user.group.translation.enabled"] == "true"


def test_users_fuse_args_keep_their_allow_option_and_get_the_owner() -> None:
    raw = {**MEM_SSD, "fuse": {"args": ["fuse", "--fuse-opts=ro,allow_root"]}}
    owner = {"owner": {"uid": 7, "gid": 8, "user": "u", "group": "g"}}
    assert manifests.fuse_args(render_input(raw, dataset=owner)) == [
        "fuse", "--fuse-opts=ro,allow_root,uid=7,gid=8", FUSE_PATH, "/"]
    lone = render_input({**MEM_SSD, "fuse": {"args": ["fuse"]}}, dataset=owner)
    assert manifests.fuse_args(lone) == ["fuse", FUSE_PATH, "/"]


def test_hostnames_come_from_the_node_and_are_named_in_the_jvm_options() -> None:
    objects = render(MEM_SSD)
    for name in ("alluxio-worker", "alluxio-job-worker"):
        container = containers(objects, "StatefulSet/demo-worker")[name]
        assert container["env"][0] == {"name": "ALLUXIO_WORKER_HOSTNAME", "valueFrom": {
            "fieldRef": {"fieldPath": "status.hostIP"}}}  # listed first: $(VAR) sees it
        opts = next(v for k, v in env_of(container).items() if k.endswith("_JAVA_OPTS"))
        assert opts.split()[0] == "-Dalluxio.worker.hostname=$(ALLUXIO_WORKER_HOSTNAME)"
        assert "ALLUXIO_WORKER_CONTAINER_HOSTNAME" not in env_of(container)  # host network
    fuse = fuse_container(objects)
    assert fuse["env"][0] == {"name": "ALLUXIO_CLIENT_HOSTNAME", "valueFrom": {
        "fieldRef": {"fieldPath": "status.hostIP"}}}
    assert env_of(fuse)["ALLUXIO_FUSE_JAVA_OPTS"].split()[0] == (
        "-Dalluxio.user.hostname=$(ALLUXIO_CLIENT_HOSTNAME)")


def test_container_network_workers_also_know_their_pod_address() -> None:
    objects = render({**MEM_SSD, "worker": {"networkMode": "ContainerNetwork"}})
    worker = containers(objects, "StatefulSet/demo-worker")["alluxio-worker"]
    assert env_of(worker)["ALLUXIO_WORKER_CONTAINER_HOSTNAME"] == {
        "fieldRef": {"fieldPath": "status.podIP"}}
    assert ("-Dalluxio.worker.container.hostname=$(ALLUXIO_WORKER_CONTAINER_HOSTNAME)"
            in env_of(worker)["ALLUXIO_WORKER_JAVA_OPTS"].split())


def test_a_users_hostname_variable_replaces_the_node_address() -> None:
    objects = render({**MEM_SSD, "worker": {"env": {"ALLUXIO_WORKER_HOSTNAME": "w.example"}}})
    worker = containers(objects, "StatefulSet/demo-worker")["alluxio-worker"]
    assert [e for e in worker["env"] if e["name"] == "ALLUXIO_WORKER_HOSTNAME"] == [
        {"name": "ALLUXIO_WORKER_HOSTNAME", "value": "w.example"}]


def test_fuse_mounts_the_host_tier_paths_for_short_circuit_reads() -> None:
    objects = render(MEM_SSD)
    pod = objects["DaemonSet/demo-fuse"]["spec"]["template"]["spec"]
    worker_pod = objects["StatefulSet/demo-worker"]["spec"]["template"]["spec"]
    tiers = [v for v in pod["volumes"] if v["name"].startswith("tier-")]
    assert tiers == [v for v in worker_pod["volumes"] if v["name"].startswith("tier-")]
    mounts = {m["name"]: m["mountPath"] for m in fuse_container(objects)["volumeMounts"]}
    assert (mounts["tier-0-0"], mounts["tier-1-0"], mounts["tier-1-1"]) == (
        "/dev/shm/default/demo", "/mnt/ssd1/default/demo", "/mnt/ssd2/default/demo")
    assert "alluxio.user.short.circuit.enabled" not in properties(objects)


def test_an_empty_dir_tier_turns_short_circuit_off() -> None:
    raw = {"tieredstore": {"levels": [
        {"mediumtype": "MEM", "path": "/dev/shm", "quota": "1Gi", "volumeType": "emptyDir"},
        {"mediumtype": "SSD", "path": "/mnt/ssd", "quota": "5Gi"}]}}
    objects = render(raw)
    pod = objects["DaemonSet/demo-fuse"]["spec"]["template"]["spec"]
    assert not [v for v in pod["volumes"] if v["name"].startswith("tier-")]
    assert properties(objects)["alluxio.user.short.circuit.enabled"] == "false"


def test_no_pod_gets_an_istio_sidecar() -> None:
    objects = render({**MEM_SSD, "fuse": {"podMetadata": {"annotations": {"a": "b"}}}})
    for workload in ("StatefulSet/demo-master", "StatefulSet/demo-worker", "DaemonSet/demo-fuse"):
        meta = objects[workload]["spec"]["template"]["metadata"]
        assert meta["annotations"]["sidecar.istio.io/inject"] == "false", workload
        assert meta["labels"]["sidecar.istio.io/inject"] == "false", workload
    assert objects["DaemonSet/demo-fuse"]["spec"]["template"]["metadata"]["annotations"]["a"] == "b"


def test_fuse_pods_share_the_node_pid_namespace_only_when_annotated() -> None:
    """``runtime.fluid.io/fuse.hostpid: "true"`` on the runtime gives its FUSE pods hostPID."""
    def fuse_pod(objects: dict[str, Obj]) -> Obj:
        pod: Obj = objects["DaemonSet/demo-fuse"]["spec"]["template"]["spec"]
        return pod

    assert "hostPID" not in fuse_pod(render(MEM_SSD))
    assert fuse_pod(render(MEM_SSD, fuse_host_pid=True))["hostPID"] is True
