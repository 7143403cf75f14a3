"""Upstream Fluid's metric series, set by the real Dataset and runtime controllers.

With the controllers running in-process against the API server (only the exec boundary
into Alluxio is the recorded fake master): a UFS that refuses ``alluxio fs mount`` counts
``runtime_setup_error_total``; once it mounts and the Dataset is Bound,
``dataset_ufs_total_size``/``dataset_ufs_file_num`` show its ``ufsTotal``/``fileNum``; a sync
that finds the workers NotReady counts ``runtime_sync_healthcheck_error_total``; deleting
the Dataset and runtime removes their series.
"""

from __future__ import annotations

import pytest
from lifecycle_support import FluidEnv, GiB
from prometheus_client import REGISTRY

from fluid.api import constants as c
from fluid.api import kinds
from fluid.engines.base import ExecCall, ExecResult
from fluid.kube import KubeClient
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]

NAME = "metrics"
MOUNT = ("alluxio", "fs", "mount")


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_upstream_series_follow_setup_sync_and_deletion(
    fluid: FluidEnv, kube: KubeClient, namespace: str, workloads: list[str]
) -> None:
    key = f"{namespace}/{NAME}"
    runtime_labels = {"runtime_type": "alluxioruntime", "runtime": key}
    mount_ok = fluid.executor.responders[MOUNT]

    def unreachable(call: ExecCall) -> ExecResult | str | None:
        if len(call.command) > len(MOUNT):  # mounting, not listing the mount table
            return ExecResult("", "Failed to mount: the UFS is unreachable", 1)
        return mount_ok(call) if callable(mount_ok) else mount_ok

    fluid.executor.responders[MOUNT] = unreachable
    await kube.create({"apiVersion": c.API_VERSION, "kind": "Dataset",
                       "metadata": {"name": NAME, "namespace": namespace},
                       "spec": {"mounts": [{"name": "h", "mountPoint": "https://example.org/data/"}]}})
    await kube.create({"apiVersion": c.API_VERSION, "kind": "AlluxioRuntime",
                       "metadata": {"name": NAME, "namespace": namespace},
                       "spec": {"replicas": 1, "tieredstore": {"levels": [
                           {"mediumtype": "MEM", "path": "/dev/shm", "quota": "2Gi"}]}}})

    await eventually(lambda: (sample("runtime_setup_error_total", **runtime_labels) or 0) >= 1,
                     timeout=90, what="a counted setup failure")
    assert await fluid.phase(namespace, NAME) != "Bound"
    fluid.executor.responders[MOUNT] = mount_ok

    async def ufs_known() -> bool:
        dataset = await fluid.dataset(namespace, NAME) or {}
        status = dataset.get("status") or {}
        return status.get("phase") == "Bound" and str(status.get("fileNum", "")).isdigit()
    await eventually(ufs_known, timeout=90, what="Bound with ufsTotal and fileNum")
    await eventually(lambda: sample("dataset_ufs_file_num", dataset=key) is not None,
                     timeout=10, what="the dataset series")
    assert sample("dataset_ufs_file_num", dataset=key) == fluid.master.files == 1
    total = sample("dataset_ufs_total_size", dataset=key)
    assert total is not None
    assert abs(total - 3.31 * GiB) < 0.01 * GiB

    before = sample("runtime_sync_healthcheck_error_total", **runtime_labels) or 0

    async def unhealthy_sync_counted() -> bool:
        await kube.patch_status(kinds.ALLUXIO_RUNTIME.resource, NAME, namespace,
                                {"workerPhase": c.RuntimePhase.NOT_READY.value})
        return (sample("runtime_sync_healthcheck_error_total", **runtime_labels) or 0) > before
    await eventually(unhealthy_sync_counted, timeout=30, interval=0.5,
                     what="a sync of NotReady workers counted")

    await fluid.teardown(namespace, NAME)
    await eventually(lambda: sample("dataset_ufs_total_size", dataset=key) is None
                     and sample("runtime_setup_error_total", **runtime_labels) is None,
                     timeout=30, what="the series of the deleted objects removed")
    assert sample("dataset_ufs_file_num", dataset=key) is None
    assert sample("runtime_sync_healthcheck_error_total", **runtime_labels) is None
