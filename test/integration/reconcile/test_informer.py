"""The informer against a real API server: events, indexes, and recovery from 410 Gone."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from fluid.kube import KubeClient, resources
from fluid.kube.resources import Resource
from fluid.reconcile.informer import Informer
from fluid.testing.wait import eventually

pytestmark = pytest.mark.cluster


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def on_add(self, obj: dict[str, Any]) -> None:
        self.events.append(("add", obj["metadata"]["name"]))

    def on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.events.append(("update", new["metadata"]["name"]))

    def on_delete(self, obj: dict[str, Any]) -> None:
        self.events.append(("delete", obj["metadata"]["name"]))


def configmap(namespace: str, name: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": {"team": data.get("team", "x")}},
        "data": data,
    }


@contextlib.asynccontextmanager
async def running(informer: Informer):  # type: ignore[no-untyped-def]
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.wait_for_sync(), 20)
        yield informer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_sees_create_update_delete(kube: KubeClient, namespace: str) -> None:
    await kube.create(configmap(namespace, "before", team="a"))
    informer = Informer(kube, resources.CONFIGMAPS, namespace=namespace, resync_period=None)
    informer.add_indexer("team", lambda o: [o["metadata"].get("labels", {}).get("team", "")])
    recorder = Recorder()
    informer.add_handler(recorder)
    async with running(informer):
        assert ("add", "before") in recorder.events
        await kube.create(configmap(namespace, "new", team="b"))
        await eventually(lambda: ("add", "new") in recorder.events, what="add event")
        await kube.merge_patch(resources.CONFIGMAPS, "new", namespace,
                               {"metadata": {"labels": {"team": "a"}}})
        await eventually(lambda: ("update", "new") in recorder.events, what="update event")
        teams = sorted(o["metadata"]["name"] for o in informer.store.by_index("team", "a"))
        assert teams == ["before", "new"]
        await kube.delete(resources.CONFIGMAPS, "before", namespace)
        await eventually(lambda: ("delete", "before") in recorder.events, what="delete event")
        assert informer.get(f"{namespace}/before") is None
        assert informer.store.index_keys("team", "a") == [f"{namespace}/new"]
        cached = informer.get(f"{namespace}/new")
        assert cached is not None
        assert "managedFields" not in cached["metadata"]


PODTEMPLATES = Resource("", "v1", "podtemplates", "PodTemplate")


def podtemplate(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "PodTemplate",
        "metadata": {"name": name, "namespace": namespace},
        "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}},
    }


async def test_relists_after_compaction_410_and_emits_deletes(
    control_plane: Any, kube: KubeClient, namespace: str
) -> None:
    """PodTemplates bypass the apiserver's watch cache in the test control plane, so the
    watch is served by etcd, and compacting etcd makes the old resourceVersion really gone."""
    if not hasattr(control_plane, "compact_etcd"):
        pytest.skip("needs direct etcd access (local control plane)")
    for name in ("keep", "vanish"):
        await kube.create(podtemplate(namespace, name), res=PODTEMPLATES)
    informer = Informer(kube, PODTEMPLATES, namespace=namespace, resync_period=None)
    recorder = Recorder()
    informer.add_handler(recorder)
    async with running(informer):
        pass
    # While "disconnected": one object goes, one arrives, and etcd compacts its history.
    await kube.delete(PODTEMPLATES, "vanish", namespace)
    latest = await kube.create(podtemplate(namespace, "arrived"), res=PODTEMPLATES)
    control_plane.compact_etcd(int(latest["metadata"]["resourceVersion"]))
    relists = informer.relists
    async with running(informer):
        await eventually(lambda: informer.relists > relists, what="relist after 410")
        await eventually(lambda: ("delete", "vanish") in recorder.events, what="tombstone")
    assert sorted(k.split("/")[1] for k in informer.store) == ["arrived", "keep"]
    assert ("add", "arrived") in recorder.events
