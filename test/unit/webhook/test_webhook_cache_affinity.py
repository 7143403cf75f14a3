"""From an engine's worker StatefulSet to the app pod: the runtime's ``status.cacheAffinity``
as the engines compute it lets ``NodeAffinityWithCache`` prefer the workers' zone."""

from __future__ import annotations

from typing import Any

import webhook_objects as objs

from fluid.engines import base
from fluid.engines.alluxio.engine import AlluxioEngine
from fluid.scheduling.ports import PortAllocator, PortRange
from fluid.webhook import datasets
from fluid.webhook.jsonpatch import PatchEditor
from fluid.webhook.plugins import build_plugin
from fluid.webhook.plugins.api import PodContext

NS, NAME = "team", "imagenet"
ZONE = "topology.kubernetes.io/zone"
PREFERRED = ("spec", "affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution")


async def rendered_worker(worker_spec: dict[str, Any]) -> dict[str, Any]:
    """The worker StatefulSet the Alluxio engine applies for a runtime with ``worker_spec``."""
    deps = base.EngineDeps(client=None, view=base.MemoryView(),  # type: ignore[arg-type]
                           ports=PortAllocator(PortRange(30000, 30100)), events=None,  # type: ignore[arg-type]
                           executor=base.RecordingExecutor())
    engine = AlluxioEngine(deps, base.RuntimeKey("AlluxioRuntime", NS, NAME))
    meta = {"name": NAME, "namespace": NS, "uid": "u"}
    snap = base.Snapshot(
        runtime={"metadata": meta, "spec": {"worker": worker_spec, "tieredstore": {"levels": [
            {"mediumtype": "MEM", "path": "/dev/shm", "quota": "1Gi"}]}}},
        dataset={"metadata": meta, "spec": {"mounts": [{"name": "d", "mountPoint": "s3://b/"}]}})
    objects = engine.desired(snap, await engine.context(snap))
    return next(o for o in objects if o["metadata"]["name"] == f"{NAME}-worker")


def mutate(cache_affinity: dict[str, Any]) -> PodContext:
    pod = objs.pod(NS, "app", claims=(NAME,))
    caches = objs.caches(*objs.bound_dataset(NS, NAME, cache_affinity=cache_affinity))
    ctx = PodContext(namespace=NS, datasets=datasets.resolve(pod, NS, caches),
                     editor=PatchEditor(pod), caches=caches)
    build_plugin("NodeAffinityWithCache").mutate(ctx)
    return ctx


async def test_workers_pinned_to_a_zone_make_app_pods_prefer_it() -> None:
    affinity = base.cache_affinity(await rendered_worker({"nodeSelector": {ZONE: "zone-a"}}))

    ctx = mutate(affinity)

    assert ctx.editor.get(PREFERRED) == [{"weight": 50, "preference": {"matchExpressions": [
        {"key": ZONE, "operator": "In", "values": ["zone-a"]}]}}]


async def test_workers_anywhere_add_no_zone_preference() -> None:
    affinity = base.cache_affinity(await rendered_worker({}))

    ctx = mutate(affinity)

    terms = ctx.editor.get(PREFERRED) or []
    assert all(e["key"] != ZONE for t in terms for e in t["preference"]["matchExpressions"])
