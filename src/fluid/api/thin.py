"""ThinRuntime and ThinRuntimeProfile: plug any FUSE file system into Fluid.

A cluster-scoped ThinRuntimeProfile describes a file system (its FUSE image, worker and
volumes); a ThinRuntime names a profile and may override it. A ThinRuntime with no
``profileName`` serves a reference dataset (``dataset://``). Owns the models only; never
does I/O.
"""



from __future__ import annotations

import attrs

from fluid.api.base import FluidObject, LocalObjectReference, PodMetadata
from fluid.api.constants import FuseCleanPolicy, NetworkMode, NodePublishSecretPolicy
from fluid.api.dataset import User
from fluid.api.fields import Embedded, field
from fluid.api.runtime_common import (
    ContainerPort,
    EnvVar,
    RuntimeManagement,
    RuntimeStatus,
    TieredStore,
)

__all__ = ["ThinCompTemplateSpec", "ThinFuseSpec", "ThinRuntime", "ThinRuntimeProfile",
           "ThinRuntimeProfileSpec", "ThinRuntimeProfileStatus", "ThinRuntimeSpec"]


@attrs.frozen(kw_only=True)
class ThinCompTemplateSpec:
    """The optional worker of a thin runtime."""

    image: str | None = field()
    image_tag: str | None = field()
    image_pull_policy: str | None = field()
    image_pull_secrets: list[LocalObjectReference] | None = field()
    replicas: int | None = field(schema={"minimum": 1})
    ports: list[ContainerPort] | None = field()
    resources: Embedded | None = field(doc="core/v1 ResourceRequirements.")
    env: list[EnvVar] | None = field()
    enabled: bool | None = field()
    node_selector: dict[str, str] | None = field()
    volume_mounts: list[Embedded] | None = field()
    liveness_probe: Embedded | None = field(doc="core/v1 Probe.")
    readiness_probe: Embedded | None = field(doc="core/v1 Probe.")
    network_mode: NetworkMode | None = field()


@attrs.frozen(kw_only=True)
class ThinFuseSpec:
    """The FUSE client of a thin runtime: any image that mounts the file system."""

    image: str | None = field()
    image_tag: str | None = field()
    image_pull_policy: str | None = field()
    image_pull_secrets: list[LocalObjectReference] | None = field()
    ports: list[ContainerPort] | None = field()
    env: list[EnvVar] | None = field()
    command: list[str] | None = field()
    args: list[str] | None = field()
    options: dict[str, str] | None = field(doc="Merged with the mount options into the config.")
    resources: Embedded | None = field()
    node_selector: dict[str, str] | None = field()
    clean_policy: FuseCleanPolicy | None = field(enum_in_schema=False)
    network_mode: NetworkMode | None = field()
    liveness_probe: Embedded | None = field()
    readiness_probe: Embedded | None = field()
    volume_mounts: list[Embedded] | None = field()
    lifecycle: Embedded | None = field(doc="core/v1 Lifecycle.")
    pod_metadata: PodMetadata | None = field()


@attrs.frozen(kw_only=True)
class ThinRuntimeSpec:
    profile_name: str | None = field(doc="The ThinRuntimeProfile; empty for dataset:// refs.")
    worker: ThinCompTemplateSpec | None = field()
    fuse: ThinFuseSpec | None = field()
    tieredstore: TieredStore | None = field(json="tieredstore")
    replicas: int | None = field()
    run_as: User | None = field()
    disable_prometheus: bool | None = field()
    volumes: list[Embedded] | None = field()
    management: RuntimeManagement | None = field()
    image_pull_secrets: list[LocalObjectReference] | None = field()


@attrs.frozen(kw_only=True)
class ThinRuntime(FluidObject):
    """A thin runtime for the Dataset of the same name and namespace."""

    kind: str = field(default="ThinRuntime")
    spec: ThinRuntimeSpec | None = field()
    status: RuntimeStatus | None = field()


@attrs.frozen(kw_only=True)
class ThinRuntimeProfileSpec:
    file_system_type: str = field(required=True, doc="The file system this profile mounts.")
    image_pull_secrets: list[LocalObjectReference] | None = field()
    worker: ThinCompTemplateSpec | None = field()
    fuse: ThinFuseSpec | None = field()
    volumes: list[Embedded] | None = field()
    node_publish_secret_policy: NodePublishSecretPolicy | None = field(
        schema={"default": "MountNodePublishSecretIfExists"},
        doc="What to do with a pvc:// mount's CSI nodePublishSecretRef.",
    )


@attrs.frozen(kw_only=True)
class ThinRuntimeProfileStatus:
    """Empty: a profile reports nothing."""


@attrs.frozen(kw_only=True)
class ThinRuntimeProfile(FluidObject):
    """A cluster-wide description of a FUSE file system that ThinRuntimes use."""

    kind: str = field(default="ThinRuntimeProfile")
    spec: ThinRuntimeProfileSpec | None = field()
    status: ThinRuntimeProfileStatus | None = field()
