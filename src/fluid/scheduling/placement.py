"""Where cache workers may run: Exclusive/Shared placement, dataset nodeAffinity, FUSE preference.

Owns the core/v1 Affinity put on every runtime's worker pods and the pod labels it keys on
(``fluid.io/dataset``, ``fluid.io/dataset-placement``):

- Exclusive (the default): required pod anti-affinity against every pod carrying
  ``fluid.io/dataset`` on the same host, so one dataset's workers hold a node alone; and a
  required node term that refuses nodes whose ``fluid_exclusive`` names another dataset.
- Shared: required anti-affinity against Exclusive workers and against this dataset's own
  workers (one worker per node), preferred anti-affinity (weight 50) against other workers.
- Both: ``dataset.spec.nodeAffinity.required`` becomes required node affinity; nodes where
  the dataset's FUSE runs (``fluid.io/f-<ns>-<name>=true``) are preferred (weight 100).

Pure functions, no I/O. Engines call them through ``fluid.engines.base``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from fluid.api import constants as c

__all__ = ["HOSTNAME", "worker_affinity", "worker_pod_labels"]

HOSTNAME = "kubernetes.io/hostname"


def worker_pod_labels(namespace: str, name: str, placement: str) -> dict[str, str]:
    """The labels placement keys on: the dataset id and its placement mode."""
    mode = c.PlacementMode.SHARED.value if placement == "Shared" else c.PlacementMode.EXCLUSIVE.value
    return {c.LABEL_DATASET: c.dataset_id(namespace, name), c.LABEL_DATASET_PLACEMENT: mode}


def _term(expressions: list[dict[str, Any]]) -> dict[str, Any]:
    return {"labelSelector": {"matchExpressions": expressions}, "topologyKey": HOSTNAME}


def _pod_anti_affinity(dataset_id: str, shared: bool) -> dict[str, Any]:
    own = {"key": c.LABEL_DATASET, "operator": "In", "values": [dataset_id]}
    if not shared:
        return {"requiredDuringSchedulingIgnoredDuringExecution": [
            _term([{"key": c.LABEL_DATASET, "operator": "Exists"}])]}
    return {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            _term([{"key": c.LABEL_DATASET_PLACEMENT, "operator": "In",
                    "values": [c.PlacementMode.EXCLUSIVE.value]}]),
            _term([own]),
        ],
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 50, "podAffinityTerm": _term([{"key": c.LABEL_DATASET, "operator": "Exists"}])},
        ],
    }


def _exclusive_terms(
    terms: list[dict[str, Any]], *, own_value: str, shared: bool
) -> list[dict[str, Any]]:
    """Each term ANDed with "fluid_exclusive is absent or is ours" (two terms per term).

    A Shared dataset may only use nodes without ``fluid_exclusive`` at all.
    """
    base = terms or [{}]
    options: list[list[dict[str, Any]]] = [[{"key": c.LABEL_EXCLUSIVE, "operator": "DoesNotExist"}]]
    if not shared:
        options.append([{"key": c.LABEL_EXCLUSIVE, "operator": "In", "values": [own_value]}])
    result = []
    for term in base:
        for extra in options:
            merged = copy.deepcopy(dict(term))
            merged["matchExpressions"] = [*(merged.get("matchExpressions") or []), *extra]
            result.append(merged)
    return result


def worker_affinity(
    *, namespace: str, name: str, placement: str,
    node_affinity: Mapping[str, Any] | None, fuse_label: str,
) -> dict[str, Any]:
    """The Affinity of the runtime's worker pods."""
    shared = placement == c.PlacementMode.SHARED
    terms = list((node_affinity or {}).get("nodeSelectorTerms") or [])
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": _exclusive_terms(
                    terms, own_value=c.exclusive_value(namespace, name), shared=shared),
            },
            "preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100,
                "preference": {"matchExpressions": [
                    {"key": fuse_label, "operator": "In", "values": ["true"]}]},
            }],
        },
        "podAntiAffinity": _pod_anti_affinity(c.dataset_id(namespace, name), shared),
    }
