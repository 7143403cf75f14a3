"""The JuiceFSRuntime kind: JuiceFS cache workers (and an optional master) plus FUSE clients.

Owns the JuiceFSRuntime spec models (upstream field names and defaults); the status is the
shared ``RuntimeStatus``. Never does I/O; the JuiceFS engine reads these models.
"""



from __future__ import annotations

import attrs

from fluid.api.base import FluidObject, PodMetadata
from fluid.api.constants import FuseCleanPolicy, NetworkMode
from fluid.api.dataset import User
from fluid.api.fields import Embedded, field
from fluid.api.runtime_common import (
    ContainerPort,
    EnvVar,
    InitUsersSpec,
    RuntimeManagement,
    RuntimeStatus,
    TieredStore,
    VersionSpec,
)

__all__ = ["JuiceFSCompTemplateSpec", "JuiceFSFuseSpec", "JuiceFSRuntime", "JuiceFSRuntimeSpec"]


@attrs.frozen(kw_only=True)
class JuiceFSCompTemplateSpec:
    """A JuiceFS component: master, worker or jobWorker."""

    replicas: int | None = field(schema={"minimum": 1})
    ports: list[ContainerPort] | None = field()
    resources: Embedded | None = field(doc="core/v1 ResourceRequirements.")
    options: dict[str, str] | None = field(doc="JuiceFS options for this component.")
    env: list[EnvVar] | None = field()
    enabled: bool | None = field()
    node_selector: dict[str, str] | None = field()
    volume_mounts: list[Embedded] | None = field(doc="core/v1 VolumeMounts.")
    pod_metadata: PodMetadata | None = field()
    network_mode: NetworkMode | None = field()


@attrs.frozen(kw_only=True)
class JuiceFSFuseSpec:
    image: str | None = field()
    image_tag: str | None = field()
    image_pull_policy: str | None = field()
    env: list[EnvVar] | None = field()
    resources: Embedded | None = field(doc="core/v1 ResourceRequirements.")
    options: dict[str, str] | None = field(doc="JuiceFS mount options.")
    node_selector: dict[str, str] | None = field()
    volume_mounts: list[Embedded] | None = field()
    clean_policy: FuseCleanPolicy | None = field(enum_in_schema=False)
    pod_metadata: PodMetadata | None = field()
    network_mode: NetworkMode | None = field()


@attrs.frozen(kw_only=True)
class JuiceFSRuntimeSpec:
    juicefs_version: VersionSpec | None = field(json="juicefsVersion")
    init_users: InitUsersSpec | None = field()
    master: JuiceFSCompTemplateSpec | None = field()
    worker: JuiceFSCompTemplateSpec | None = field()
    job_worker: JuiceFSCompTemplateSpec | None = field()
    fuse: JuiceFSFuseSpec | None = field()
    tieredstore: TieredStore | None = field(json="tieredstore", doc="Cache directories.")
    configs: list[str] | None = field(doc="Configuration files for JuiceFS.")
    replicas: int | None = field(doc="Number of cache workers (the scale subresource).")
    run_as: User | None = field()
    disable_prometheus: bool | None = field()
    volumes: list[Embedded] | None = field(doc="core/v1 Volumes.")
    volume_claim_templates: list[Embedded] | None = field(
        schema={"x-kubernetes-list-type": "atomic"},
        doc="PVC templates of the worker StatefulSet; cannot change after creation.",
    )
    pod_metadata: PodMetadata | None = field()
    management: RuntimeManagement | None = field()


@attrs.frozen(kw_only=True)
class JuiceFSRuntime(FluidObject):
    """A JuiceFS cache for the Dataset of the same name and namespace."""

    kind: str = field(default="JuiceFSRuntime")
    spec: JuiceFSRuntimeSpec | None = field()
    status: RuntimeStatus | None = field()
