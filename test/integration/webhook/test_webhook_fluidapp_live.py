"""The FluidApp controller against a real API server: pods whose status we drive by hand
(bound to a node no kubelet or kwok manages), the exec boundary recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import webhook_env as wenv

from fluid.engines import base
from fluid.kube import KubeClient, resources
from fluid.testing.managers import running_controllers
from fluid.testing.wait import eventually

pytestmark = pytest.mark.cluster

MOUNT = "/runtime-mnt/alluxio/ns/imagenet/alluxio-fuse"


def legacy_pod(namespace: str, name: str, *, restart: str = "Never") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"done.sidecar.fluid.io/inject": "true"},
        },
        "spec": {
            "nodeName": "fluidapp-unmanaged-node",
            "restartPolicy": restart,
            "containers": [
                {
                    "name": "fluid-fuse-0",
                    "image": "fuse",
                    "lifecycle": {"preStop": {"exec": {"command": ["fusermount", "-u", MOUNT]}}},
                },
                {"name": "app", "image": "busybox"},
            ],
        },
    }


def status(*, app: str, fuse: str) -> dict[str, Any]:
    def container(name: str, state: str) -> dict[str, Any]:
        detail = (
            {"terminated": {"exitCode": 0, "reason": "Completed"}}
            if state == "terminated"
            else {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
        )
        return {
            "name": name,
            "image": name,
            "imageID": "",
            "ready": state == "running",
            "restartCount": 0,
            "state": detail,
        }

    return {
        "phase": "Running",
        "containerStatuses": [container("fluid-fuse-0", fuse), container("app", app)],
    }


@pytest.fixture
async def fluidapp_env(kube: KubeClient, namespace: str) -> AsyncIterator[base.RecordingExecutor]:
    await wenv.ensure_service_account(kube, namespace)
    executor = base.RecordingExecutor(
        {("fusermount",): base.ExecResult("", "fusermount: not mounted", 1)}
    )
    async with running_controllers(kube, ["fluidapp"], engines=base.EngineSettings(executor=executor)):
        yield executor


async def test_unmounts_the_sidecar_once_the_app_exits(
    kube: KubeClient, namespace: str, fluidapp_env: base.RecordingExecutor
) -> None:
    executor = fluidapp_env
    await kube.create(legacy_pod(namespace, "job-pod"))
    await kube.create(legacy_pod(namespace, "server", restart="Always"))
    await kube.patch_status(resources.PODS, "job-pod", namespace, status(app="running", fuse="running"))
    await kube.patch_status(
        resources.PODS, "server", namespace, status(app="terminated", fuse="running")
    )
    await kube.patch_status(
        resources.PODS, "job-pod", namespace, status(app="terminated", fuse="running")
    )

    await eventually(lambda: bool(executor.calls), timeout=20, what="the unmount exec")
    call = executor.calls[0]
    assert (call.namespace, call.pod, call.container) == (namespace, "job-pod", "fluid-fuse-0")
    assert call.command == ("fusermount", "-u", MOUNT)
    # "server" finished its app before "job-pod" did (FIFO queue): it was looked at first
    assert all(c.pod == "job-pod" for c in executor.calls), "restartPolicy Always pods are left alone"
