"""GooseFS rendering of ``apiGateway`` and of non-root runtimes (``runAs`` + ``initUsers``).

The gateway is a ``proxy`` container next to the master with its own (allocated or pinned)
``rest`` port, on the master Services and in ``goosefs.proxy.web.port``; the engine reports
``status.apiGateway.endpoint``. With ``runAs`` every GooseFS process runs as that user, and
init containers from the ``initUsers`` image write its passwd/group files and open the
tier paths and the FUSE mount point to it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from engine_render_ctx import render_context

from fluid.api import converter
from fluid.api.dataset import Dataset
from fluid.api.goosefs import GooseFSRuntime
from fluid.engines.base import EngineConfig, EngineDeps, MemoryView, RecordingExecutor, RuntimeKey, Snapshot
from fluid.engines.goosefs import engine, manifests
from fluid.scheduling.ports import PortAllocator, PortRange

DATASET: dict[str, Any] = {
    "apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
    "metadata": {"name": "hbase", "namespace": "db"},
    "spec": {"mounts": [{"mountPoint": "https://mirrors.example.com/hbase/", "name": "hbase"}]},
}
RUNTIME: dict[str, Any] = {
    "apiVersion": "data.fluid.io/v1alpha1", "kind": "GooseFSRuntime",
    "metadata": {"name": "hbase", "namespace": "db"},
    "spec": {"replicas": 1, "apiGateway": {"enabled": True},
             "runAs": {"uid": 1201, "gid": 1202, "user": "goose", "group": "birds"},
             "initUsers": {"image": "registry.example.com/init-users", "imageTag": "v1",
                           "env": {"TZ": "UTC"}},
             "tieredstore": {"levels": [{"mediumtype": "SSD", "path": "/mnt/ssd0",
                                         "quota": "10Gi"}]}},
}
GOOSEFS_CONTAINERS = ("goosefs-master", "goosefs-job-master", "goosefs-worker",
                      "goosefs-job-worker", "goosefs-fuse")


def _render(runtime: dict[str, Any] = RUNTIME, *,
            ports: dict[str, int] | None = None) -> manifests.Rendered:
    ctx = render_context(kind="GooseFSRuntime", namespace="db", name="hbase",
                         runtime_type="goosefs", ports=ports, replicas=1)
    return manifests.render(manifests.RenderInput(
        runtime=converter.structure(runtime, GooseFSRuntime),
        dataset=converter.structure(DATASET, Dataset), ctx=ctx))


def _without(key: str) -> dict[str, Any]:
    runtime = copy.deepcopy(RUNTIME)
    del runtime["spec"][key]
    return runtime


def _pod(workload: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = workload["spec"]["template"]["spec"]
    return pod


def _containers(out: manifests.Rendered) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for w in (out.master, out.worker, out.fuse)
            for c in _pod(w)["containers"]}


def _opts(text: str) -> dict[str, str]:
    return dict(w[2:].split("=", 1) for w in text.split() if w.startswith("-D"))


# -- apiGateway --------------------------------------------------------------------------------


def test_api_gateway_is_a_proxy_next_to_the_master() -> None:
    ports = {n: 20000 + i for i, n in enumerate(manifests.port_names(
        converter.structure(RUNTIME, GooseFSRuntime).spec))}  # type: ignore[arg-type]

    out = _render(ports=ports)

    rest = ports["api-gateway-rest"]
    gateway = _containers(out)["api-gateway"]
    assert gateway["args"] == ["proxy"]
    assert gateway["ports"] == [{"name": "rest", "containerPort": rest}]
    assert gateway["envFrom"] == [{"configMapRef": {"name": "hbase-config"}}]
    assert {"name": "rest", "port": rest} in out.services[0]["spec"]["ports"]
    assert _opts(out.config["data"]["GOOSEFS_JAVA_OPTS"])["goosefs.proxy.web.port"] == str(rest)
    assert [c["name"] for c in _pod(out.master)["containers"]] == [
        "goosefs-master", "goosefs-job-master", "api-gateway"]


def test_api_gateway_port_is_allocated_unless_pinned() -> None:
    spec = converter.structure(RUNTIME, GooseFSRuntime).spec
    assert spec is not None
    assert "api-gateway-rest" in manifests.port_names(spec)
    pinned = copy.deepcopy(RUNTIME)
    pinned["spec"]["apiGateway"]["ports"] = {"rest": 39998}
    pinned_spec = converter.structure(pinned, GooseFSRuntime).spec
    assert pinned_spec is not None
    assert "api-gateway-rest" not in manifests.port_names(pinned_spec)
    assert {"name": "rest", "port": 39998} in _render(pinned).services[0]["spec"]["ports"]
    off = converter.structure(_without("apiGateway"), GooseFSRuntime).spec
    assert off is not None
    assert "api-gateway-rest" not in manifests.port_names(off)


def test_no_api_gateway_unless_enabled() -> None:
    out = _render(_without("apiGateway"))

    assert "api-gateway" not in _containers(out)
    assert all(p["name"] != "rest" for p in out.services[0]["spec"]["ports"])
    assert "goosefs.proxy.web.port" not in out.config["data"]["GOOSEFS_JAVA_OPTS"]
    assert manifests.api_gateway_endpoint(
        converter.structure(_without("apiGateway"), GooseFSRuntime), {}) is None


def test_api_gateway_endpoint_names_master_0_and_the_rest_port() -> None:
    runtime = converter.structure(RUNTIME, GooseFSRuntime)

    assert manifests.api_gateway_endpoint(runtime, {"api-gateway-rest": 20111}) == (
        "hbase-master-0.db:20111")
    assert manifests.api_gateway_endpoint(runtime, {}) == "hbase-master-0.db:39999"


async def test_engine_reports_the_endpoint_with_the_allocated_port() -> None:
    ports = PortAllocator(PortRange(20100, 20199))
    deps = EngineDeps(client=None, view=MemoryView(), ports=ports,  # type: ignore[arg-type]
                      events=None, executor=RecordingExecutor(), config=EngineConfig())
    eng = engine.GooseFSEngine(deps, RuntimeKey("GooseFSRuntime", "db", "hbase"))
    snap = Snapshot(runtime=RUNTIME, dataset=DATASET)
    allocated = await ports.allocate(eng.ports_owner, eng.port_names(snap))

    status = eng.component_status(snap)

    assert status["apiGateway"] == {
        "endpoint": f"hbase-master-0.db:{allocated['api-gateway-rest']}"}
    assert eng.component_status(Snapshot(runtime=_without("apiGateway"), dataset=DATASET))[
        "apiGateway"] is None


# -- runAs and initUsers -------------------------------------------------------------------------


def test_run_as_applies_to_every_goosefs_process() -> None:
    containers = _containers(_render())

    for name in GOOSEFS_CONTAINERS:
        security = containers[name]["securityContext"]
        assert (security["runAsUser"], security["runAsGroup"]) == (1201, 1202), name
        assert {"name": "user", "mountPath": "/etc/passwd", "readOnly": True} in \
            containers[name]["volumeMounts"]
        assert {"name": "group", "mountPath": "/etc/group", "readOnly": True} in \
            containers[name]["volumeMounts"]
    assert containers["goosefs-fuse"]["securityContext"]["privileged"] is True


def test_init_users_on_master_and_worker() -> None:
    out = _render()

    [master_init] = _pod(out.master)["initContainers"]
    [worker_init] = _pod(out.worker)["initContainers"]
    for init in (master_init, worker_init):
        assert init["name"] == "init-users"
        assert init["image"] == "registry.example.com/init-users:v1"
        assert init["imagePullPolicy"] == "IfNotPresent"
        assert init["command"] == ["/entrypoint.sh"]
        assert {"name": "FLUID_INIT_USERS", "value": "1201:goose:1202,1202:birds"} in init["env"]
        assert {"name": "TZ", "value": "UTC"} in init["env"]
        assert init["volumeMounts"][:3] == [{"name": "dir", "mountPath": "/tmp"},
                                            {"name": "user", "mountPath": "/tmp/passwd"},
                                            {"name": "group", "mountPath": "/tmp/group"}]
    assert master_init["args"] == ["init_users"]
    assert worker_init["args"] == ["init_users", "chmod_tierpath"]
    assert {"name": "FLUID_TIERSTORE_PATHS", "value": "/mnt/ssd0/db/hbase"} in worker_init["env"]
    assert {"name": "tiered-ssd-0", "mountPath": "/mnt/ssd0/db/hbase"} in worker_init["volumeMounts"]
    for workload in (out.master, out.worker):
        volumes = {v["name"]: v for v in _pod(workload)["volumes"]}
        assert volumes["dir"] == {"name": "dir", "hostPath": {
            "path": "/tmp/fluid/db/hbase", "type": "DirectoryOrCreate"}}
        assert volumes["user"]["hostPath"] == {"path": "/tmp/fluid/db/hbase/passwd",
                                               "type": "FileOrCreate"}
        assert volumes["group"]["hostPath"] == {"path": "/tmp/fluid/db/hbase/group",
                                                "type": "FileOrCreate"}


def test_init_fuse_opens_the_mount_point_as_root() -> None:
    out = _render()

    [init] = _pod(out.fuse)["initContainers"]
    assert init["name"] == "init-fuse"
    assert init["args"] == ["chmod_fuse_mountpoint"]
    assert init["env"][0] == {"name": "FLUID_FUSE_MOUNTPOINT",
                              "value": "/runtime-mnt/goosefs/db/hbase"}
    assert init["securityContext"] == {"runAsUser": 0, "runAsGroup": 0}
    assert init["volumeMounts"] == [{"name": "goosefs-fuse-mount",
                                     "mountPath": "/runtime-mnt/goosefs/db/hbase"}]
    names = {v["name"] for v in _pod(out.fuse)["volumes"]}
    assert {"user", "group"} <= names
    assert "dir" not in names


def test_default_init_users_image() -> None:
    runtime = _without("initUsers")

    [init] = _pod(_render(runtime).master)["initContainers"]

    assert init["image"] == "registry.cn-hangzhou.aliyuncs.com/fluid/init-users:v0.3.0-1467caa"


@pytest.mark.parametrize("runtime", [_without("runAs"), {**RUNTIME, "spec": {"replicas": 1}}])
def test_root_runtimes_have_no_init_containers(runtime: dict[str, Any]) -> None:
    out = _render(runtime)

    for workload in (out.master, out.worker, out.fuse):
        assert "initContainers" not in _pod(workload)
        assert not {"dir", "user", "group"} & {v["name"] for v in _pod(workload)["volumes"]}
    assert all("runAsUser" not in c.get("securityContext", {})
               for c in _containers(out).values())
