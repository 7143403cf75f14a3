"""The validating webhook's rules, on the malformed corpus, the seeds and edge cases."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fluid_testdata import invalid_cases, seed_documents, seed_expectations

from fluid.api import kinds
from fluid.api.quantity import parse_quantity
from fluid.webhook import validation

NAMESPACE = "t-unit"


class Store:
    """Objects that "exist", keyed like the webhook's informer cache; records lookups."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.asked: list[tuple[str, str, str]] = []

    def add(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        self.objects[(obj["kind"], meta.get("namespace", ""), meta["name"])] = obj

    async def lookup(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        self.asked.append((kind, namespace, name))
        return self.objects.get((kind, namespace, name))


def _placed(doc: dict[str, Any], namespace: str = NAMESPACE) -> dict[str, Any]:
    placed = copy.deepcopy(doc)
    info = kinds.kind_of(placed)
    if info is not None and info.namespaced:
        placed["metadata"].setdefault("namespace", namespace)
    return placed


async def _verdict(header: dict[str, str], docs: list[dict[str, Any]]) -> list[str]:
    store = Store()
    placed = [_placed(d) for d in docs]
    if header.get("operation") == "update":
        old, new = placed
        assert not await validation.validate_create(old, lookup=store.lookup)
        return [str(v) for v in await validation.validate_update(old, new, lookup=store.lookup)]
    for setup in placed[:-1]:
        assert not await validation.validate_create(setup, lookup=store.lookup), setup
        store.add(setup)
    return [str(v) for v in await validation.validate_create(placed[-1], lookup=store.lookup)]


CASES = invalid_cases()
WEBHOOK_CASES = [pytest.param(h, d, id=n) for n, h, d in CASES if h.get("layer") == "webhook"]


def test_the_corpus_is_large_and_well_formed() -> None:
    assert len(CASES) >= 40
    for name, header, docs in CASES:
        assert header.get("expect"), name
        assert header.get("layer") in ("schema", "webhook"), name
        assert docs, name
        assert all(kinds.kind_of(d) is not None for d in docs), name


@pytest.mark.parametrize(("header", "docs"), WEBHOOK_CASES)
async def test_webhook_rejects_naming_the_field(
    header: dict[str, str], docs: list[dict[str, Any]]
) -> None:
    messages = await _verdict(header, docs)
    assert any(header["expect"] in m for m in messages), messages


FLUID_SEEDS = [
    pytest.param(doc, id=f"{name}#{index}")
    for name, index, doc in seed_documents()
    if kinds.kind_of(doc) is not None
    and "model_rejects" not in seed_expectations().get(f"{name}#{index}", {})
]


@pytest.mark.parametrize("doc", FLUID_SEEDS)
async def test_webhook_accepts_every_seed(doc: dict[str, Any]) -> None:
    store = Store()
    assert await validation.validate_create(_placed(doc, "default"), lookup=store.lookup) == []


def _dataset(*mounts: dict[str, Any], name: str = "spark") -> dict[str, Any]:
    return {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
            "metadata": {"name": name, "namespace": "prod"}, "spec": {"mounts": list(mounts)}}


def test_reference_dataset_forms() -> None:
    assert validation.check(_dataset({"mountPoint": "dataset://dev/spark"})) == []
    assert validation.check(_dataset({"mountPoint": "dataset://dev/spark/sub/dir"})) == []
    self_ref = validation.check(_dataset({"mountPoint": "dataset://prod/spark"}))
    assert [v.field for v in self_ref] == ["spec.mounts[0].mountPoint"]
    assert "cannot refer to itself" in self_ref[0].message
    escaping = validation.check(_dataset({"mountPoint": "dataset://dev/spark/../other"}))
    assert "'..'" in escaping[0].message


def test_mount_names_default_paths_clash() -> None:
    found = validation.check(_dataset(
        {"mountPoint": "https://a.example/x/", "name": "data"},
        {"mountPoint": "https://b.example/y/", "name": "other", "path": "/data"},
    ))
    assert [str(v) for v in found] == [
        "spec.mounts[1].path: mount path '/data' is already used by spec.mounts[0]; "
        "set a different path"]


def test_structure_errors_become_violations_naming_fields() -> None:
    doc = _dataset({"mountPoint": 12345, "readOnly": "no"})
    fields = sorted(v.field for v in validation.check(doc))
    assert fields == ["spec.mounts[0].mountPoint", "spec.mounts[0].readOnly"]


def test_not_a_fluid_kind() -> None:
    found = validation.check({"apiVersion": "v1", "kind": "Pod"})
    assert [v.field for v in found] == ["kind"]


def _load(name: str, after: str | None = None, namespace: str = NAMESPACE) -> dict[str, Any]:
    spec: dict[str, Any] = {"dataset": {"name": "ds"}}
    if after:
        spec["runAfter"] = {"kind": "DataLoad", "name": after}
    return {"apiVersion": "data.fluid.io/v1alpha1", "kind": "DataLoad",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


async def test_run_after_missing_predecessor_is_allowed() -> None:
    store = Store()
    assert await validation.validate_create(_load("b", after="a"), lookup=store.lookup) == []
    assert store.asked == [("DataLoad", NAMESPACE, "a")]


async def test_run_after_loop_elsewhere_is_not_blamed_on_a_newcomer() -> None:
    store = Store()
    store.add(_load("x", after="y"))
    store.add(_load("y", after="x"))
    assert await validation.validate_create(_load("new", after="x"), lookup=store.lookup) == []


async def test_run_after_follows_namespaces_of_each_hop() -> None:
    store = Store()
    store.add(_load("a", after="b", namespace="other"))  # b resolves in "other", not here
    store.add(_load("b", after=None, namespace=NAMESPACE))
    first = _load("b", after=None)
    first["spec"]["runAfter"] = {"kind": "DataLoad", "name": "a", "namespace": "other"}
    assert await validation.validate_create(first, lookup=store.lookup) == []
    assert ("DataLoad", "other", "b") in store.asked


async def test_run_after_chain_depth_is_bounded() -> None:
    store = Store()
    for i in range(validation.MAX_RUN_AFTER_DEPTH + 5):
        store.add(_load(f"s{i}", after=f"s{i + 1}"))
    found = await validation.validate_create(_load("head", after="s0"), lookup=store.lookup)
    assert [v.field for v in found] == ["spec.runAfter"]
    assert "longer than" in found[0].message


async def test_updates_that_leave_spec_alone_are_always_allowed() -> None:
    store = Store()
    broken = _load("old")
    broken["spec"]["target"] = [{"path": "relative"}]  # stored before the rule existed
    finalized = copy.deepcopy(broken)
    finalized["metadata"]["finalizers"] = ["fluid-dataload-controller-finalizer"]
    assert await validation.validate_update(broken, finalized, lookup=store.lookup) == []
    deleting = copy.deepcopy(broken)
    deleting["spec"]["target"] = [{"path": "also-relative"}]
    deleting["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    assert await validation.validate_update(broken, deleting, lookup=store.lookup) == []


async def test_mutable_runtime_fields_may_change() -> None:
    store = Store()
    old = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "AlluxioRuntime",
           "metadata": {"name": "rt", "namespace": NAMESPACE}, "spec": {"replicas": 1}}
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    new["spec"]["fuse"] = {"args": ["-o", "allow_other"]}
    assert await validation.validate_update(old, new, lookup=store.lookup) == []


@pytest.mark.parametrize(("text", "value"), [
    ("2Gi", 2 * 2**30), ("500m", 0.5), ("1e3", 1000), ("1.5T", 1.5e12), (7, 7), (".5Ki", 512),
])
def test_quantities_parse(text: str | int, value: float) -> None:
    assert float(parse_quantity(text)) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "Gi", "2 Gi", "2GB", "--1", "1e"])
def test_bad_quantities_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="quantity"):
        parse_quantity(text)
