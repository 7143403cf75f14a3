"""Pure logic of the store, the informer's event handling and the controller's watch mapping."""

from __future__ import annotations

from typing import Any

from fluid.kube.resources import CONFIGMAPS
from fluid.reconcile import controller as ctl
from fluid.reconcile.informer import Informer
from fluid.reconcile.store import Store, key_of, split_key
from fluid.reconcile.workqueue import RateLimitingQueue


def obj(name: str, namespace: str | None = "ns", rv: str = "1", **meta: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "resourceVersion": rv, **meta}
    if namespace:
        metadata["namespace"] = namespace
    return {"metadata": metadata}


def test_keys_round_trip() -> None:
    assert key_of(obj("a")) == "ns/a"
    assert key_of(obj("node-1", None)) == "node-1"
    assert split_key("ns/a") == ("ns", "a")
    assert split_key("node-1") == (None, "node-1")


def test_index_follows_updates_and_removals() -> None:
    store = Store()
    store.upsert(obj("a", labels={"team": "x"}))
    store.add_indexer("team", lambda o: [o["metadata"].get("labels", {}).get("team", "")])
    store.upsert(obj("b", labels={"team": "x"}))
    assert sorted(store.index_keys("team", "x")) == ["ns/a", "ns/b"]
    store.upsert(obj("a", rv="2", labels={"team": "y"}))
    assert store.index_keys("team", "x") == ["ns/b"]
    assert store.index_keys("team", "y") == ["ns/a"]
    store.remove("ns/b")
    assert store.index_keys("team", "x") == []
    assert store.by_index("team", "y")[0]["metadata"]["resourceVersion"] == "2"


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def on_add(self, o: dict[str, Any]) -> None:
        self.events.append(("add", o["metadata"]["name"]))

    def on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.events.append(("update", new["metadata"]["name"]))

    def on_delete(self, o: dict[str, Any]) -> None:
        self.events.append(("delete", o["metadata"]["name"]))


def informer() -> tuple[Informer, Recorder]:
    inf = Informer(None, CONFIGMAPS, resync_period=None)  # type: ignore[arg-type]
    rec = Recorder()
    inf.add_handler(rec)
    return inf, rec


def test_events_bookmarks_and_managed_fields() -> None:
    inf, rec = informer()
    inf._handle_event({"type": "ADDED", "object": obj("a", managedFields=[{"x": 1}])})
    inf._handle_event({"type": "MODIFIED", "object": obj("a", rv="1")})  # same rv: no update
    inf._handle_event({"type": "MODIFIED", "object": obj("a", rv="2")})
    inf._handle_event({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}})
    inf._handle_event({"type": "DELETED", "object": obj("a", rv="10")})
    assert rec.events == [("add", "a"), ("update", "a"), ("delete", "a")]
    assert inf.resource_version == "10"
    assert len(inf.store) == 0


def test_relist_emits_tombstones_for_vanished_objects() -> None:
    inf, rec = informer()
    inf._replace([obj("a"), obj("b")])
    rec.events.clear()
    inf._replace([obj("b", rv="2"), obj("c")])
    assert sorted(rec.events) == [("add", "c"), ("delete", "a"), ("update", "b")]


def test_watch_maps_owned_objects_to_owner_and_applies_predicates() -> None:
    queue: RateLimitingQueue[str] = RateLimitingQueue()
    owned = ctl._Watch(queue, ctl.owner_mapper("AlluxioRuntime", "data.fluid.io"), ())
    child = obj("demo-worker", ownerReferences=[
        {"apiVersion": "data.fluid.io/v1alpha1", "kind": "AlluxioRuntime", "name": "demo"},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "other"},
    ])
    owned.on_add(child)
    assert queue._dirty == {"ns/demo"}
    spec_only = ctl._Watch(queue, lambda o: [key_of(o)], (ctl.generation_changed,))
    spec_only.on_update(obj("x", generation=1), obj("x", rv="2", generation=1))
    assert "ns/x" not in queue._dirty
    spec_only.on_update(obj("x", generation=1), obj("x", rv="3", generation=2))
    assert "ns/x" in queue._dirty
