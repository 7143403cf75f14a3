"""A minimal CSI Controller service: CreateVolume echoes, DeleteVolume forgets.

Fluid does not provision dynamically: the runtime controllers create one static PV per
dataset with the volume context the Node service needs. This service exists so that
tools speaking the full CSI flow (a StorageClass with this provisioner, csi-sanity's
node tests, which create volumes first) can: CreateVolume returns the name as volume id
and the StorageClass parameters as the volume context; DeleteVolume has nothing to
delete. Everything else answers UNIMPLEMENTED (the generated base class). Never touches
the node or the API server.
"""

from __future__ import annotations

from typing import Any

from fluid.csi import errors
from fluid.csi.proto import csi_pb2, csi_pb2_grpc

__all__ = ["ControllerServicer"]


def _check_capabilities(capabilities: Any) -> None:
    if not capabilities:
        raise errors.InvalidArgument("volume_capabilities is required")
    for capability in capabilities:
        if capability.WhichOneof("access_type") == "block":
            raise errors.InvalidArgument("block volumes are not supported")


class ControllerServicer(csi_pb2_grpc.ControllerServicer):
    async def ControllerGetCapabilities(
        self, request: csi_pb2.ControllerGetCapabilitiesRequest, context: Any
    ) -> csi_pb2.ControllerGetCapabilitiesResponse:
        rpc = csi_pb2.ControllerServiceCapability.RPC(
            type=csi_pb2.ControllerServiceCapability.RPC.CREATE_DELETE_VOLUME
        )
        return csi_pb2.ControllerGetCapabilitiesResponse(
            capabilities=[csi_pb2.ControllerServiceCapability(rpc=rpc)]
        )

    async def CreateVolume(
        self, request: csi_pb2.CreateVolumeRequest, context: Any
    ) -> csi_pb2.CreateVolumeResponse:
        if not request.name:
            raise errors.InvalidArgument("name is required")
        _check_capabilities(request.volume_capabilities)
        volume = csi_pb2.Volume(
            volume_id=request.name,
            capacity_bytes=request.capacity_range.required_bytes,
            volume_context=dict(request.parameters),
        )
        return csi_pb2.CreateVolumeResponse(volume=volume)

    async def DeleteVolume(
        self, request: csi_pb2.DeleteVolumeRequest, context: Any
    ) -> csi_pb2.DeleteVolumeResponse:
        if not request.volume_id:
            raise errors.InvalidArgument("volume_id is required")
        return csi_pb2.DeleteVolumeResponse()

    async def ValidateVolumeCapabilities(
        self, request: csi_pb2.ValidateVolumeCapabilitiesRequest, context: Any
    ) -> csi_pb2.ValidateVolumeCapabilitiesResponse:
        if not request.volume_id:
            raise errors.InvalidArgument("volume_id is required")
        _check_capabilities(request.volume_capabilities)
        confirmed = csi_pb2.ValidateVolumeCapabilitiesResponse.Confirmed(
            volume_context=dict(request.volume_context),
            volume_capabilities=list(request.volume_capabilities),
            parameters=dict(request.parameters),
        )
        return csi_pb2.ValidateVolumeCapabilitiesResponse(confirmed=confirmed)
