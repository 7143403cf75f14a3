"""Fixtures for Dataset/runtime lifecycle tests: the real controllers in a Manager.

``fluid`` runs the dataset and runtime controllers in-process against the real API server,
scheduler, controller-manager and kwok nodes. The only fake is the boundary into Alluxio
processes: a ``RecordingExecutor`` answered by ``FakeAlluxioMaster``, whose recorded
commands the tests assert exactly.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fluid.api import kinds
from fluid.engines.alluxio.engine import AlluxioEngine
from fluid.engines.alluxio.fake import FakeAlluxioMaster
from fluid.engines.base import EngineConfig, EngineSettings
from fluid.kube import KubeClient
from fluid.scheduling.ports import PortAllocator, PortRange, load_from_cluster
from fluid.testing.managers import running_controllers

sys.path.insert(0, str(Path(__file__).parent))  # lifecycle_support

from lifecycle_support import FluidEnv, GiB


@pytest.fixture
async def fluid(kube: KubeClient, fluid_crds: list[str], workloads: list[str]) -> AsyncIterator[FluidEnv]:
    master = FakeAlluxioMaster(ufs_bytes=int(3.31 * GiB), files=1, folders=1,
                               capacity_bytes=20 * GiB, used_bytes=0)
    executor = master.executor()
    ports = PortAllocator(PortRange(20000, 26000), loader=load_from_cluster(kube))
    settings = EngineSettings(
        factories={kinds.ALLUXIO_RUNTIME.kind: AlluxioEngine}, ports=ports, executor=executor,
        config=EngineConfig(sync_retry_seconds=0.0), resync_seconds=1.0, setup_retry_seconds=1.0,
    )
    async with running_controllers(kube, ["dataset", "runtime"], engines=settings) as manager:
        yield FluidEnv(kube, master, executor, ports, manager)
