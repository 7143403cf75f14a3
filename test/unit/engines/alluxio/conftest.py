"""Shared builders for the Alluxio engine unit tests: snapshots and engines without a cluster."""

from __future__ import annotations

from typing import Any

import pytest

from fluid.engines import base
from fluid.engines.alluxio.engine import AlluxioEngine
from fluid.engines.alluxio.fake import FakeAlluxioMaster
from fluid.kube.events import MemoryRecorder
from fluid.scheduling.ports import PortAllocator, PortRange

SEED000_RUNTIME = {"replicas": 2, "tieredstore": {"levels": [
    {"mediumtype": "MEM", "path": "/dev/shm", "quota": "2Gi", "high": "0.95", "low": "0.7"}]}}


def snapshot(*, spec: dict[str, Any] | None = None, mounts: list[dict[str, Any]] | None = None,
             dataset_spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None,
             name: str = "hbase", namespace: str = "default") -> base.Snapshot:
    runtime = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "AlluxioRuntime",
               "metadata": {"name": name, "namespace": namespace, "uid": "rt-uid"},
               "spec": spec if spec is not None else dict(SEED000_RUNTIME)}
    ds_spec = dict(dataset_spec or {})
    ds_spec["mounts"] = mounts if mounts is not None else [
        {"mountPoint": "https://mirrors.tuna.tsinghua.edu.cn/apache/hbase/stable/", "name": "hbase"}]
    dataset = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
               "metadata": {"name": name, "namespace": namespace, "uid": "ds-uid"},
               "spec": ds_spec, "status": status or {}}
    return base.Snapshot(runtime, dataset)


class Harness:
    def __init__(self) -> None:
        self.master = FakeAlluxioMaster(ufs_bytes=3 * 2**30, files=7, capacity_bytes=2**31,
                                        used_bytes=2**30)
        self.executor = self.master.executor()
        self.view = base.MemoryView()
        self.ports = PortAllocator(PortRange(20000, 20100))
        self.events = MemoryRecorder()

    def engine(self, name: str = "hbase", namespace: str = "default", **options: Any) -> AlluxioEngine:
        deps = base.EngineDeps(client=None, view=self.view, ports=self.ports,  # type: ignore[arg-type]
                               events=self.events, executor=self.executor)
        return AlluxioEngine(deps, base.RuntimeKey("AlluxioRuntime", namespace, name), **options)


@pytest.fixture
def harness() -> Harness:
    return Harness()


@pytest.fixture
def make_snapshot() -> Any:
    return snapshot
