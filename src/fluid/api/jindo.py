"""The JindoRuntime kind: a JindoFS/JindoCache cache cluster plus its FUSE clients.

Owns the JindoRuntime spec models (upstream field names, including the lower-case
``networkmode``); the status is the shared ``RuntimeStatus``. Never does I/O.
"""



from __future__ import annotations

import attrs

from fluid.api.base import FluidObject, LocalObjectReference, PodMetadata
from fluid.api.constants import FuseCleanPolicy, NetworkMode
from fluid.api.dataset import User
from fluid.api.fields import Embedded, field
from fluid.api.runtime_common import CleanCachePolicy, RuntimeStatus, TieredStore, VersionSpec

__all__ = ["ClientMetrics", "JindoCompTemplateSpec", "JindoFuseSpec", "JindoRuntime",
           "JindoRuntimeSpec"]


@attrs.frozen(kw_only=True)
class JindoCompTemplateSpec:
    """A Jindo component: master or worker."""

    replicas: int | None = field(schema={"minimum": 1})
    properties: dict[str, str] | None = field()
    ports: dict[str, int] | None = field()
    resources: Embedded | None = field(doc="core/v1 ResourceRequirements.")
    env: dict[str, str] | None = field()
    node_selector: dict[str, str] | None = field()
    tolerations: list[Embedded] | None = field(doc="core/v1 Tolerations.")
    labels: dict[str, str] | None = field(doc="Deprecated: use podMetadata.labels.")
    pod_metadata: PodMetadata | None = field()
    disabled: bool | None = field()
    volume_mounts: list[Embedded] | None = field()
    image_pull_secrets: list[LocalObjectReference] | None = field()


@attrs.frozen(kw_only=True)
class ClientMetrics:
    enabled: bool | None = field()
    scrape_target: str | None = field(doc="Comma list of MountPod, Sidecar, All, None.")


@attrs.frozen(kw_only=True)
class JindoFuseSpec:
    image: str | None = field()
    image_tag: str | None = field()
    image_pull_policy: str | None = field()
    image_pull_secrets: list[LocalObjectReference] | None = field()
    properties: dict[str, str] | None = field()
    env: dict[str, str] | None = field()
    resources: Embedded | None = field()
    args: list[str] | None = field()
    node_selector: dict[str, str] | None = field()
    tolerations: list[Embedded] | None = field()
    labels: dict[str, str] | None = field(doc="Deprecated: use podMetadata.labels.")
    pod_metadata: PodMetadata | None = field()
    clean_policy: FuseCleanPolicy | None = field(enum_in_schema=False)
    disabled: bool | None = field()
    log_config: dict[str, str] | None = field()
    metrics: ClientMetrics | None = field()


@attrs.frozen(kw_only=True)
class JindoRuntimeSpec:
    jindo_version: VersionSpec | None = field()
    master: JindoCompTemplateSpec | None = field()
    worker: JindoCompTemplateSpec | None = field()
    fuse: JindoFuseSpec | None = field()
    properties: dict[str, str] | None = field()
    tieredstore: TieredStore | None = field(json="tieredstore")
    replicas: int | None = field(doc="Number of cache workers (the scale subresource).")
    run_as: User | None = field()
    user: str | None = field()
    hadoop_config: str | None = field()
    secret: str | None = field()
    labels: dict[str, str] | None = field(doc="Deprecated: use podMetadata.labels.")
    pod_metadata: PodMetadata | None = field()
    log_config: dict[str, str] | None = field()
    networkmode: NetworkMode | None = field(json="networkmode")
    clean_cache_policy: CleanCachePolicy | None = field()
    volumes: list[Embedded] | None = field()
    image_pull_secrets: list[LocalObjectReference] | None = field()


@attrs.frozen(kw_only=True)
class JindoRuntime(FluidObject):
    """A Jindo cache for the Dataset of the same name and namespace."""

    kind: str = field(default="JindoRuntime")
    spec: JindoRuntimeSpec | None = field()
    status: RuntimeStatus | None = field()
