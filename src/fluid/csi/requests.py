"""CSI requests parsed into frozen models: every check of what the CO sent, and nothing else.

Owns the volume-context vocabulary of Fluid's PersistentVolumes (``fluid_path``,
``fluid_sub_path``, ``mount_type``, ``runtime_namespace``, ``runtime_name``,
``mount_pod_node_selector_key``, ``fluid.io/skip-check-mount-ready-target``) and the
rules the CSI spec sets for required fields. Pure: no filesystem, no API server. Raises
``errors.InvalidArgument`` with the field's name. Called first thing by each RPC in
``fluid.csi.node``.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping

import attrs
import structlog

from fluid.api import constants
from fluid.api.mount_modes import mount_modes
from fluid.csi import errors
from fluid.csi.proto import csi_pb2

__all__ = [
    "CTX_FLUID_PATH",
    "CTX_MOUNT_TYPE",
    "CTX_NODE_SELECTOR_KEY",
    "CTX_PUBLISH_METHOD",
    "CTX_RUNTIME_NAME",
    "CTX_RUNTIME_NAMESPACE",
    "CTX_SKIP_CHECK",
    "CTX_SUB_PATH",
    "PublishRequest",
    "StageRequest",
    "UnpublishRequest",
    "UnstageRequest",
    "VolumeSpec",
    "parse_publish",
    "parse_stage",
    "parse_unpublish",
    "parse_unstage",
    "parse_volume_context",
]

log = structlog.get_logger(__name__)

CTX_FLUID_PATH = "fluid_path"
"""Host path where the runtime's FUSE client mounts the dataset (the bind source)."""
CTX_SUB_PATH = "fluid_sub_path"
"""Optional path inside the FUSE mount (reference datasets)."""
CTX_MOUNT_TYPE = "mount_type"
"""The runtime's FUSE type, e.g. ``fuse.alluxio-fuse``; informational here."""
CTX_RUNTIME_NAMESPACE = "runtime_namespace"
CTX_RUNTIME_NAME = "runtime_name"
CTX_NODE_SELECTOR_KEY = "mount_pod_node_selector_key"
"""The node label the FUSE DaemonSet selects on; ``fluid.io/f-<ns>-<name>`` when absent."""
CTX_SKIP_CHECK = "fluid.io/skip-check-mount-ready-target"
"""Comma list of mount modes (``MountPod``, ``Sidecar``, ``All``, ``None``) copied from the
runtime's annotation; when it selects ``MountPod`` (this plugin's mode), readiness only
needs the path to exist, not to be a mount."""
CTX_PUBLISH_METHOD = "node_publish_method"

DEFAULT_MOUNT_TYPE = "fuse.alluxio-fuse"
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_READ_ONLY_MODES = {
    csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_READER_ONLY,
    csi_pb2.VolumeCapability.AccessMode.MULTI_NODE_READER_ONLY,
}


@attrs.frozen
class VolumeSpec:
    """What the volume context says about the dataset behind a volume."""

    fluid_path: str
    sub_path: str
    mount_type: str
    dataset_namespace: str
    dataset_name: str
    label_key: str
    require_mount_point: bool

    @property
    def source(self) -> str:
        """The directory published to pods: the FUSE mount, or a path inside it."""
        return posixpath.join(self.fluid_path, self.sub_path) if self.sub_path else self.fluid_path


@attrs.frozen
class StageRequest:
    volume_id: str
    staging_target_path: str
    volume: VolumeSpec


@attrs.frozen
class PublishRequest:
    volume_id: str
    target_path: str
    readonly: bool
    volume: VolumeSpec


@attrs.frozen
class UnpublishRequest:
    volume_id: str
    target_path: str


@attrs.frozen
class UnstageRequest:
    volume_id: str
    staging_target_path: str


def _required(value: str, field: str) -> str:
    if not value:
        raise errors.InvalidArgument(f"{field} is required")
    return value


def _absolute(value: str, field: str) -> str:
    _required(value, field)
    if not value.startswith("/"):
        raise errors.InvalidArgument(f"{field} must be an absolute path, got {value!r}")
    normal = posixpath.normpath(value)
    return "/" + normal.lstrip("/")


def _check_capability(request_has: bool, capability: csi_pb2.VolumeCapability) -> None:
    if not request_has:
        raise errors.InvalidArgument("volume_capability is required")
    if capability.WhichOneof("access_type") == "block":
        raise errors.InvalidArgument("block volumes are not supported: Fluid volumes are mounts")


def _sub_path(value: str) -> str:
    if not value:
        return ""
    normal = posixpath.normpath(value.strip("/"))
    if normal in ("", ".") or normal == ".." or normal.startswith("../"):
        raise errors.InvalidArgument(f"{CTX_SUB_PATH} must stay inside the dataset: {value!r}")
    return normal


def _check_label_key(key: str) -> str:
    prefix, _, name = key.rpartition("/")
    if not _LABEL_NAME.match(name) or (prefix and not _LABEL_PREFIX.match(prefix)):
        raise errors.InvalidArgument(
            f"{key!r} is not a valid node label key; set {CTX_NODE_SELECTOR_KEY} on the PV"
        )
    return key


def _dataset_of(context: Mapping[str, str], fluid_path: str) -> tuple[str, str]:
    namespace = context.get(CTX_RUNTIME_NAMESPACE, "")
    name = context.get(CTX_RUNTIME_NAME, "")
    if namespace and name:
        return namespace, name
    # <mount root>/<runtime type>/<namespace>/<name>/<type>-fuse
    parts = [p for p in fluid_path.split("/") if p]
    if len(parts) >= 5:
        return parts[-3], parts[-2]
    raise errors.InvalidArgument(
        f"volume context needs {CTX_RUNTIME_NAMESPACE} and {CTX_RUNTIME_NAME} "
        f"(or a {CTX_FLUID_PATH} of the form <root>/<type>/<namespace>/<name>/<dir>)"
    )


def _skips_mount_pod_check(value: str) -> bool:
    """Whether the mount-mode list selects ``MountPod``; any unknown word is refused, as
    upstream refuses it."""
    try:
        return "MountPod" in mount_modes(value)
    except ValueError as exc:
        raise errors.InvalidArgument(f"volume_context[{CTX_SKIP_CHECK}]: {exc}") from None


def parse_volume_context(context: Mapping[str, str]) -> VolumeSpec:
    fluid_path = _absolute(context.get(CTX_FLUID_PATH, ""), f"volume_context[{CTX_FLUID_PATH}]")
    namespace, name = _dataset_of(context, fluid_path)
    label_key = context.get(CTX_NODE_SELECTOR_KEY) or constants.fuse_label(namespace, name)
    if context.get(CTX_PUBLISH_METHOD, "") not in ("", "bindMount"):
        log.warning("publish_method_ignored", method=context[CTX_PUBLISH_METHOD])
    skip = _skips_mount_pod_check(context.get(CTX_SKIP_CHECK, ""))
    return VolumeSpec(
        fluid_path=fluid_path,
        sub_path=_sub_path(context.get(CTX_SUB_PATH, "")),
        mount_type=context.get(CTX_MOUNT_TYPE) or DEFAULT_MOUNT_TYPE,
        dataset_namespace=namespace,
        dataset_name=name,
        label_key=_check_label_key(label_key),
        require_mount_point=not skip,
    )


def parse_stage(request: csi_pb2.NodeStageVolumeRequest) -> StageRequest:
    volume_id = _required(request.volume_id, "volume_id")
    staging = _absolute(request.staging_target_path, "staging_target_path")
    _check_capability(request.HasField("volume_capability"), request.volume_capability)
    return StageRequest(
        volume_id=volume_id, staging_target_path=staging,
        volume=parse_volume_context(request.volume_context),
    )


def parse_publish(request: csi_pb2.NodePublishVolumeRequest) -> PublishRequest:
    volume_id = _required(request.volume_id, "volume_id")
    target = _absolute(request.target_path, "target_path")
    _check_capability(request.HasField("volume_capability"), request.volume_capability)
    mode = request.volume_capability.access_mode.mode
    return PublishRequest(
        volume_id=volume_id, target_path=target,
        readonly=request.readonly or mode in _READ_ONLY_MODES,
        volume=parse_volume_context(request.volume_context),
    )


def parse_unpublish(request: csi_pb2.NodeUnpublishVolumeRequest) -> UnpublishRequest:
    return UnpublishRequest(
        volume_id=_required(request.volume_id, "volume_id"),
        target_path=_absolute(request.target_path, "target_path"),
    )


def parse_unstage(request: csi_pb2.NodeUnstageVolumeRequest) -> UnstageRequest:
    return UnstageRequest(
        volume_id=_required(request.volume_id, "volume_id"),
        staging_target_path=_absolute(request.staging_target_path, "staging_target_path"),
    )
