"""The AlluxioRuntime kind: an Alluxio master/worker cache cluster plus its FUSE clients.

Owns the AlluxioRuntime spec models (upstream field names and defaults); the status is the
shared ``RuntimeStatus``. Never does I/O; the Alluxio engine reads these models.
"""



from __future__ import annotations

import attrs

from fluid.api.base import FluidObject, LocalObjectReference, PodMetadata
from fluid.api.constants import FuseCleanPolicy, NetworkMode
from fluid.api.dataset import User
from fluid.api.fields import Embedded, field
from fluid.api.runtime_common import (
    InitUsersSpec,
    RuntimeManagement,
    RuntimeStatus,
    TieredStore,
    VersionSpec,
)

__all__ = ["AlluxioCompTemplateSpec", "AlluxioFuseSpec", "AlluxioRuntime", "AlluxioRuntimeSpec",
           "Data"]


@attrs.frozen(kw_only=True)
class AlluxioCompTemplateSpec:
    """One Alluxio component: master, jobMaster, worker, jobWorker or apiGateway."""

    replicas: int | None = field(schema={"minimum": 1}, doc="Replicas of the component.")
    jvm_options: list[str] | None = field()
    properties: dict[str, str] | None = field(doc="Alluxio properties for this component.")
    ports: dict[str, int] | None = field(doc="Port by name: rpc, web, data, embedded...")
    resources: Embedded | None = field(doc="core/v1 ResourceRequirements.")
    env: dict[str, str] | None = field()
    enabled: bool | None = field(doc="Whether the component runs (used by apiGateway).")
    node_selector: dict[str, str] | None = field()
    network_mode: NetworkMode | None = field(doc="HostNetwork (default) or ContainerNetwork.")
    volume_mounts: list[Embedded] | None = field(doc="core/v1 VolumeMounts.")
    pod_metadata: PodMetadata | None = field()
    image_pull_secrets: list[LocalObjectReference] | None = field()


@attrs.frozen(kw_only=True)
class AlluxioFuseSpec:
    image: str | None = field()
    image_tag: str | None = field()
    image_pull_policy: str | None = field()
    image_pull_secrets: list[LocalObjectReference] | None = field()
    jvm_options: list[str] | None = field()
    properties: dict[str, str] | None = field()
    env: dict[str, str] | None = field()
    resources: Embedded | None = field(doc="core/v1 ResourceRequirements.")
    args: list[str] | None = field(doc="Arguments of the FUSE process.")
    node_selector: dict[str, str] | None = field()
    clean_policy: FuseCleanPolicy | None = field(
        enum_in_schema=False, doc="OnRuntimeDeleted (default), OnDemand or OnFuseChanged."
    )
    network_mode: NetworkMode | None = field()
    volume_mounts: list[Embedded] | None = field()
    pod_metadata: PodMetadata | None = field()


@attrs.frozen(kw_only=True)
class Data:
    replicas: int | None = field(doc="Maximum replicas of a cached block.")
    pin: bool | None = field()


@attrs.frozen(kw_only=True)
class AlluxioRuntimeSpec:
    alluxio_version: VersionSpec | None = field()
    master: AlluxioCompTemplateSpec | None = field()
    job_master: AlluxioCompTemplateSpec | None = field()
    worker: AlluxioCompTemplateSpec | None = field()
    job_worker: AlluxioCompTemplateSpec | None = field()
    api_gateway: AlluxioCompTemplateSpec | None = field(json="apiGateway")
    init_users: InitUsersSpec | None = field()
    fuse: AlluxioFuseSpec | None = field()
    properties: dict[str, str] | None = field(doc="Alluxio properties for every component.")
    jvm_options: list[str] | None = field()
    tieredstore: TieredStore | None = field(json="tieredstore", doc="The cache tiers.")
    data: Data | None = field()
    replicas: int | None = field(doc="Number of cache workers (the scale subresource).")
    run_as: User | None = field()
    disable_prometheus: bool | None = field()
    hadoop_config: str | None = field(doc="ConfigMap with hdfs-site.xml / core-site.xml.")
    volumes: list[Embedded] | None = field(doc="core/v1 Volumes for the runtime pods.")
    pod_metadata: PodMetadata | None = field()
    management: RuntimeManagement | None = field()
    image_pull_secrets: list[LocalObjectReference] | None = field()


@attrs.frozen(kw_only=True)
class AlluxioRuntime(FluidObject):
    """An Alluxio cache for the Dataset of the same name and namespace."""

    kind: str = field(default="AlluxioRuntime")
    spec: AlluxioRuntimeSpec | None = field()
    status: RuntimeStatus | None = field()
