"""Test data of the API unit tests: the seed manifests and the malformed corpus on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parents[2] / "data"
SEEDS = DATA / "seeds"
INVALID = DATA / "invalid"


def seed_expectations() -> dict[str, dict[str, Any]]:
    """The documented exceptions to "every seed applies", keyed ``<file>#<index>``."""
    loaded: dict[str, dict[str, Any]] = yaml.safe_load((SEEDS / "expectations.yaml").read_text())
    return loaded


def seed_documents() -> list[tuple[str, int, dict[str, Any]]]:
    """(file name, document index, document) for every document of every seed file."""
    found = []
    for path in sorted(SEEDS.glob("*.yaml")):
        if path.name == "expectations.yaml":
            continue
        for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if doc:
                found.append((path.name, index, doc))
    return found
