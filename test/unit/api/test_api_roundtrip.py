"""Seed manifests read into the models and written back are unchanged; values keep types."""

from __future__ import annotations

from typing import Any

import pytest
from fluid_testdata import seed_documents, seed_expectations

from fluid.api import converter, kinds
from fluid.api.alluxio import AlluxioRuntime
from fluid.api.constants import MediumType, PlacementMode
from fluid.api.dataops import DataLoad
from fluid.api.dataset import Dataset

EXPECTATIONS = seed_expectations()
FLUID_SEEDS = [
    pytest.param(doc, id=f"{name}#{index}")
    for name, index, doc in seed_documents()
    if kinds.kind_of(doc) is not None
    and "model_rejects" not in EXPECTATIONS.get(f"{name}#{index}", {})
]
FRAGMENTS = [
    pytest.param(doc, EXPECTATIONS[f"{name}#{index}"]["model_rejects"], id=f"{name}#{index}")
    for name, index, doc in seed_documents()
    if "model_rejects" in EXPECTATIONS.get(f"{name}#{index}", {})
]


def test_the_seeds_hold_every_fluid_kind_the_user_shows() -> None:
    docs = [p.values[0] for p in (*FLUID_SEEDS, *FRAGMENTS)]
    shown = {kinds.kind_of(doc).kind for doc in docs}  # type: ignore[union-attr]
    assert shown == {"Dataset", "AlluxioRuntime", "JuiceFSRuntime", "DataLoad", "DataBackup",
                     "DataProcess"}


@pytest.mark.parametrize("doc", FLUID_SEEDS)
def test_seed_round_trips_through_its_model(doc: dict[str, Any]) -> None:
    info = kinds.kind_of(doc)
    assert info is not None
    model = converter.structure(doc, info.model)
    assert isinstance(model, info.model)
    assert converter.unstructure(model) == doc


def test_every_documented_exception_names_a_real_document() -> None:
    keys = {f"{name}#{index}" for name, index, _ in seed_documents()}
    assert set(EXPECTATIONS) <= keys


@pytest.mark.parametrize(("doc", "messages"), FRAGMENTS)
def test_seed_fragments_are_refused_naming_the_elided_fields(
    doc: dict[str, Any], messages: list[str]
) -> None:
    info = kinds.kind_of(doc)
    assert info is not None
    with pytest.raises(converter.StructureError) as caught:
        converter.structure(doc, info.model)
    assert sorted(str(e) for e in caught.value.errors) == sorted(messages)


def test_quantities_and_ratios_stay_as_written() -> None:
    runtime = converter.structure(
        {
            "apiVersion": "data.fluid.io/v1alpha1",
            "kind": "AlluxioRuntime",
            "metadata": {"name": "x"},
            "spec": {"tieredstore": {"levels": [
                {"mediumtype": "MEM", "quota": "2Gi", "high": "0.95"},
                {"mediumtype": "SSD", "quota": 1024},
            ]}},
        },
        AlluxioRuntime,
    )
    assert runtime.spec is not None
    assert runtime.spec.tieredstore is not None
    levels = runtime.spec.tieredstore.levels or []
    assert [lv.mediumtype for lv in levels] == [MediumType.MEM, MediumType.SSD]
    assert [lv.quota for lv in levels] == ["2Gi", 1024]
    assert levels[0].high == "0.95"
    out = converter.unstructure(runtime)
    assert out["spec"]["tieredstore"]["levels"][1] == {"mediumtype": "SSD", "quota": 1024}


def test_explicit_empty_and_false_values_survive() -> None:
    doc = {
        "apiVersion": "data.fluid.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": "d"},
        "spec": {
            "mounts": [{"mountPoint": "local:///mnt", "readOnly": False, "options": {}}],
            "placement": "",
            "accessModes": [],
        },
    }
    model = converter.structure(doc, Dataset)
    assert model.spec is not None
    assert model.spec.placement is PlacementMode.DEFAULT
    assert converter.unstructure(model) == doc


def test_irregular_wire_names() -> None:
    doc = {
        "apiVersion": "data.fluid.io/v1alpha1",
        "kind": "DataMigrate",
        "metadata": {"name": "m"},
        "spec": {
            "from": {"externalStorage": {"uri": "s3://bucket/dir"}},
            "to": {"dataset": {"name": "d", "namespace": "ns", "path": "/in"}},
        },
    }
    model = converter.structure(doc, kinds.DATA_MIGRATE.model)
    assert converter.unstructure(model) == doc
    assert model.spec.from_.external_storage.uri == "s3://bucket/dir"  # type: ignore[attr-defined]


def test_models_build_manifests_with_apiversion_and_kind() -> None:
    from fluid.api.dataops import DataLoadSpec, TargetDataset

    load = DataLoad(metadata={"name": "warm"}, spec=DataLoadSpec(dataset=TargetDataset(name="d")))
    assert converter.unstructure(load) == {
        "apiVersion": "data.fluid.io/v1alpha1",
        "kind": "DataLoad",
        "metadata": {"name": "warm"},
        "spec": {"dataset": {"name": "d"}},
    }
    assert load.name == "warm"
