"""Cache-node labels: seed 000's label set, the dataset counter, exclusivity, removal."""

from __future__ import annotations

from fluid.scheduling import nodelabels
from fluid.scheduling.nodelabels import Capacity, LabelSet, after_label, after_unlabel

GiB = 2**30


def demo_set(*, exclusive: bool = True, capacity: Capacity | None = None) -> LabelSet:
    return LabelSet.for_runtime(
        runtime_type="alluxio", namespace="default", name="demo", uid="uid-1",
        exclusive=exclusive, capacity=capacity or Capacity(memory=2 * GiB, disk=1 * GiB),
    )


def test_seed000_label_set_on_an_empty_node() -> None:
    assert after_label({"kubernetes.io/hostname": "n1"}, demo_set()) == {
        "kubernetes.io/hostname": "n1",
        "fluid.io/dataset-num": "1",
        "fluid.io/s-alluxio-default-demo": "true",
        "fluid.io/s-default-demo": "true",
        "fluid.io/s-h-alluxio-m-default-demo": "2GiB",
        "fluid.io/s-h-alluxio-d-default-demo": "1GiB",
        "fluid.io/s-h-alluxio-t-default-demo": "3GiB",
        "fluid_exclusive": "default_demo",
    }


def test_labelling_twice_counts_once_and_other_datasets_add_up() -> None:
    once = after_label({}, demo_set())
    assert after_label(once, demo_set()) == once
    other = LabelSet.for_runtime(runtime_type="alluxio", namespace="default", name="other",
                                 uid=None, exclusive=False, capacity=Capacity(memory=GiB))
    both = after_label(once, other)
    assert both["fluid.io/dataset-num"] == "2"
    assert both["fluid_exclusive"] == "default_demo"
    assert "fluid.io/s-h-alluxio-d-default-other" not in both


def test_unlabel_restores_the_node_and_keeps_others() -> None:
    base = {"kubernetes.io/hostname": "n1"}
    other = LabelSet.for_runtime(runtime_type="juicefs", namespace="x", name="y", uid=None,
                                 exclusive=False, capacity=Capacity(disk=GiB))
    labelled = after_label(after_label(base, other), demo_set())
    assert after_unlabel(labelled, demo_set()) == after_label(base, other)
    assert after_unlabel(after_label(base, demo_set()), demo_set()) == base
    assert after_unlabel(base, demo_set()) == base


def test_unlabel_leaves_another_datasets_exclusive_label() -> None:
    labels = after_label({}, demo_set(exclusive=False))
    labels["fluid_exclusive"] = "other_ds"
    assert after_unlabel(labels, demo_set())["fluid_exclusive"] == "other_ds"


def test_unlabel_removes_capacity_keys_of_a_tier_no_longer_in_the_spec() -> None:
    labelled = after_label({}, demo_set())
    mem_only = demo_set(capacity=Capacity(memory=GiB))
    assert after_unlabel(labelled, mem_only) == {}


def test_long_names_fall_back_to_the_dataset_uid() -> None:
    long = LabelSet.for_runtime(runtime_type="alluxio", namespace="n" * 30, name="d" * 30,
                                uid="1234", exclusive=True, capacity=Capacity(memory=GiB))
    assert long.runtime_key == "fluid.io/s-alluxio-1234"
    assert long.common_key == "fluid.io/s-1234"


def test_capacity_from_levels_and_human_sizes() -> None:
    levels = [{"mediumtype": "MEM", "quota": "2Gi"},
              {"mediumtype": "SSD", "quotaList": "1Gi,512Mi"},
              {"mediumtype": "HDD", "quota": "10Gi"}]
    capacity = nodelabels.capacity_of_levels(levels)
    assert capacity == Capacity(memory=2 * GiB, disk=11 * GiB + 512 * 2**20)
    assert nodelabels.human_size(capacity.total) == "13.5GiB"
    assert nodelabels.human_size(20 * GiB) == "20GiB"
    assert nodelabels.human_size(int(3.5 * 2**20)) == "3.5MiB"
    assert nodelabels.human_size(0) == "0B"
    assert nodelabels.capacity_of_levels(None) == Capacity()
