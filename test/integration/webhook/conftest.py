"""Webhook integration tests: a real API server calls our webhook on a loopback port."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fluid.api import install
from fluid.kube import KubeClient

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
async def webhook_crds(kube: KubeClient) -> list[str]:
    return await install.install_crds(kube)
