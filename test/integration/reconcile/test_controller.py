"""A test-only ConfigMap controller driven by the Manager against a real API server."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

import aiohttp
import pytest

from fluid.kube import KubeClient, resources
from fluid.reconcile.manager import Manager, ManagerConfig
from fluid.testing.wait import eventually

sys.path.insert(0, str(Path(__file__).parent))
import configmap_controller as cmc

pytestmark = pytest.mark.cluster


async def annotation(kube: KubeClient, namespace: str, name: str) -> str | None:
    obj = await kube.get(resources.CONFIGMAPS, name, namespace)
    return (obj["metadata"].get("annotations") or {}).get(cmc.SEEN)


@contextlib.asynccontextmanager
async def started(manager: Manager):  # type: ignore[no-untyped-def]
    task = asyncio.create_task(manager.run())
    try:
        await eventually(lambda: manager.ready, what="manager ready")
        yield task
    finally:
        manager.stop()
        await asyncio.wait_for(task, 30)


async def test_reconciles_configmaps(kube: KubeClient, namespace: str) -> None:
    manager, reconciler = cmc.build(kube, namespace, ManagerConfig(health_host="127.0.0.1", health_port=0))
    await kube.create(cmc_obj(namespace, "one", "a"))
    async with started(manager):
        async def seen(name: str, value: str) -> bool:
            return await annotation(kube, namespace, name) == value

        await eventually(lambda: seen("one", "a"), what="existing object reconciled")
        await kube.create(cmc_obj(namespace, "two", "b"))
        await eventually(lambda: seen("two", "b"), what="new object reconciled")
        await kube.merge_patch(resources.CONFIGMAPS, "one", namespace, {"data": {"input": "c"}})
        await eventually(lambda: seen("one", "c"), what="update reconciled")

        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{manager.health_port}"
            async with http.get(base + "/readyz") as resp:
                assert resp.status == 200
            async with http.get(base + "/metrics") as resp:
                text = await resp.text()
        assert 'fluid_reconcile_total{controller="configmap-copy",result="success"}' in text
        assert "fluid_workqueue_adds_total" in text
    assert reconciler.overlaps == 0


def cmc_obj(namespace: str, name: str, value: str) -> dict[str, object]:
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace}, "data": {"input": value},
    }


async def test_heap_frozen_after_caches_sync_only_when_configured(kube: KubeClient, namespace: str) -> None:
    """The synced cache moves to the GC's permanent generation; objects stay reachable."""
    import gc

    await kube.create(cmc_obj(namespace, "kept", "v"))
    gc.unfreeze()
    plain, _ = cmc.build(kube, namespace, ManagerConfig(health_port=None))
    async with started(plain):
        assert gc.get_freeze_count() == 0
    frozen, _ = cmc.build(kube, namespace, ManagerConfig(health_port=None, freeze_heap_after_sync=True))
    try:
        async with started(frozen):
            assert gc.get_freeze_count() > 0
            informer = next(iter(frozen._informers.values()))
            assert informer.get(f"{namespace}/kept") is not None
    finally:
        gc.unfreeze()
