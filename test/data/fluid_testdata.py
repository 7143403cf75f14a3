"""The API test data on disk: the user's seed manifests and the malformed corpus.

Imported by the unit tests (test/unit/api) and the cluster tests (test/integration/api);
their conftest.py puts this directory on ``sys.path``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parent
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


def invalid_cases() -> list[tuple[str, dict[str, str], list[dict[str, Any]]]]:
    """(file name, header fields, documents) of every malformed manifest.

    Header fields come from ``# key: value`` comment lines: ``expect`` (a substring of the
    rejection naming the field), ``layer`` (schema or webhook) and ``operation``.
    """
    found = []
    for path in sorted(INVALID.glob("*.yaml")):
        text = path.read_text()
        header: dict[str, str] = {}
        for line in text.splitlines():
            if not line.startswith("#"):
                break
            key, sep, value = line[1:].strip().partition(":")
            if sep and key in ("expect", "layer", "operation"):
                header[key] = value.strip().split(" ", 1)[0] if key == "operation" else value.strip()
        docs = [d for d in yaml.safe_load_all(text) if d]
        found.append((path.name, header, docs))
    return found


SAMPLES = DATA.parents[1] / "manifests" / "samples"
SAMPLES_NAMESPACE = "fluid-samples"


def sample_documents() -> list[tuple[str, int, dict[str, Any]]]:
    """Every Fluid object in manifests/samples/, placed in the samples' namespace."""
    found = []
    for path in sorted(SAMPLES.glob("*.yaml")):
        if path.name in ("kustomization.yaml", "namespace.yaml"):
            continue
        for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if doc:
                found.append((path.name, index, doc))
    return found
