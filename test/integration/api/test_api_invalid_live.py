"""Every malformed manifest is refused by the API server, by the schema or the webhook as its
header says, with a message naming the offending field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fluid_testdata import invalid_cases

from fluid.api import kinds
from fluid.kube import KubeClient, errors

pytestmark = pytest.mark.cluster

CASES = [pytest.param(header, docs, id=name) for name, header, docs in invalid_cases()]


def _placed(doc: dict[str, Any], namespace: str) -> dict[str, Any]:
    placed = copy.deepcopy(doc)
    info = kinds.kind_of(placed)
    if info is not None and info.namespaced:
        placed["metadata"]["namespace"] = namespace
    return placed


async def _refusal(kube: KubeClient, header: dict[str, str], docs: list[dict[str, Any]],
                   namespace: str) -> errors.ApiError:
    placed = [_placed(d, namespace) for d in docs]
    if header.get("operation") == "update":
        original, changed = placed
        stored = await kube.create(original)
        replacement = {**stored, "spec": changed["spec"]}
        with pytest.raises(errors.ApiError) as caught:
            await kube.replace(replacement)
        return caught.value
    for setup in placed[:-1]:
        await kube.create(setup)
    with pytest.raises(errors.ApiError) as caught:
        await kube.create(placed[-1], dry_run=True)
    return caught.value


@pytest.mark.usefixtures("validating_webhook")
@pytest.mark.parametrize(("header", "docs"), CASES)
async def test_malformed_manifest_is_refused_naming_the_field(
    kube: KubeClient, namespace: str, header: dict[str, str], docs: list[dict[str, Any]]
) -> None:
    refusal = await _refusal(kube, header, docs, namespace)
    assert isinstance(refusal, errors.Invalid), refusal
    assert header["expect"] in refusal.message, refusal.message
    by_webhook = "admission webhook" in refusal.message
    assert by_webhook == (header["layer"] == "webhook"), refusal.message
