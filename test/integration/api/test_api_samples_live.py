"""The sample manifests apply to the real API server through schema and webhook."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fluid_testdata import SAMPLES_NAMESPACE, sample_documents

from fluid.api import kinds
from fluid.kube import KubeClient

pytestmark = pytest.mark.cluster

SAMPLE_DOCS = [pytest.param(doc, id=f"{name}#{i}") for name, i, doc in sample_documents()]


@pytest.mark.usefixtures("validating_webhook")
@pytest.mark.parametrize("doc", SAMPLE_DOCS)
async def test_sample_applies(
    kube: KubeClient, ensure_namespace: Callable[[str], Awaitable[None]], doc: dict[str, Any]
) -> None:
    await ensure_namespace(SAMPLES_NAMESPACE)
    placed = copy.deepcopy(doc)
    info = kinds.kind_of(placed)
    assert info is not None
    if info.namespaced:
        placed["metadata"]["namespace"] = SAMPLES_NAMESPACE
    stored = await kube.create(placed, dry_run=True)
    assert stored["spec"].keys() >= doc["spec"].keys()
