"""Running Fluid's controllers in-process for tests, as the controller-manager composes them.

Owns the start/ready/stop choreography of a Manager inside a test, so each test only says
which controllers and which engine settings it wants. Production managers are built by
``fluid.cli.controller_manager``; this uses the same slim caches and ``setup_all``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

from fluid import controllers
from fluid.engines.base import EngineSettings
from fluid.kube import KubeClient, slim
from fluid.reconcile import Manager, ManagerConfig
from fluid.testing.wait import eventually

__all__ = ["running", "running_controllers"]


@contextlib.asynccontextmanager
async def running(manager: Manager, *, timeout: float = 60.0) -> AsyncIterator[Manager]:
    """Run ``manager`` until the block ends; a manager that dies while starting raises."""
    task = asyncio.create_task(manager.run())
    try:
        await eventually(lambda: manager.ready or task.done(), timeout=timeout, what="manager ready")
        if task.done():
            task.result()
        yield manager
    finally:
        manager.stop()
        await asyncio.wait_for(task, 30)


@contextlib.asynccontextmanager
async def running_controllers(
    kube: KubeClient, names: Sequence[str], *, engines: EngineSettings | None = None
) -> AsyncIterator[Manager]:
    """The named controllers (``["*"]`` for all) in one manager with production caches."""
    manager = Manager(kube, ManagerConfig(health_port=None, transforms=slim.TRANSFORMS))
    context = controllers.ControllerContext(client=kube, engines=engines or EngineSettings())
    controllers.setup_all(manager, context, names)
    async with running(manager) as started:
        yield started
