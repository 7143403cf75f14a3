"""Fixtures for engine lifecycle tests against the real API server, scheduler and kwok nodes.

``engine_env`` runs a Manager whose informers feed an ``InformerView`` (as the runtime
controller's engines see the cluster), with the real client, a port allocator and an
Event recorder. Only the boundary into runtime processes is a fake: a
``RecordingExecutor`` whose calls the tests assert exactly.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fluid.api import install
from fluid.engines import base
from fluid.kube import KubeClient, events, resources
from fluid.reconcile import Manager, ManagerConfig
from fluid.scheduling.ports import PortAllocator, PortRange
from fluid.testing.wait import eventually

sys.path.insert(0, str(Path(__file__).parent))  # engines_driver

WATCHED = (resources.PODS, resources.STATEFULSETS, resources.DAEMONSETS, resources.NODES)


@pytest.fixture(scope="session")
async def fluid_crds(kube: KubeClient) -> list[str]:
    return await install.install_crds(kube)


class EngineEnv:
    """What a runtime controller gives its engines, built from a running Manager."""

    def __init__(self, kube: KubeClient, manager: Manager) -> None:
        self.kube = kube
        self.manager = manager
        self.view = base.InformerView({r: manager.informer(r) for r in WATCHED})
        self.ports = PortAllocator(PortRange(14000, 14999))
        self.executor = base.RecordingExecutor()
        self.recorder = events.EventRecorder(kube, "fluid-test")

    def deps(self) -> base.EngineDeps:
        return base.EngineDeps(client=self.kube, view=self.view, ports=self.ports,
                               events=self.recorder, executor=self.executor,
                               config=base.EngineConfig(sync_retry_seconds=0.0))


@pytest.fixture
async def engine_env(kube: KubeClient, fluid_crds: list[str],
                     workloads: list[str]) -> AsyncIterator[EngineEnv]:
    manager = Manager(kube, ManagerConfig(health_port=None))
    env = EngineEnv(kube, manager)
    task = asyncio.create_task(manager.run())
    try:
        await eventually(lambda: manager.ready or task.done(), timeout=30, what="informers synced")
        if task.done():
            task.result()
        yield env
    finally:
        manager.stop()
        await asyncio.wait_for(task, 30)
