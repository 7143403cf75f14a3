"""The production PodExecutor against the real API server.

kwok nodes run no kubelet, so an exec the API server accepts fails when it is proxied to
the node (HTTP 500), while a malformed one is refused up front (HTTP 400). Both must come
back as ``CommandFailed``, which the engines treat as a failed call into the runtime.
"""

from __future__ import annotations

import pytest

from fluid.engines.base import ApiPodExecutor, CommandFailed
from fluid.kube import KubeClient, resources
from fluid.testing.wait import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.workloads]


async def test_exec_failures_become_command_failed(
    kube: KubeClient, namespace: str, workloads: list[str]
) -> None:
    await kube.create({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": "master-0", "namespace": namespace},
                       "spec": {"containers": [{"name": "alluxio-master", "image": "alluxio"}]}})

    async def running() -> bool:
        pod = await kube.get(resources.PODS, "master-0", namespace)
        return (pod.get("status") or {}).get("phase") == "Running"

    await eventually(running, timeout=30, what="pod Running on a kwok node")
    executor = ApiPodExecutor(kube)
    with pytest.raises(CommandFailed, match="HTTP 500"):
        await executor.exec(namespace=namespace, pod="master-0", container="alluxio-master",
                            command=["alluxio", "fs", "count", "/"], timeout=10)
    with pytest.raises(CommandFailed, match="HTTP 400"):
        await executor.exec(namespace=namespace, pod="master-0", container="no-such-container",
                            command=["true"], timeout=10)
