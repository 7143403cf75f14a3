"""The generated CRDs have exactly upstream Fluid's fields (test/data/upstream_fields.txt)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fluid.api import kinds, schema

INVENTORY = Path(__file__).resolve().parents[2] / "data" / "upstream_fields.txt"


def _upstream() -> set[tuple[str, str]]:
    found = set()
    for line in INVENTORY.read_text().splitlines():
        if line and not line.startswith("#"):
            kind, _, path = line.partition(" ")
            found.add((kind, path))
    return found


def _paths(kind: str, path: str, node: dict[str, Any]) -> set[tuple[str, str]]:
    found = {(kind, path)}
    if node.get("x-kubernetes-preserve-unknown-fields"):
        return found
    for name, child in (node.get("properties") or {}).items():
        found |= _paths(kind, f"{path}.{name}", child)
    if isinstance(node.get("items"), dict):
        found |= _paths(kind, f"{path}[]", node["items"])
    if isinstance(node.get("additionalProperties"), dict):
        found |= _paths(kind, f"{path}{{}}", node["additionalProperties"])
    return found


def _generated() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for info in kinds.ALL:
        root = schema.crd(info)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for top in ("spec", "status"):
            found |= _paths(info.kind, top, root["properties"][top])
    return found


def test_every_upstream_field_is_in_the_crds() -> None:
    missing = sorted(_upstream() - _generated())
    assert not missing, missing


def test_no_field_is_invented() -> None:
    invented = sorted(_generated() - _upstream())
    assert not invented, invented


def test_the_inventory_covers_every_kind() -> None:
    assert {kind for kind, _ in _upstream()} == {info.kind for info in kinds.ALL}
    assert len(_upstream()) > 1000
