"""The JuiceFS engine through its whole lifecycle on a real API server with kwok nodes.

Seed 002's Dataset (community edition: metaurl, access-key and secret-key from a Secret)
and a JuiceFSRuntime: workers scheduled and Ready, the FUSE pod on a node labelled as the
CSI plugin would, the Dataset Bound, the PVC Bound; scaling out and in; deletion leaves
nothing behind. Secret values never appear in any object or log line. Only the exec
boundary is faked (RecordingExecutor) and its commands are asserted exactly.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
import structlog
from engines_driver import (
    Driver,
    EngineEnv,
    component,
    label_node,
    leftovers,
    namespace_text,
    wait_ready_pods,
)

from fluid.api import constants, kinds
from fluid.engines.base import ExecResult, RuntimeKey
from fluid.engines.juicefs import engine as juicefs
from fluid.kube import KubeClient, resources
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

SECRETS = {"metaurl": "redis://:m3ta-pa55w0rd@10.9.8.7:6379/1",
           "access-key": "AKID-not-for-logs-1234", "secret-key": "SK-never-in-configmaps-5678"}


def _dataset(namespace: str) -> dict[str, Any]:
    ref = {k: {"secretKeyRef": {"name": "jfs-secret", "key": k}} for k in SECRETS}
    return {"apiVersion": constants.API_VERSION, "kind": "Dataset",
            "metadata": {"name": "jfsdemo", "namespace": namespace},
            "spec": {"mounts": [{"name": "minio", "mountPoint": "juicefs:///",
                                 "options": {"bucket": "<bucket-url>", "storage": "oss"},
                                 "encryptOptions": [{"name": k, "valueFrom": v}
                                                    for k, v in ref.items()]}]}}


def _runtime(namespace: str, replicas: int) -> dict[str, Any]:
    return {"apiVersion": constants.API_VERSION, "kind": "JuiceFSRuntime",
            "metadata": {"name": "jfsdemo", "namespace": namespace},
            "spec": {"replicas": replicas, "tieredstore": {"levels": [
                {"mediumtype": "MEM", "path": "/dev/shm", "quota": "4Gi", "low": "0.1"}]}}}


def _answers(mount: str) -> dict[tuple[str, ...], Any]:
    df = f"Filesystem 1B-blocks Used Available Use% Mounted on\nJuiceFS:minio 9999 4096 5903 1% {mount}\n"
    return {("df", "--block-size=1"): df,
            ("bash", "-c"): "12\n",
            ("cat",): lambda call: ExecResult("juicefs_blockcache_bytes 2048\n")}


async def _phase(kube: KubeClient, namespace: str) -> str:
    ds = await kube.get(kinds.DATASET.resource, "jfsdemo", namespace)
    return str(ds.get("status", {}).get("phase", ""))


async def test_juicefs_runtime_lifecycle(kube: KubeClient, namespace: str, engine_env: EngineEnv,
                                         workloads: list[str]) -> None:
    await kube.create({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": "jfs-secret", "namespace": namespace},
                       "data": {k: base64.b64encode(v.encode()).decode() for k, v in SECRETS.items()}})
    await kube.create(_dataset(namespace))
    await kube.create(_runtime(namespace, replicas=2))
    eng = juicefs.factory(engine_env.deps(), RuntimeKey("JuiceFSRuntime", namespace, "jfsdemo"))
    mount = eng.fluid_path()
    engine_env.executor.responders.update(_answers(mount))
    driver = Driver(kube, eng, kind="JuiceFSRuntime", namespace=namespace, name="jfsdemo")
    fuse_key = constants.fuse_label(namespace, "jfsdemo")

    with structlog.testing.capture_logs() as logs:
        await driver.setup()
        workers = await wait_ready_pods(kube, namespace, component("juicefs", "jfsdemo", "worker"), 2)
        assert await _phase(kube, namespace) == "Bound"

        async def pvc_bound() -> bool:
            pvc = await kube.get(resources.PERSISTENT_VOLUME_CLAIMS, "jfsdemo", namespace)
            return pvc.get("status", {}).get("phase") == "Bound"
        await eventually(pvc_bound, timeout=30, what="PVC Bound")

        await label_node(kube, workloads[0], {fuse_key: "true"})
        fuse = await wait_ready_pods(kube, namespace, component("juicefs", "jfsdemo", "fuse"), 1)
        assert fuse[0]["spec"]["nodeName"] == workloads[0]
        env = {e["name"]: e for e in fuse[0]["spec"]["containers"][0]["env"]}
        assert env["METAURL"]["valueFrom"] == {"secretKeyRef": {"name": "jfs-secret", "key": "metaurl"}}

        await driver.sync()
        runtime_key = constants.runtime_label("juicefs", namespace, "jfsdemo")

        async def nodes_labelled() -> bool:
            nodes, _ = await kube.list_all(resources.NODES, label_selector=runtime_key)
            return {n["metadata"]["name"] for n in nodes} == {p["spec"]["nodeName"] for p in workers}
        await eventually(nodes_labelled, timeout=30, what="worker nodes labelled")

        for replicas in (3, 1):
            await kube.merge_patch(kinds.JUICEFS_RUNTIME.resource, "jfsdemo", namespace,
                                   {"spec": {"replicas": replicas}})
            await driver.sync()
            await wait_ready_pods(kube, namespace, component("juicefs", "jfsdemo", "worker"), replicas)
        runtime = await kube.get(kinds.JUICEFS_RUNTIME.resource, "jfsdemo", namespace)
        reasons = {c["type"] for c in runtime["status"]["conditions"]}
        assert {"WorkersScaledOut", "WorkersScaledIn"} <= reasons

        async def metadata_synced() -> bool:
            await driver.sync()
            ds = await kube.get(kinds.DATASET.resource, "jfsdemo", namespace)
            return ds["status"].get("fileNum") == "12"
        await eventually(metadata_synced, timeout=30, interval=0.5, what="ufsTotal/fileNum synced")

        text = await namespace_text(kube, namespace)
        await kube.delete(kinds.JUICEFS_RUNTIME.resource, "jfsdemo", namespace)
        await driver.teardown()

    assert await leftovers(kube, runtime_type="juicefs", namespace=namespace, name="jfsdemo") == []
    assert engine_env.ports.held_by(eng.ports_owner) == {}
    assert {c.command for c in engine_env.executor.calls} <= {
        ("df", "--block-size=1"),
        ("bash", "-c", f"ls -lR {mount} |grep ^- |wc -l"),
        ("cat", f"{mount}/.stats"),
    }
    assert ("bash", "-c", f"ls -lR {mount} |grep ^- |wc -l") in engine_env.executor.commands()
    assert {c.container for c in engine_env.executor.calls} == {"juicefs-worker"}
    assert any(e.get("event") == "dataset_bound" for e in logs), "logs were not captured"
    for value in SECRETS.values():
        assert value not in text
        assert value not in repr(logs)
