"""Seed 002 end to end: the JuiceFSRuntime with encryptOptions, with Fluid's Dataset and
runtime controllers running in-process against a real API server, scheduler,
controller-manager and kwok nodes.

The seed's Dataset and JuiceFSRuntime (test/data/seeds/002-*.yaml) are applied unchanged
(only placed in the test's namespace), after ``kubectl create secret generic jfs-secret``
as the seed shows it. The flow is seed 004's: workloads created, pods scheduled and Ready,
Dataset Bound, PVC Bound; then scaling out and in; then deletion leaves no workload, PV,
PVC, host port or node label behind. The Secret's values never appear in a ConfigMap, an
object, an Event or a log line (structlog output is captured). Only the exec boundary into
JuiceFS pods is a recorded fake, and its commands are asserted exactly.
"""

from __future__ import annotations

import base64
import copy
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml

from fluid.api import constants, kinds
from fluid.engines.base import EngineConfig, EngineSettings, RecordingExecutor
from fluid.kube import KubeClient, resources
from fluid.scheduling.ports import PortAllocator, PortRange
from fluid.testing import controlplane
from fluid.testing.managers import running_controllers
from fluid.testing.wait import eventually

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "engines"))
from engines_driver import (
    component,
    dataset_and_pvc_bound,
    label_node,
    leftovers,
    namespace_text,
    ready_pods,
)

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

Obj = dict[str, Any]
SEEDS = Path(__file__).resolve().parents[1] / "data" / "seeds"
NAME = "jfsdemo"
SECRET_VALUES = {"metaurl": "redis://:jfs-m3ta-secret@192.168.169.168:6379/1",
                 "access-key": "AKIA-seed002-not-for-logs", "secret-key": "seed002-secret-key-value"}


def seed_docs(namespace: str) -> list[Obj]:
    docs = []
    for path in sorted(SEEDS.glob("002-*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                doc = copy.deepcopy(doc)
                doc["metadata"]["namespace"] = namespace
                docs.append(doc)
    return docs


@pytest.fixture
async def fifth_node(kube: KubeClient, workloads: list[str]) -> AsyncIterator[str]:
    """The seed asks for 5 exclusive workers; the session has 4 kwok nodes, so add one."""
    name = f"kwok-jfs-{uuid.uuid4().hex[:6]}"
    await kube.create(controlplane.fake_node(name, 4))

    async def ready() -> bool:
        node = await kube.get(resources.NODES, name)
        return any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (node.get("status") or {}).get("conditions") or ())
    await eventually(ready, timeout=30, what=f"node {name} Ready")
    yield name
    await kube.delete(resources.NODES, name)


async def get(kube: KubeClient, kind: str, namespace: str) -> Obj:
    return await kube.get(kinds.BY_KIND[kind].resource, NAME, namespace)


async def wait_workers(kube: KubeClient, namespace: str, count: int) -> list[Obj]:
    found: list[Obj] = []

    async def settled() -> bool:
        nonlocal found
        found = await ready_pods(kube, namespace, component("juicefs", NAME, "worker"))
        runtime = await get(kube, "JuiceFSRuntime", namespace)
        status = runtime.get("status") or {}
        return len(found) == count and status.get("workerNumberReady") == count \
            and status.get("workerPhase") == "Ready"
    await eventually(settled, timeout=90, interval=0.3, what=f"{count} workers Ready")
    return found


async def test_seed002_juicefs_runtime(kube: KubeClient, namespace: str, fluid_crds: list[str],
                                       workloads: list[str], fifth_node: str) -> None:
    mount = f"/runtime-mnt/juicefs/{namespace}/{NAME}/juicefs-fuse"
    executor = RecordingExecutor({
        ("df", "--block-size=1"): "Filesystem 1B-blocks Used Available Use% Mounted on\n"
                                  f"JuiceFS:minio 1099511627776 3221225472 1096290402304 1% {mount}\n",
        ("bash", "-c"): "1024\n",
        ("cat",): "juicefs_blockcache_bytes 1073741824\njuicefs_blockcache_hits 9\n"
                  "juicefs_blockcache_miss 1\n"})
    ports = PortAllocator(PortRange(14000, 15999))
    settings = EngineSettings(ports=ports, executor=executor, resync_seconds=1.0,
                              setup_retry_seconds=0.5, config=EngineConfig(sync_retry_seconds=0.0))
    await kube.create({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": "jfs-secret", "namespace": namespace},
                       "data": {k: base64.b64encode(v.encode()).decode()
                                for k, v in SECRET_VALUES.items()}})

    with structlog.testing.capture_logs() as logs:
        async with running_controllers(kube, ["dataset", "runtime"], engines=settings):
            for doc in seed_docs(namespace):
                await kube.create(doc)

            workers = await wait_workers(kube, namespace, 5)
            assert len({p["spec"]["nodeName"] for p in workers}) == 5  # Exclusive placement

            await eventually(lambda: dataset_and_pvc_bound(kube, namespace, NAME), timeout=60,
                             interval=0.3, what="Dataset and PVC Bound")
            ds = await get(kube, "Dataset", namespace)
            assert ds["status"]["runtimes"] == [{"name": NAME, "namespace": namespace,
                                                 "category": "Accelerate", "type": "juicefs",
                                                 "masterReplicas": 1}]

            # the CSI plugin labels a node when a pod there uses the PVC; FUSE follows
            await label_node(kube, workloads[0], {constants.fuse_label(namespace, NAME): "true"})

            async def fuse_ready() -> bool:
                return len(await ready_pods(kube, namespace, component("juicefs", NAME, "fuse"))) == 1
            await eventually(fuse_ready, timeout=60, interval=0.3, what="FUSE pod Ready")

            async def metadata() -> bool:
                ds = await get(kube, "Dataset", namespace)
                status = ds.get("status") or {}
                return status.get("fileNum") == "1024" and status.get("ufsTotal") == "3.00GiB"
            await eventually(metadata, timeout=60, interval=0.5, what="ufsTotal and fileNum")

            for replicas in (2, 3):
                await kube.merge_patch(kinds.JUICEFS_RUNTIME.resource, NAME, namespace,
                                       {"spec": {"replicas": replicas}})
                await wait_workers(kube, namespace, replicas)
            runtime = await get(kube, "JuiceFSRuntime", namespace)
            assert {"WorkersScaledIn", "WorkersScaledOut"} <= {
                c["type"] for c in runtime["status"]["conditions"]}
            owner = f"JuiceFSRuntime/{namespace}/{NAME}"
            assert set(ports.held_by(owner)) == {"worker-metrics", "fuse-metrics"}

            text = await namespace_text(kube, namespace)
            await kube.delete(kinds.JUICEFS_RUNTIME.resource, NAME, namespace)

            async def runtime_gone() -> bool:
                return await kube.get_or_none(kinds.JUICEFS_RUNTIME.resource, NAME, namespace) is None
            await eventually(runtime_gone, timeout=60, interval=0.3, what="JuiceFSRuntime deleted")

            async def clean() -> bool:
                return not await leftovers(kube, runtime_type="juicefs", namespace=namespace,
                                           name=NAME)
            await eventually(clean, timeout=60, interval=0.5, what="nothing left behind")
            ds = await get(kube, "Dataset", namespace)
            assert ds["status"]["phase"] == "NotBound"
            assert ports.held_by(owner) == {}
            await label_node(kube, workloads[0], {constants.fuse_label(namespace, NAME): None})

    assert await leftovers(kube, runtime_type="juicefs", namespace=namespace, name=NAME) == []
    commands = {(c.container, c.command) for c in executor.calls if c.namespace == namespace}
    assert commands == {
        ("juicefs-worker", ("df", "--block-size=1")),
        ("juicefs-worker", ("bash", "-c", f"ls -lR {mount} |grep ^- |wc -l")),
        ("juicefs-worker", ("cat", f"{mount}/.stats")),
    }
    assert any(e.get("event") == "dataset_bound" for e in logs), "structlog output not captured"
    for value in SECRET_VALUES.values():
        assert value not in text, "a Secret value reached an object or Event"
        assert value not in repr(logs), "a Secret value reached the logs"
