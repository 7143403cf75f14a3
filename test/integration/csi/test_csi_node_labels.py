"""NodeStage/NodeUnstage label the node on the real API server.

The plugin runs as its own process (no mounts are made: the volumes' ``fluid_path`` is a
plain directory, accepted with ``fluid.io/skip-check-mount-ready-target: All``), and the
test reads the Node back from the API server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import csiproc
import grpc
import pytest

from fluid.csi.proto import csi_pb2
from fluid.kube import KubeClient, resources

pytestmark = pytest.mark.cluster


@pytest.fixture
async def node_name(kube: KubeClient) -> AsyncIterator[str]:
    name = f"csi-labels-{uuid.uuid4().hex[:8]}"
    await kube.create({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
    })
    yield name
    await kube.delete(resources.NODES, name)


async def _labels(kube: KubeClient, node: str) -> dict[str, str]:
    labels: dict[str, str] = (await kube.get(resources.NODES, node))["metadata"].get("labels") or {}
    return labels


def _dataset_dir(workdir: Path, namespace: str, name: str) -> str:
    path = workdir / "runtime-mnt" / "alluxio" / namespace / name / "alluxio-fuse"
    os.makedirs(path, exist_ok=True)
    return str(path)


async def _stage(
    plugin: csiproc.PluginProcess, workdir: Path, volume_id: str, *, namespace: str, name: str,
) -> None:
    await plugin.node.NodeStageVolume(csi_pb2.NodeStageVolumeRequest(
        volume_id=volume_id, staging_target_path=str(workdir / "staging" / volume_id),
        volume_capability=csiproc.mount_capability(),
        volume_context={
            "fluid_path": _dataset_dir(workdir, namespace, name), "runtime_namespace": namespace,
            "runtime_name": name, "fluid.io/skip-check-mount-ready-target": "All",
        },
    ))


async def _unstage(plugin: csiproc.PluginProcess, workdir: Path, volume_id: str) -> None:
    await plugin.node.NodeUnstageVolume(csi_pb2.NodeUnstageVolumeRequest(
        volume_id=volume_id, staging_target_path=str(workdir / "staging" / volume_id),
    ))


async def _start(workdir: Path, node: str, control_plane: Any) -> csiproc.PluginProcess:
    plugin = csiproc.PluginProcess(
        workdir=workdir, node_id=node, kubeconfig=control_plane.kubeconfig,
        extra=("--no-recovery",),
    )
    await plugin.ready()
    return plugin


async def test_stage_and_unstage_label_the_node(
    kube: KubeClient, control_plane: Any, node_name: str, workdir: Path
) -> None:
    plugin = await _start(workdir, node_name, control_plane)
    try:
        await _stage(plugin, workdir, "pv-a1", namespace="team-a", name="imagenet")
        await _stage(plugin, workdir, "pv-a2", namespace="team-a", name="imagenet")
        await _stage(plugin, workdir, "pv-b", namespace="team-b", name="coco")
        labels = await _labels(kube, node_name)
        assert labels["fluid.io/f-team-a-imagenet"] == "true"
        assert labels["fluid.io/f-team-b-coco"] == "true"
        assert labels["kubernetes.io/hostname"] == node_name  # other labels untouched

        await _unstage(plugin, workdir, "pv-a1")  # pv-a2 still holds team-a/imagenet
        assert "fluid.io/f-team-a-imagenet" in await _labels(kube, node_name)
        await _unstage(plugin, workdir, "pv-b")
        assert "fluid.io/f-team-b-coco" not in await _labels(kube, node_name)
    finally:
        assert await plugin.stop() == 0

    # A new plugin process (an upgrade, a crash) still knows what is staged here.
    restarted = await _start(workdir, node_name, control_plane)
    try:
        await _unstage(restarted, workdir, "pv-a2")
        labels = await _labels(kube, node_name)
        assert "fluid.io/f-team-a-imagenet" not in labels
        assert labels == {"kubernetes.io/hostname": node_name}
    finally:
        assert await restarted.stop() == 0


async def test_stage_on_a_node_the_api_server_does_not_know(
    control_plane: Any, workdir: Path
) -> None:
    plugin = await _start(workdir, "no-such-node", control_plane)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _stage(plugin, workdir, "pv-x", namespace="default", name="demo")
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "no-such-node" in (info.value.details() or "")
    finally:
        assert await plugin.stop() == 0
