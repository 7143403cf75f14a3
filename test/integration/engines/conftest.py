"""Fixtures for engine lifecycle tests against the real API server, scheduler and kwok nodes.

``engine_env`` runs a Manager whose informers feed an ``InformerView`` (as the runtime
controller's engines see the cluster), with the real client, a port allocator and an
Event recorder. Only the boundary into runtime processes is a fake: a
``RecordingExecutor`` whose calls the tests assert exactly.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fluid.kube import KubeClient, slim
from fluid.reconcile import Manager, ManagerConfig
from fluid.testing.managers import running

sys.path.insert(0, str(Path(__file__).parent))  # engines_driver

from engines_driver import EngineEnv


@pytest.fixture
async def engine_env(kube: KubeClient, fluid_crds: list[str],
                     workloads: list[str]) -> AsyncIterator[EngineEnv]:
    manager = Manager(kube, ManagerConfig(health_port=None, transforms=slim.TRANSFORMS))
    env = EngineEnv(kube, manager)
    async with running(manager, timeout=30):
        yield env
