"""The EFCRuntime kind: Alibaba Cloud's Elastic File Client caching a NAS file system.

Owns the EFCRuntime spec models with upstream's field names (master, worker, FUSE, the
init-fuse image, OS advice); the status is the shared ``RuntimeStatus``. Never does I/O;
the EFC engine reads these models.
"""

from __future__ import annotations

import attrs

from fluid.api.base import FluidObject, PodMetadata
from fluid.api.constants import FuseCleanPolicy, NetworkMode
from fluid.api.fields import Embedded, field
from fluid.api.runtime_common import CleanCachePolicy, RuntimeStatus, TieredStore, VersionSpec

__all__ = [
    "EFCCompTemplateSpec",
    "EFCFuseSpec",
    "EFCRuntime",
    "EFCRuntimeSpec",
    "InitFuseSpec",
    "OSAdvise",
]


@attrs.frozen(kw_only=True)
class InitFuseSpec:
    version: VersionSpec | None = field()


@attrs.frozen(kw_only=True)
class OSAdvise:
    os_version: str | None = field(json="osVersion")
    enabled: bool | None = field()


@attrs.frozen(kw_only=True)
class EFCCompTemplateSpec:
    """The EFC master or worker."""

    replicas: int | None = field(schema={"minimum": 1})
    version: VersionSpec | None = field()
    properties: dict[str, str] | None = field()
    ports: dict[str, int] | None = field()
    resources: Embedded | None = field(doc="core/v1 ResourceRequirements.")
    disabled: bool | None = field(doc="Run without this component.")
    node_selector: dict[str, str] | None = field()
    network_mode: NetworkMode | None = field()
    pod_metadata: PodMetadata | None = field()


@attrs.frozen(kw_only=True)
class EFCFuseSpec:
    version: VersionSpec | None = field()
    properties: dict[str, str] | None = field()
    resources: Embedded | None = field(doc="core/v1 ResourceRequirements.")
    node_selector: dict[str, str] | None = field()
    clean_policy: FuseCleanPolicy | None = field(enum_in_schema=False)
    network_mode: NetworkMode | None = field()
    pod_metadata: PodMetadata | None = field()


@attrs.frozen(kw_only=True)
class EFCRuntimeSpec:
    master: EFCCompTemplateSpec | None = field()
    worker: EFCCompTemplateSpec | None = field()
    init_fuse: InitFuseSpec | None = field()
    fuse: EFCFuseSpec | None = field()
    tieredstore: TieredStore | None = field(json="tieredstore")
    replicas: int | None = field(doc="Number of cache workers (the scale subresource).")
    os_advise: OSAdvise | None = field(json="osAdvise")
    clean_cache_policy: CleanCachePolicy | None = field()
    pod_metadata: PodMetadata | None = field()


@attrs.frozen(kw_only=True)
class EFCRuntime(FluidObject):
    """An EFC cache for the NAS Dataset of the same name and namespace."""

    kind: str = field(default="EFCRuntime")
    spec: EFCRuntimeSpec | None = field()
    status: RuntimeStatus | None = field()
