"""Vineyard rendering: etcd master, vineyardd workers, socket clients, ports, memory, spill."""

from __future__ import annotations

from typing import Any

import pytest
from engine_render_ctx import render_context

from fluid.api import converter
from fluid.api.vineyard import VineyardRuntime
from fluid.engines.vineyard import manifests

Obj = dict[str, Any]
RUNTIME: Obj = {
    "apiVersion": "data.fluid.io/v1alpha1", "kind": "VineyardRuntime",
    "metadata": {"name": "vineyard", "namespace": "ml"},
    "spec": {"replicas": 2, "tieredstore": {"levels": [{"mediumtype": "MEM", "quota": "20Gi"}]}},
}


def _render(spec: Obj | None = None, *, ports: dict[str, int] | None = None,
            annotations: dict[str, str] | None = None) -> dict[tuple[str, str], Obj]:
    runtime = {**RUNTIME, "spec": spec if spec is not None else RUNTIME["spec"]}
    if annotations:
        runtime["metadata"] = {**RUNTIME["metadata"], "annotations": annotations}
    ctx = render_context(kind="VineyardRuntime", namespace="ml", name="vineyard",
                         runtime_type="vineyard", ports=ports,
                         replicas=runtime["spec"].get("replicas", 1))
    objects = manifests.render(manifests.RenderInput(
        runtime=converter.structure(runtime, VineyardRuntime), ctx=ctx))
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def _container(obj: Obj) -> Obj:
    containers = obj["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: Obj = containers[0]
    return result


def _env(container: Obj) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


HOST_PORTS = {"master-client": 20001, "master-peer": 20002, "worker-rpc": 20003,
              "worker-exporter": 20004}


def test_objects_of_a_runtime_with_its_own_etcd() -> None:
    out = _render(ports=HOST_PORTS)
    assert list(out) == [("Service", "vineyard-master"), ("StatefulSet", "vineyard-master"),
                         ("Service", "vineyard-worker"), ("StatefulSet", "vineyard-worker"),
                         ("ConfigMap", "vineyard-rpc-conf"), ("DaemonSet", "vineyard-fuse")]
    assert out[("StatefulSet", "vineyard-worker")]["spec"]["replicas"] == 2
    assert out[("StatefulSet", "vineyard-master")]["spec"]["replicas"] == 1


def test_master_runs_etcd_on_the_allocated_host_ports() -> None:
    master = out = _render(ports=HOST_PORTS)[("StatefulSet", "vineyard-master")]
    pod = master["spec"]["template"]["spec"]
    etcd = _container(out)
    assert (pod["hostNetwork"], pod["dnsPolicy"]) == (True, "ClusterFirstWithHostNet")
    assert etcd["image"] == "registry.aliyuncs.com/vineyard/vineyardd:v0.22.2"
    assert etcd["command"][0] == "etcd"
    assert "--listen-client-urls=http://0.0.0.0:20001" in etcd["command"]
    assert "--initial-cluster=vineyard-master-0=http://vineyard-master-0.vineyard-master.ml:20002" \
        in etcd["command"]
    assert [(p["name"], p["containerPort"]) for p in etcd["ports"]] == [("client", 20001),
                                                                       ("peer", 20002)]
    service = _render(ports=HOST_PORTS)[("Service", "vineyard-master")]
    assert service["spec"]["clusterIP"] == "None"
    assert [p["port"] for p in service["spec"]["ports"]] == [20001, 20002]


def test_three_etcd_members_know_each_other() -> None:
    spec = {**RUNTIME["spec"], "master": {"replicas": 3, "networkMode": "ContainerNetwork"}}
    etcd = _container(_render(spec)[("StatefulSet", "vineyard-master")])
    cluster = next(a for a in etcd["command"] if a.startswith("--initial-cluster="))
    assert cluster.split("=", 1)[1].split(",") == [
        f"vineyard-master-{i}=http://vineyard-master-{i}.vineyard-master.ml:2380" for i in range(3)]


def test_worker_runs_vineyardd_against_the_masters() -> None:
    worker = _render(ports=HOST_PORTS)[("StatefulSet", "vineyard-worker")]
    container = _container(worker)
    assert container["command"] == [
        "/usr/local/bin/vineyardd", "--socket", "/var/run/vineyard/vineyard-worker.sock",
        "--size", "20Gi", "--reserve_memory", "--meta_timeout", "120",
        "--etcd_prefix", "/vineyard",
        "--etcd_endpoint", "http://vineyard-master-0.vineyard-master.ml:20001",
        "--rpc_socket_port", "20003"]
    assert container["resources"] == {"requests": {"memory": "20980Mi"},
                                      "limits": {"memory": "20980Mi"}}
    pod = worker["spec"]["template"]["spec"]
    socket = next(v for v in pod["volumes"] if v["name"] == "vineyard-socket")
    assert socket["hostPath"]["path"] == "/runtime-mnt/vineyard/ml/vineyard"
    assert pod["affinity"] == {"podAntiAffinity": {"marker": "placement"}}
    labels = worker["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "worker"
    assert labels["role"] == "vineyard-worker"


def test_a_memory_request_large_enough_is_kept() -> None:
    spec = {**RUNTIME["spec"], "worker": {"resources": {
        "requests": {"memory": "24Gi", "cpu": "2"}, "limits": {"memory": "1Gi"}}}}
    container = _container(_render(spec)[("StatefulSet", "vineyard-worker")])
    assert container["resources"] == {"requests": {"memory": "24Gi", "cpu": "2"},
                                      "limits": {"memory": "20980Mi"}}


def test_container_network_uses_the_component_ports() -> None:
    spec = {**RUNTIME["spec"],
            "master": {"networkMode": "ContainerNetwork", "ports": {"client": 12379}},
            "worker": {"networkMode": "ContainerNetwork", "ports": {"rpc": 19600}},
            "fuse": {"networkMode": "ContainerNetwork"}}
    out = _render(spec)
    assert manifests.port_names(converter.structure(
        {**RUNTIME, "spec": spec}, VineyardRuntime).spec) == []  # type: ignore[arg-type]
    for key in (("StatefulSet", "vineyard-master"), ("StatefulSet", "vineyard-worker"),
                ("DaemonSet", "vineyard-fuse")):
        assert "hostNetwork" not in out[key]["spec"]["template"]["spec"]
    command = _container(out[("StatefulSet", "vineyard-worker")])["command"]
    assert command[command.index("--rpc_socket_port") + 1] == "19600"
    assert command[command.index("--etcd_endpoint") + 1] == \
        "http://vineyard-master-0.vineyard-master.ml:12379"
    assert out[("ConfigMap", "vineyard-rpc-conf")]["data"] == {"VINEYARD_RPC_ENDPOINT": (
        "vineyard-worker-0.vineyard-worker.ml:19600,vineyard-worker-1.vineyard-worker.ml:19600")}


def test_an_external_etcd_means_no_master() -> None:
    spec = {**RUNTIME["spec"], "master": {"endpoint": {"uri": "etcd.infra:2379"}}}
    out = _render(spec)
    assert ("StatefulSet", "vineyard-master") not in out
    assert ("Service", "vineyard-master") not in out
    command = _container(out[("StatefulSet", "vineyard-worker")])["command"]
    assert command[command.index("--etcd_endpoint") + 1] == "http://etcd.infra:2379"
    fuse_env = _env(_container(out[("DaemonSet", "vineyard-fuse")]))
    assert fuse_env["ETCD_ENDPOINT"] == "http://etcd.infra:2379"
    parsed = converter.structure({**RUNTIME, "spec": spec}, VineyardRuntime)
    assert manifests.port_names(parsed.spec) == ["worker-rpc", "worker-exporter"]  # type: ignore[arg-type]


def test_fuse_exposes_the_socket_with_its_options_as_env() -> None:
    spec = {**RUNTIME["spec"], "fuse": {"options": {"size": "10Gi"}, "env": {"A": "b"},
                                        "podMetadata": {"labels": {"team": "ml"}}}}
    fuse = _render(spec, ports=HOST_PORTS)[("DaemonSet", "vineyard-fuse")]
    container = _container(fuse)
    env = _env(container)
    target = "/runtime-mnt/vineyard/ml/vineyard/vineyard-fuse"
    assert (env["MOUNT_DIR"], env["FUSE_DIR"], env["RPC_CONF_DIR"]) == (
        "/runtime-mnt/vineyard/ml/vineyard", target, f"{target}/rpc-conf")
    assert (env["SIZE"], env["ETCD_PREFIX"], env["A"]) == ("10Gi", "/vineyard", "b")
    assert env["ETCD_ENDPOINT"] == "http://vineyard-master-0.vineyard-master.ml:20001"
    pod = fuse["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"fluid.io/f-ml-vineyard": "true"}
    assert container["securityContext"] == {"privileged": True}
    assert fuse["spec"]["template"]["metadata"]["labels"]["team"] == "ml"


def test_spill_to_the_second_tier() -> None:
    spec = {**RUNTIME["spec"], "tieredstore": {"levels": [
        {"mediumtype": "MEM", "quota": "2Gi", "high": "0.8", "low": "0.3"},
        {"mediumtype": "SSD", "path": "/mnt/spill", "quota": "50Gi"}]}}
    worker = _render(spec)[("StatefulSet", "vineyard-worker")]
    container = _container(worker)
    command = container["command"]
    assert command[command.index("--spill_path"):] == [
        "--spill_path", "/mnt/spill", "--spill_lower_rate", "0.3", "--spill_upper_rate", "0.8"]
    assert {"name": "ssd", "mountPath": "/mnt/spill"} in container["volumeMounts"]
    assert {"name": "ssd", "hostPath": {"path": "/mnt/spill", "type": "DirectoryOrCreate"}} in \
        worker["spec"]["template"]["spec"]["volumes"]


def test_no_spill_without_watermarks() -> None:
    spec = {**RUNTIME["spec"], "tieredstore": {"levels": [
        {"mediumtype": "MEM", "quota": "2Gi"}, {"mediumtype": "SSD", "path": "/mnt/spill"}]}}
    assert "--spill_path" not in _container(_render(spec)[("StatefulSet", "vineyard-worker")])["command"]


def test_user_volumes_follow_their_mounts() -> None:
    spec = {**RUNTIME["spec"], "volumes": [{"name": "data", "emptyDir": {}}],
            "master": {"volumeMounts": [{"name": "data", "mountPath": "/etcd-data"}]}}
    master = _render(spec)[("StatefulSet", "vineyard-master")]
    assert master["spec"]["template"]["spec"]["volumes"] == [{"name": "data", "emptyDir": {}}]
    bad = {**RUNTIME["spec"], "worker": {"volumeMounts": [{"name": "nope", "mountPath": "/x"}]}}
    with pytest.raises(manifests.RenderError, match="nope"):
        _render(bad)


@pytest.mark.parametrize("levels", [[], [{"mediumtype": "SSD", "path": "/mnt/x", "quota": "1Gi"}]])
def test_a_runtime_without_memory_is_refused(levels: list[Obj]) -> None:
    with pytest.raises(manifests.RenderError, match=r"MEM|empty"):
        _render({"replicas": 1, "tieredstore": {"levels": levels}})


@pytest.mark.parametrize(("annotations", "host_pid"), [
    (None, False), ({"runtime.fluid.io/fuse.hostpid": "true"}, True),
    ({"runtime.fluid.io/fuse.hostpid": "no"}, False)])
def test_the_clients_share_the_host_pid_namespace_on_request(
        annotations: dict[str, str] | None, host_pid: bool) -> None:
    fuse = _render(annotations=annotations)[("DaemonSet", "vineyard-fuse")]
    assert fuse["spec"]["template"]["spec"]["hostPID"] is host_pid
