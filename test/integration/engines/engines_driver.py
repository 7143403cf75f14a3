"""Drives one engine through its lifecycle the way the runtime controller does, and checks
that nothing is left behind. Used by the engine lifecycle tests in this directory."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from fluid.api import constants, kinds
from fluid.engines import base
from fluid.kube import KubeClient, events, resources
from fluid.reconcile import Manager
from fluid.scheduling.ports import PortAllocator, PortRange
from fluid.testing.wait import eventually

Obj = dict[str, Any]


class Driver:
    """Calls validate/setup/create_volume/sync/delete_volume/shutdown with fresh snapshots."""

    def __init__(self, kube: KubeClient, engine: base.Engine, *, kind: str, namespace: str,
                 name: str) -> None:
        self.kube = kube
        self.engine = engine
        self.res = kinds.BY_KIND[kind].resource
        self.namespace = namespace
        self.name = name

    async def snap(self) -> base.Snapshot:
        runtime = await self.kube.get(self.res, self.name, self.namespace)
        dataset = await self.kube.get_or_none(kinds.DATASET.resource, self.name, self.namespace)
        return base.Snapshot(runtime=runtime, dataset=dataset)

    async def setup(self, *, timeout: float = 60) -> None:
        """The runtime controller's finalizer first (so deletion waits for teardown), then
        setup until ready, then the volume."""
        runtime_type = kinds.BY_KIND[self.res.kind].runtime_type
        finalizer = constants.RUNTIME_FINALIZERS[constants.RuntimeType(str(runtime_type))]
        await self.kube.merge_patch(self.res, self.name, self.namespace,
                                    {"metadata": {"finalizers": [finalizer]}})

        async def ready() -> bool:
            snap = await self.snap()
            self.engine.validate(snap)
            return await self.engine.setup(snap)
        await eventually(ready, timeout=timeout, interval=0.3, what=f"{self.name} set up")
        await self.engine.create_volume(await self.snap())

    async def sync(self) -> None:
        await self.engine.sync(await self.snap())

    async def teardown(self, *, timeout: float = 60) -> None:
        async def volume_gone() -> bool:
            return await self.engine.delete_volume(await self.snap())
        await eventually(volume_gone, timeout=timeout, interval=0.3, what="PV/PVC deleted")

        async def shut_down() -> bool:
            return await self.engine.shutdown(await self.snap())
        await eventually(shut_down, timeout=timeout, interval=0.3, what="runtime shut down")
        await self.engine.close()
        await self.kube.merge_patch(self.res, self.name, self.namespace,
                                    {"metadata": {"finalizers": []}})

        async def runtime_gone() -> bool:
            return await self.kube.get_or_none(self.res, self.name, self.namespace) is None
        await eventually(runtime_gone, timeout=timeout, what="runtime deleted")


async def ready_pods(kube: KubeClient, namespace: str, selector: dict[str, str]) -> list[Obj]:
    label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    pods, _ = await kube.list_all(resources.PODS, namespace, label_selector=label_selector)
    return [p for p in pods if p.get("spec", {}).get("nodeName") and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in p.get("status", {}).get("conditions") or [])]


async def wait_ready_pods(kube: KubeClient, namespace: str, selector: dict[str, str], count: int,
                          *, timeout: float = 60) -> list[Obj]:
    found: list[Obj] = []

    async def enough() -> bool:
        nonlocal found
        found = await ready_pods(kube, namespace, selector)
        return len(found) == count
    await eventually(enough, timeout=timeout, interval=0.3,
                     what=f"{count} ready pods matching {selector}")
    return found


async def dataset_and_pvc_bound(kube: KubeClient, namespace: str, name: str) -> bool:
    """The Dataset ``name`` and its PVC both Bound."""
    dataset = await kube.get_or_none(kinds.DATASET.resource, name, namespace)
    pvc = await kube.get_or_none(resources.PERSISTENT_VOLUME_CLAIMS, name, namespace)
    return all(((obj or {}).get("status") or {}).get("phase") == "Bound" for obj in (dataset, pvc))


def component(runtime_type: str, name: str, comp: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": runtime_type, "app.kubernetes.io/instance": name,
            "app.kubernetes.io/component": comp}


async def label_node(kube: KubeClient, node: str, labels: dict[str, str | None]) -> None:
    """What the CSI plugin's NodeStage does for a FUSE: label the node."""
    await kube.merge_patch(resources.NODES, node, None, {"metadata": {"labels": labels}})


async def leftovers(kube: KubeClient, *, runtime_type: str, namespace: str, name: str) -> list[str]:
    """Everything of this runtime still in the cluster (empty when cleanup was complete)."""
    found = []
    selector = f"app.kubernetes.io/instance={name},app.kubernetes.io/name={runtime_type}"
    for res in (resources.STATEFULSETS, resources.DAEMONSETS, resources.CONFIGMAPS,
                resources.SERVICES, resources.SECRETS):
        items, _ = await kube.list_all(res, namespace, label_selector=selector)
        found += [f"{res.kind}/{i['metadata']['name']}" for i in items
                  if not i["metadata"].get("deletionTimestamp")]
    if await kube.get_or_none(resources.PERSISTENT_VOLUMES, f"{namespace}-{name}") is not None:
        found.append(f"PersistentVolume/{namespace}-{name}")
    if await kube.get_or_none(resources.PERSISTENT_VOLUME_CLAIMS, name, namespace) is not None:
        found.append(f"PersistentVolumeClaim/{name}")
    suffix = f"-{namespace}-{name}"
    nodes, _ = await kube.list_all(resources.NODES)
    for node in nodes:
        for key in node["metadata"].get("labels") or {}:
            if key.startswith(constants.LABEL_PREFIX) and key.endswith(suffix):
                found.append(f"Node/{node['metadata']['name']} label {key}")
        if node["metadata"].get("labels", {}).get(constants.LABEL_EXCLUSIVE) == \
                constants.exclusive_value(namespace, name):
            found.append(f"Node/{node['metadata']['name']} label {constants.LABEL_EXCLUSIVE}")
    return found


async def namespace_text(kube: KubeClient, namespace: str,
                         res: Iterable[Any] = (resources.CONFIGMAPS, resources.STATEFULSETS,
                                               resources.DAEMONSETS, resources.EVENTS)) -> str:
    """Every object of these kinds in the namespace as one JSON text (to search for secrets)."""
    items = []
    for r in res:
        found, _ = await kube.list_all(r, namespace)
        items += found
    return json.dumps(items)


WATCHED = (resources.PODS, resources.STATEFULSETS, resources.DAEMONSETS, resources.NODES)


class EngineEnv:
    """What a runtime controller gives its engines, built from a running Manager."""

    def __init__(self, kube: KubeClient, manager: Manager) -> None:
        self.kube = kube
        self.manager = manager
        self.view = base.InformerView({r: manager.informer(r) for r in WATCHED})
        self.ports = PortAllocator(PortRange(14000, 14999))
        self.executor = base.RecordingExecutor()
        self.recorder = events.EventRecorder(kube, "fluid-test")

    def deps(self) -> base.EngineDeps:
        return base.EngineDeps(client=self.kube, view=self.view, ports=self.ports,
                               events=self.recorder, executor=self.executor,
                               config=base.EngineConfig(sync_retry_seconds=0.0))
