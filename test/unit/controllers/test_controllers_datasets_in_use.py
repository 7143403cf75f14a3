"""Which datasets a pod's ``fluid.io/datasets-in-use`` names, as the dataset controller
indexes them (``<namespace>/<dataset>``)."""

from __future__ import annotations

from typing import Any

import pytest

from fluid.controllers import dataset


def _pod(annotations: dict[str, str] | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p", "namespace": "team"}
    if annotations is not None:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": {}}


@pytest.mark.parametrize(("value", "keys"), [
    ("demo", {"team/demo"}),
    ("demo,imagenet", {"team/demo", "team/imagenet"}),
    (" demo , ,demo,", {"team/demo"}),
    ("", set()),
])
def test_each_named_dataset_in_the_pods_namespace(value: str, keys: set[str]) -> None:
    pod = _pod({"fluid.io/datasets-in-use": value})
    assert sorted(dataset.pod_datasets_in_use(pod)) == sorted(keys)


def test_a_pod_without_the_annotation_names_nothing() -> None:
    assert list(dataset.pod_datasets_in_use(_pod(None))) == []
    assert list(dataset.pod_datasets_in_use(_pod({"other": "demo"}))) == []
