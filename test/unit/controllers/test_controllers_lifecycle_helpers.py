"""Pure decisions of the dataset and runtime controllers."""

from __future__ import annotations

import pytest

from fluid.api import constants
from fluid.controllers import dataset, runtime


@pytest.mark.parametrize(("name", "ok"), [("hbase", True), ("pv-demo-dataset", True),
                                          ("20-hbase", False), ("Demo", False), ("a" * 64, False),
                                          ("demo-", False)])
def test_names_must_be_dns1035_labels(name: str, ok: bool) -> None:
    assert constants.is_dns1035_label(name) is ok


def test_lifecycle_changes_are_noticed_but_status_is_not() -> None:
    old = {"metadata": {"generation": 1, "finalizers": ["f"]}, "status": {"phase": "A"}}
    assert not runtime.lifecycle_changed(old, {**old, "status": {"phase": "B"}})
    deleting = {"metadata": {**old["metadata"], "deletionTimestamp": "now"}}
    assert runtime.lifecycle_changed(old, deleting)
    assert runtime.lifecycle_changed(old, {"metadata": {"generation": 1, "finalizers": []}})


def test_dataset_ready_needs_bound_and_ready_condition() -> None:
    ready = {"status": {"phase": "Bound", "conditions": [{"type": "Ready", "status": "True"}]}}
    assert runtime._dataset_ready(ready)
    assert not runtime._dataset_ready({"status": {"phase": "NotBound", "conditions": [
        {"type": "Ready", "status": "True"}]}})
    assert not runtime._dataset_ready({"status": {"phase": "Bound"}})
    assert not runtime._dataset_ready(None)


def test_pod_claims_index() -> None:
    pod = {"metadata": {"namespace": "ns"}, "spec": {"volumes": [
        {"name": "a", "persistentVolumeClaim": {"claimName": "demo"}},
        {"name": "b", "emptyDir": {}}]}}
    assert list(dataset.pod_claims(pod)) == ["ns/demo"]
    assert list(dataset.pod_claims({"metadata": {"namespace": "ns"}, "spec": {}})) == []
