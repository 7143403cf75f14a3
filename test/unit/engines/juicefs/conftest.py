"""Fixtures for the JuiceFS rendering tests: the seed 002 Dataset and JuiceFSRuntime."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

_DATA = str(Path(__file__).resolve().parents[3] / "data")
if _DATA not in sys.path:
    sys.path.insert(0, _DATA)

import fluid_testdata  # noqa: E402


def _seed(kind: str) -> dict[str, Any]:
    for name, _, doc in fluid_testdata.seed_documents():
        if name.startswith("002-") and doc["kind"] == kind:
            doc = dict(doc)
            doc["metadata"] = {**doc["metadata"], "namespace": "demo", "uid": f"uid-{kind}"}
            return doc
    raise LookupError(kind)


@pytest.fixture
def seed_dataset() -> dict[str, Any]:
    return _seed("Dataset")


@pytest.fixture
def seed_runtime() -> dict[str, Any]:
    return _seed("JuiceFSRuntime")

