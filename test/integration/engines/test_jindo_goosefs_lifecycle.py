"""The Jindo and GooseFS engines through their lifecycle on a real API server with kwok nodes.

Masters, workers and FUSE scheduled and Ready, the Dataset Bound, host ports allocated and
released, cache states from the (recorded) master commands, deletion leaving nothing
behind. Only the exec boundary is faked; its commands are asserted exactly.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from engines_driver import Driver, EngineEnv, component, leftovers, namespace_text, wait_ready_pods

from fluid.api import constants, kinds
from fluid.engines.base import RuntimeKey
from fluid.engines.goosefs import engine as goosefs
from fluid.engines.jindo import engine as jindo
from fluid.kube import KubeClient, resources
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

REPORT = "Total MEM Capacity: 2.00GB\nUsed MEM Capacity: 1.00GB\n"


def _obj(kind: str, namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": constants.API_VERSION, "kind": kind,
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


async def _cached(kube: KubeClient, kind: str, namespace: str, name: str) -> dict[str, Any]:
    runtime = await kube.get(kinds.BY_KIND[kind].resource, name, namespace)
    states: dict[str, Any] = runtime.get("status", {}).get("cacheStates") or {}
    return states


async def test_jindo_runtime_lifecycle(kube: KubeClient, namespace: str,
                                       engine_env: EngineEnv) -> None:
    secret = "ak-should-stay-secret"
    await kube.create({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": "oss", "namespace": namespace},
                       "data": {"ak": base64.b64encode(secret.encode()).decode(),
                                "sk": base64.b64encode(secret.encode()).decode()}})
    ref = {"secretKeyRef": {"name": "oss", "key": "ak"}}
    await kube.create(_obj("Dataset", namespace, "hadoop", {"mounts": [{
        "mountPoint": "oss://bucket/data", "name": "hadoop",
        "options": {"fs.oss.endpoint": "oss-cn-hangzhou.aliyuncs.com"},
        "encryptOptions": [{"name": "fs.oss.accessKeyId", "valueFrom": ref},
                           {"name": "fs.oss.accessKeySecret",
                            "valueFrom": {"secretKeyRef": {"name": "oss", "key": "sk"}}}]}]}))
    await kube.create(_obj("JindoRuntime", namespace, "hadoop", {
        "replicas": 2, "tieredstore": {"levels": [
            {"mediumtype": "MEM", "path": "/dev/shm", "quota": "2Gi"}]}}))
    engine_env.executor.responders.update({
        ("jindocache", "-report"): REPORT, ("jindo", "fs", "-count"): "1 10 4096 oss://bucket/data"})
    eng = jindo.factory(engine_env.deps(), RuntimeKey("JindoRuntime", namespace, "hadoop"))
    driver = Driver(kube, eng, kind="JindoRuntime", namespace=namespace, name="hadoop")

    await driver.setup()
    await wait_ready_pods(kube, namespace, component("jindo", "hadoop", "master"), 1)
    await wait_ready_pods(kube, namespace, component("jindo", "hadoop", "worker"), 2)
    held = engine_env.ports.held_by(eng.ports_owner)
    assert set(held) == {"master-rpc", "worker-rpc"}
    cfg = await kube.get(resources.CONFIGMAPS, "hadoop-jindofs-config", namespace)
    assert f"namespace.rpc.port = {held['master-rpc']}" in cfg["data"]["jindocache.cfg"]

    async def states() -> bool:
        await driver.sync()
        return (await _cached(kube, "JindoRuntime", namespace, "hadoop")).get("cached") == "1.00GiB"
    await eventually(states, timeout=30, interval=0.5, what="cache states reported")

    text = await namespace_text(kube, namespace)
    await kube.delete(kinds.JINDO_RUNTIME.resource, "hadoop", namespace)
    await driver.teardown()

    assert secret not in text
    assert await leftovers(kube, runtime_type="jindo", namespace=namespace, name="hadoop") == []
    assert engine_env.ports.held_by(eng.ports_owner) == {}
    assert {(c.pod, c.container, c.command) for c in engine_env.executor.calls} <= {
        ("hadoop-jindofs-master-0", "jindofs-master", ("jindocache", "-report")),
        ("hadoop-jindofs-master-0", "jindofs-master", ("jindo", "fs", "-count", "oss://bucket/data")),
    }


async def test_goosefs_runtime_lifecycle(kube: KubeClient, namespace: str,
                                         engine_env: EngineEnv) -> None:
    await kube.create(_obj("Dataset", namespace, "hbase", {"mounts": [
        {"mountPoint": "cosn://root-bucket/", "name": "root", "path": "/"},
        {"mountPoint": "cosn://logs-bucket/", "name": "logs"}]}))
    await kube.create(_obj("GooseFSRuntime", namespace, "hbase", {
        "replicas": 1, "tieredstore": {"levels": [
            {"mediumtype": "MEM", "path": "/dev/shm", "quota": "1Gi"}]}}))
    engine_env.executor.responders.update({
        ("goosefs", "fs", "mount"): "cosn://root-bucket/ on / (cosn, capacity=-1B)\n",
        ("goosefs", "fs", "count"): "File Count Folder Count Total Bytes\n3 1 1024\n",
        ("goosefs", "fsadmin"): "Total Capacity: 1.00GB\nUsed Capacity: 512.00MB\n"})
    eng = goosefs.factory(engine_env.deps(), RuntimeKey("GooseFSRuntime", namespace, "hbase"))
    driver = Driver(kube, eng, kind="GooseFSRuntime", namespace=namespace, name="hbase")

    await driver.setup()
    await wait_ready_pods(kube, namespace, component("goosefs", "hbase", "master"), 1)
    await wait_ready_pods(kube, namespace, component("goosefs", "hbase", "worker"), 1)
    assert len(engine_env.ports.held_by(eng.ports_owner)) == 9

    async def states() -> bool:
        await driver.sync()
        return (await _cached(kube, "GooseFSRuntime", namespace, "hbase")).get("cached") == "512.00MiB"
    await eventually(states, timeout=30, interval=0.5, what="cache states reported")

    await kube.delete(kinds.GOOSEFS_RUNTIME.resource, "hbase", namespace)
    await driver.teardown()

    assert await leftovers(kube, runtime_type="goosefs", namespace=namespace, name="hbase") == []
    assert engine_env.ports.held_by(eng.ports_owner) == {}
    commands = engine_env.executor.commands()
    assert commands[:2] == [("goosefs", "fs", "mount"),
                            ("goosefs", "fs", "mount", "/logs", "cosn://logs-bucket/")]
    assert set(commands[2:]) <= {("goosefs", "fs", "mount"),
                                 ("goosefs", "fs", "mount", "/logs", "cosn://logs-bucket/"),
                                 ("goosefs", "fs", "count", "/"),
                                 ("goosefs", "fsadmin", "report", "summary"),
                                 ("goosefs", "fs", "free", "-f", "/")}
    assert commands[-1] == ("goosefs", "fs", "free", "-f", "/")
