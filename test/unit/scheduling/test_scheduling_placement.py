"""Worker affinity for Exclusive and Shared datasets, with the Dataset's nodeAffinity."""

from __future__ import annotations

from fluid.scheduling.placement import worker_affinity, worker_pod_labels

FUSE = "fluid.io/f-ns-demo"
ZONE_A = {"nodeSelectorTerms": [{"matchExpressions": [
    {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["zone-a"]}]}]}


def test_exclusive_workers_repel_every_dataset_worker_and_foreign_exclusive_nodes() -> None:
    affinity = worker_affinity(namespace="ns", name="demo", placement="Exclusive",
                               node_affinity=None, fuse_label=FUSE)
    anti = affinity["podAntiAffinity"]
    assert anti == {"requiredDuringSchedulingIgnoredDuringExecution": [{
        "labelSelector": {"matchExpressions": [{"key": "fluid.io/dataset", "operator": "Exists"}]},
        "topologyKey": "kubernetes.io/hostname"}]}
    terms = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [
        {"matchExpressions": [{"key": "fluid_exclusive", "operator": "DoesNotExist"}]},
        {"matchExpressions": [{"key": "fluid_exclusive", "operator": "In", "values": ["ns_demo"]}]},
    ]
    preferred = affinity["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred == [{"weight": 100, "preference": {"matchExpressions": [
        {"key": FUSE, "operator": "In", "values": ["true"]}]}}]


def test_shared_workers_avoid_exclusive_ones_and_each_other() -> None:
    affinity = worker_affinity(namespace="ns", name="demo", placement="Shared",
                               node_affinity=ZONE_A, fuse_label=FUSE)
    required = affinity["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert [t["labelSelector"]["matchExpressions"] for t in required] == [
        [{"key": "fluid.io/dataset-placement", "operator": "In", "values": ["Exclusive"]}],
        [{"key": "fluid.io/dataset", "operator": "In", "values": ["ns-demo"]}],
    ]
    preferred = affinity["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred[0]["weight"] == 50
    terms = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [
        {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["zone-a"]},
        {"key": "fluid_exclusive", "operator": "DoesNotExist"}]}]
    assert ZONE_A["nodeSelectorTerms"][0]["matchExpressions"][-1]["key"] != "fluid_exclusive"


def test_worker_pod_labels() -> None:
    assert worker_pod_labels("ns", "demo", "") == {
        "fluid.io/dataset": "ns-demo", "fluid.io/dataset-placement": "Exclusive"}
    assert worker_pod_labels("ns", "demo", "Shared")["fluid.io/dataset-placement"] == "Shared"
