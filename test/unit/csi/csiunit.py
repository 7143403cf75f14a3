"""Helpers for the CSI unit tests: the plugin on a real unix socket, with fake mounts.

Every test talks gRPC to a real grpc.aio server over a unix socket; only the mount
namespace (``FakeMounter``) and the API server (``FakeLabeler``, ``RecordingEvents``) are
simulated. Directories are real, under a per-test temporary directory.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import grpc

from fluid.csi import controller, events, fake, identity, locks, node, server, state
from fluid.csi.proto import csi_pb2, csi_pb2_grpc


@attrs.define
class RecordingEvents:
    """PodEvents that remembers what it was asked to record (and about which Dataset)."""

    recorded: list[dict[str, Any]] = attrs.field(factory=list)

    async def record(self, *, target_path: str, reason: str, message: str, warning: bool,
                     dataset: events.DatasetRef | None = None) -> None:
        self.recorded.append({"target": target_path, "reason": reason, "message": message,
                              "warning": warning, "dataset": dataset})


@attrs.define
class Plugin:
    """A running plugin and everything a test needs to drive and observe it."""

    root: Path
    socket: str
    node: Any
    identity: Any
    controller: Any
    mounter: fake.FakeMounter
    labeler: fake.FakeLabeler
    store: state.StateStore
    locks: locks.KeyedLock
    servicer: node.NodeServicer
    channel: grpc.aio.Channel
    server: grpc.aio.Server
    socket_dir: str

    @property
    def fluid_path(self) -> str:
        return str(self.root / "runtime-mnt" / "alluxio" / "default" / "demo" / "alluxio-fuse")

    def target(self, pod: str = "11111111-2222-3333-4444-555555555555") -> str:
        return str(
            self.root / "kubelet" / "pods" / pod / "volumes" / "kubernetes.io~csi"
            / "default-demo" / "mount"
        )

    @property
    def staging(self) -> str:
        return str(self.root / "kubelet" / "plugins" / "staging" / "globalmount")

    def context(self, **extra: str) -> dict[str, str]:
        return {
            "fluid_path": self.fluid_path, "mount_type": "fuse.alluxio-fuse",
            "runtime_namespace": "default", "runtime_name": "demo", **extra,
        }

    async def stage(self, volume_id: str = "default-demo", **extra: str) -> Any:
        return await self.node.NodeStageVolume(
            csi_pb2.NodeStageVolumeRequest(
                volume_id=volume_id, staging_target_path=self.staging,
                volume_capability=mount_capability(), volume_context=self.context(**extra),
            )
        )

    async def unstage(self, volume_id: str = "default-demo") -> Any:
        return await self.node.NodeUnstageVolume(
            csi_pb2.NodeUnstageVolumeRequest(volume_id=volume_id, staging_target_path=self.staging)
        )

    async def publish(
        self, target: str, *, volume_id: str = "default-demo", readonly: bool = False,
        mode: int = csi_pb2.VolumeCapability.AccessMode.MULTI_NODE_MULTI_WRITER, **extra: str,
    ) -> Any:
        return await self.node.NodePublishVolume(
            csi_pb2.NodePublishVolumeRequest(
                volume_id=volume_id, staging_target_path=self.staging, target_path=target,
                volume_capability=mount_capability(mode), readonly=readonly,
                volume_context=self.context(**extra),
            )
        )

    async def unpublish(self, target: str, *, volume_id: str = "default-demo") -> Any:
        return await self.node.NodeUnpublishVolume(
            csi_pb2.NodeUnpublishVolumeRequest(volume_id=volume_id, target_path=target)
        )


def mount_capability(
    mode: int = csi_pb2.VolumeCapability.AccessMode.MULTI_NODE_MULTI_WRITER,
) -> csi_pb2.VolumeCapability:
    return csi_pb2.VolumeCapability(
        mount=csi_pb2.VolumeCapability.MountVolume(),
        access_mode=csi_pb2.VolumeCapability.AccessMode(mode=mode),
    )


async def start_plugin(root: Path, *, store: state.StateStore | None = None,
                       mounter: fake.FakeMounter | None = None,
                       labeler: fake.FakeLabeler | None = None) -> Plugin:
    """Start servicers on a fresh socket (short path: unix sockets allow ~107 bytes)."""
    mounter = mounter or fake.FakeMounter()
    labeler = labeler or fake.FakeLabeler()
    store = store or state.StateStore(root / "state")
    volume_locks = locks.KeyedLock()
    servicer = node.NodeServicer(
        node.NodeDeps(mounter=mounter, labeler=labeler, state=store, locks=volume_locks),
        node.NodeSettings(
            node_id="node-a", stage_timeout=1.0, publish_timeout=0.5, poll_interval=0.02
        ),
    )
    socket_dir = tempfile.mkdtemp(prefix="csi-", dir="/tmp")
    socket = f"{socket_dir}/csi.sock"
    grpc_server = server.build_server(
        node_servicer=servicer, identity_servicer=identity.IdentityServicer(),
        controller_servicer=controller.ControllerServicer(), path=socket,
    )
    await grpc_server.start()
    channel = grpc.aio.insecure_channel(f"unix://{socket}")
    plugin = Plugin(
        root=root, socket=socket, node=csi_pb2_grpc.NodeStub(channel),
        identity=csi_pb2_grpc.IdentityStub(channel),
        controller=csi_pb2_grpc.ControllerStub(channel), mounter=mounter, labeler=labeler,
        store=store, locks=volume_locks, servicer=servicer, channel=channel,
        server=grpc_server, socket_dir=socket_dir,
    )
    return plugin


async def stop_plugin(plugin: Plugin) -> None:
    await plugin.channel.close()
    await plugin.server.stop(None)
    shutil.rmtree(plugin.socket_dir, ignore_errors=True)


async def wait_until(predicate: Callable[[], bool], *, timeout: float = 5.0) -> None:
    """Poll a condition until it holds or the deadline passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met within deadline")
        await asyncio.sleep(0.01)
