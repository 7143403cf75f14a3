"""Every seed manifest applies unchanged to the real API server (schema + webhook), and what
the server returns round-trips through the models without losing a field."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fluid_testdata import seed_documents, seed_expectations

from fluid.api import converter, kinds
from fluid.kube import KubeClient, errors

pytestmark = pytest.mark.cluster

EXPECTATIONS = seed_expectations()
SEEDS = [
    pytest.param(doc, EXPECTATIONS.get(f"{name}#{index}"), id=f"{name}#{index}")
    for name, index, doc in seed_documents()
]


@pytest.fixture(scope="module")
async def seed_namespaces(ensure_namespace: Callable[[str], Awaitable[None]]) -> None:
    """The namespaces the seeds name, as a user would have them (dry-runs create nothing)."""
    names = {"default"} | {
        doc["metadata"]["namespace"] for _, _, doc in seed_documents()
        if doc.get("metadata", {}).get("namespace")
    }
    for name in sorted(names):
        await ensure_namespace(name)


def _placed(doc: dict[str, Any]) -> dict[str, Any]:
    """As ``kubectl apply -f`` sends it: a namespaced object without one goes to default."""
    placed = copy.deepcopy(doc)
    info = kinds.kind_of(placed)
    if info is None or info.namespaced:
        placed["metadata"].setdefault("namespace", "default")
    return placed


@pytest.mark.usefixtures("seed_namespaces", "validating_webhook")
@pytest.mark.parametrize(("doc", "expected"), SEEDS)
async def test_seed_applies_unchanged(
    kube: KubeClient, doc: dict[str, Any], expected: dict[str, Any] | None
) -> None:
    if expected is not None:
        with pytest.raises(errors.Invalid) as caught:
            await kube.create(_placed(doc), dry_run=True)
        for fragment in expected["apiserver_rejects"]:
            assert fragment in caught.value.message
        assert "admission webhook" not in caught.value.message
        return
    stored = await kube.create(_placed(doc), dry_run=True)
    assert stored["metadata"]["name"] == doc["metadata"]["name"]
    info = kinds.kind_of(stored)
    if info is None:
        return  # a core object from the seeds: the API server accepted it, nothing more
    for key, value in doc["spec"].items():
        assert key in stored["spec"], f"the API server pruned spec.{key}"
        if not isinstance(value, dict):
            assert stored["spec"][key] == value
    assert converter.unstructure(converter.structure(stored, info.model)) == stored
