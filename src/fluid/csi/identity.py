"""The CSI Identity service: the plugin's name and version, its capabilities, readiness.

Owns the answers to GetPluginInfo (``fuse.csi.fluid.io``), GetPluginCapabilities and
Probe. Probe reports ready once the plugin's state directory is usable; it never touches
mounts or the API server, so a slow FUSE client cannot make the registrar think the
plugin is dead. Built by ``fluid.csi.server``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fluid
from fluid.csi.proto import csi_pb2, csi_pb2_grpc

__all__ = ["DRIVER_NAME", "IdentityServicer"]

DRIVER_NAME = "fuse.csi.fluid.io"
"""The CSIDriver name PersistentVolumes refer to; Fluid's public contract."""


class IdentityServicer(csi_pb2_grpc.IdentityServicer):
    def __init__(
        self,
        *,
        name: str = DRIVER_NAME,
        version: str = fluid.__version__,
        ready: Callable[[], bool] = lambda: True,
        controller: bool = True,
    ) -> None:
        self._name = name
        self._version = version
        self._ready = ready
        self._controller = controller

    async def GetPluginInfo(
        self, request: csi_pb2.GetPluginInfoRequest, context: Any
    ) -> csi_pb2.GetPluginInfoResponse:
        return csi_pb2.GetPluginInfoResponse(
            name=self._name, vendor_version=self._version,
            manifest={"project": "fluid", "implementation": "python"},
        )

    async def GetPluginCapabilities(
        self, request: csi_pb2.GetPluginCapabilitiesRequest, context: Any
    ) -> csi_pb2.GetPluginCapabilitiesResponse:
        capabilities = []
        if self._controller:
            service = csi_pb2.PluginCapability.Service(
                type=csi_pb2.PluginCapability.Service.CONTROLLER_SERVICE
            )
            capabilities.append(csi_pb2.PluginCapability(service=service))
        return csi_pb2.GetPluginCapabilitiesResponse(capabilities=capabilities)

    async def Probe(self, request: csi_pb2.ProbeRequest, context: Any) -> csi_pb2.ProbeResponse:
        response = csi_pb2.ProbeResponse()
        response.ready.value = self._ready()
        return response
