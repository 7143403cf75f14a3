"""Identity and Controller services, and the interceptor's status codes and access lines."""

from __future__ import annotations

import csiunit
import grpc
import pytest
import structlog

from fluid.csi.proto import csi_pb2


async def test_plugin_info(plugin: csiunit.Plugin) -> None:
    info = await plugin.identity.GetPluginInfo(csi_pb2.GetPluginInfoRequest())
    assert info.name == "fuse.csi.fluid.io"
    assert info.vendor_version == "0.1.0"


async def test_capabilities_and_probe(plugin: csiunit.Plugin) -> None:
    caps = await plugin.identity.GetPluginCapabilities(csi_pb2.GetPluginCapabilitiesRequest())
    assert [c.service.type for c in caps.capabilities] == [
        csi_pb2.PluginCapability.Service.CONTROLLER_SERVICE
    ]
    probe = await plugin.identity.Probe(csi_pb2.ProbeRequest())
    assert probe.HasField("ready")
    assert probe.ready.value is True


async def test_create_volume_echoes_name_and_parameters(plugin: csiunit.Plugin) -> None:
    response = await plugin.controller.CreateVolume(csi_pb2.CreateVolumeRequest(
        name="pv-1", capacity_range=csi_pb2.CapacityRange(required_bytes=1 << 30),
        volume_capabilities=[csiunit.mount_capability()],
        parameters={"fluid_path": "/runtime-mnt/x"},
    ))
    assert response.volume.volume_id == "pv-1"
    assert response.volume.capacity_bytes == 1 << 30
    assert dict(response.volume.volume_context) == {"fluid_path": "/runtime-mnt/x"}
    await plugin.controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id="pv-1"))


async def test_create_volume_needs_a_name_and_mount_capabilities(plugin: csiunit.Plugin) -> None:
    for request in (
        csi_pb2.CreateVolumeRequest(volume_capabilities=[csiunit.mount_capability()]),
        csi_pb2.CreateVolumeRequest(name="pv-1"),
        csi_pb2.CreateVolumeRequest(name="pv-1", volume_capabilities=[
            csi_pb2.VolumeCapability(block=csi_pb2.VolumeCapability.BlockVolume())]),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await plugin.controller.CreateVolume(request)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_unimplemented_rpcs_say_so(plugin: csiunit.Plugin) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await plugin.node.NodeExpandVolume(csi_pb2.NodeExpandVolumeRequest(volume_id="v"))
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "NodeExpandVolume" in (info.value.details() or "")


async def test_one_access_line_per_rpc(plugin: csiunit.Plugin) -> None:
    with structlog.testing.capture_logs() as logs:
        await plugin.unpublish(plugin.target())
        with pytest.raises(grpc.aio.AioRpcError):
            await plugin.node.NodeUnpublishVolume(csi_pb2.NodeUnpublishVolumeRequest())
    lines = [e for e in logs if e["event"] == "rpc"]
    assert [(e["method"], e["code"]) for e in lines] == [
        ("/csi.v1.Node/NodeUnpublishVolume", "OK"),
        ("/csi.v1.Node/NodeUnpublishVolume", "INVALID_ARGUMENT"),
    ]
    assert lines[0]["volume_id"] == "default-demo"
    assert "volume_id is required" in lines[1]["error"]
    assert all(isinstance(e["duration_ms"], float) for e in lines)


async def test_an_unexpected_exception_is_internal(plugin: csiunit.Plugin) -> None:
    async def explode() -> None:
        raise RuntimeError("disk on fire")

    plugin.mounter.table = explode  # type: ignore[method-assign]
    with structlog.testing.capture_logs() as logs, pytest.raises(grpc.aio.AioRpcError) as info:
        await plugin.unpublish(plugin.target())
    assert info.value.code() == grpc.StatusCode.INTERNAL
    assert "disk on fire" in (info.value.details() or "")
    assert any(e["event"] == "rpc_crashed" for e in logs)
