"""``status.cacheAffinity``: the worker StatefulSet's node affinity merged with its nodeSelector
(upstream's rule), and how the shared status path reports it."""

from __future__ import annotations

import copy
from typing import Any

from fluid.engines import base
from fluid.engines.alluxio.engine import AlluxioEngine
from fluid.kube import resources

Obj = dict[str, Any]
ZONE = "topology.kubernetes.io/zone"


def worker(*, node_selector: dict[str, str] | None = None, node_affinity: Obj | None = None) -> Obj:
    pod: Obj = {"containers": [{"name": "w", "image": "x"}]}
    if node_selector is not None:
        pod["nodeSelector"] = node_selector
    if node_affinity is not None:
        pod["affinity"] = {"nodeAffinity": node_affinity,
                           "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": []}}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "hbase-worker", "namespace": "default"},
            "spec": {"replicas": 1, "template": {"spec": pod}}}


def engine(view: base.MemoryView) -> AlluxioEngine:
    deps = base.EngineDeps(client=None, view=view, ports=None, events=None,  # type: ignore[arg-type]
                           executor=base.RecordingExecutor())
    return AlluxioEngine(deps, base.RuntimeKey("AlluxioRuntime", "default", "hbase"))


def snapshot(runtime_status: Obj | None = None) -> base.Snapshot:
    meta = {"name": "hbase", "namespace": "default"}
    return base.Snapshot(runtime={"metadata": meta, "spec": {"replicas": 1},
                                  "status": runtime_status or {}},
                         dataset={"metadata": meta, "spec": {}})


def expr(key: str, *values: str, operator: str = "In") -> Obj:
    return {"key": key, "operator": operator, "values": list(values)}


def test_node_selector_is_anded_into_every_required_term() -> None:
    preferred = [{"weight": 100, "preference": {"matchExpressions": [expr("fluid.io/f-x", "true")]}}]
    sts = worker(node_selector={ZONE: "zone-a", "disk": "ssd"}, node_affinity={
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [expr("gpu", "a100")]},
            {"matchExpressions": [expr("gpu", "h100")], "matchFields": [expr("metadata.name", "n1")]},
        ]},
        "preferredDuringSchedulingIgnoredDuringExecution": preferred,
    })
    before = copy.deepcopy(sts)

    affinity = base.cache_affinity(sts)

    selector = [expr("disk", "ssd"), expr(ZONE, "zone-a")]
    assert affinity == {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [expr("gpu", "a100"), *selector]},
            {"matchExpressions": [expr("gpu", "h100"), *selector],
             "matchFields": [expr("metadata.name", "n1")]},
        ]},
        "preferredDuringSchedulingIgnoredDuringExecution": preferred,
    }
    assert sts == before  # the cached StatefulSet is shared: never changed


def test_a_node_selector_alone_becomes_the_one_required_term() -> None:
    assert base.cache_affinity(worker(node_selector={ZONE: "zone-b"})) == {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [expr(ZONE, "zone-b")]}]}}


def test_preferred_only_gets_an_empty_required_list_as_upstream() -> None:
    preferred = [{"weight": 1, "preference": {"matchExpressions": [expr("a", "b")]}}]
    assert base.cache_affinity(worker(node_affinity={
        "preferredDuringSchedulingIgnoredDuringExecution": preferred})) == {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []},
        "preferredDuringSchedulingIgnoredDuringExecution": preferred}
    assert base.cache_affinity(worker()) == {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}


def test_runtime_status_carries_the_cache_affinity_of_its_workers() -> None:
    view = base.MemoryView()
    assert "cacheAffinity" not in engine(view).component_status(snapshot())  # no workers yet

    view.add(resources.STATEFULSETS, worker(node_selector={ZONE: "zone-a"}))
    status = engine(view).component_status(snapshot())

    assert status["cacheAffinity"] == {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [expr(ZONE, "zone-a")]}]}}


def test_a_key_the_workers_lost_is_sent_as_null_for_the_merge_patch() -> None:
    view = base.MemoryView([(resources.STATEFULSETS, worker(node_selector={ZONE: "zone-a"}))])
    old = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []},
           "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {}}]}

    status = engine(view).component_status(snapshot({"cacheAffinity": old}))

    assert status["cacheAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] is None
    assert status["cacheAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [{"matchExpressions": [expr(ZONE, "zone-a")]}]}
    current = {"cacheAffinity": base.cache_affinity(worker(node_selector={ZONE: "zone-a"}))}
    assert engine(view).component_status(snapshot(current))["cacheAffinity"] == current["cacheAffinity"]
