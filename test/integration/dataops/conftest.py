"""Fixtures for the data-operation cluster tests: CRDs, a running operation manager, datasets.

``dataops`` runs the four operation controllers (DataLoad, DataBackup, DataMigrate,
DataProcess) in-process against the real API server; Jobs are run by the real
kube-controller-manager and scheduler on kwok nodes (``workloads``), where Job pods
succeed after 0.5 s. Until the Dataset and runtime controllers are wired in, tests make a
dataset "bound" by writing its status themselves (``bound_dataset``), exactly the fields
the runtime controller writes when it binds one.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fluid.controllers import ControllerContext
from fluid.controllers.dataops import backup, load, migrate, process
from fluid.kube import KubeClient, slim
from fluid.reconcile import Manager, ManagerConfig

sys.path.insert(0, str(Path(__file__).parent))  # dataops_support
from fluid.testing.managers import running


@pytest.fixture
async def dataops(kube: KubeClient, fluid_crds: list[str], workloads: list[str]) -> AsyncIterator[Manager]:
    """A manager running the four operation controllers."""
    manager = Manager(kube, ManagerConfig(health_port=None, transforms=slim.TRANSFORMS))
    context = ControllerContext(client=kube)
    for module in (load, backup, migrate, process):
        module.setup(manager, context)
    async with running(manager):
        yield manager
