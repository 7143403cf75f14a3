"""The sample manifests (manifests/samples) are valid and round-trip through the models."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from fluid_testdata import SAMPLES, SAMPLES_NAMESPACE, sample_documents

from fluid.api import converter, kinds
from fluid.webhook import validation

SAMPLE_DOCS = [pytest.param(doc, id=f"{name}#{i}") for name, i, doc in sample_documents()]


async def _nothing(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    return None


@pytest.mark.parametrize("doc", SAMPLE_DOCS)
async def test_sample_is_valid_and_round_trips(doc: dict[str, Any]) -> None:
    info = kinds.kind_of(doc)
    assert info is not None
    placed = copy.deepcopy(doc)
    if info.namespaced:
        placed["metadata"]["namespace"] = SAMPLES_NAMESPACE
    assert await validation.validate_create(placed, lookup=_nothing) == []
    assert converter.unstructure(converter.structure(doc, info.model)) == doc


def test_kustomization_lists_every_sample() -> None:
    listed = yaml.safe_load((SAMPLES / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in SAMPLES.glob("*.yaml")
                                    if p.name != "kustomization.yaml")


def test_samples_show_every_kind_but_the_deprecated_ones() -> None:
    shown = {kinds.kind_of(p.values[0]).kind for p in SAMPLE_DOCS}  # type: ignore[union-attr]
    assert shown == {info.kind for info in kinds.ALL} - {"GooseFSRuntime", "JindoRuntime",
                                                         "DataMigrate"}
