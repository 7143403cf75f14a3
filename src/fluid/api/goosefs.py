"""The GooseFSRuntime kind: a GooseFS cache cluster (Alluxio-like) plus its FUSE clients.

Upstream Fluid deprecated and then removed GooseFS; this module keeps the API as upstream
last defined it so that existing manifests still apply. Owns the spec models only (the
status is the shared ``RuntimeStatus``). Never does I/O.
"""



from __future__ import annotations

import attrs

from fluid.api.alluxio import Data
from fluid.api.base import FluidObject
from fluid.api.constants import FuseCleanPolicy
from fluid.api.dataset import User
from fluid.api.fields import Embedded, field
from fluid.api.runtime_common import (
    CleanCachePolicy,
    InitUsersSpec,
    RuntimeStatus,
    TieredStore,
    VersionSpec,
)

__all__ = ["GooseFSCompTemplateSpec", "GooseFSFuseSpec", "GooseFSRuntime", "GooseFSRuntimeSpec"]


@attrs.frozen(kw_only=True)
class GooseFSCompTemplateSpec:
    replicas: int | None = field(schema={"minimum": 1})
    jvm_options: list[str] | None = field()
    properties: dict[str, str] | None = field()
    ports: dict[str, int] | None = field()
    resources: Embedded | None = field(doc="core/v1 ResourceRequirements.")
    env: dict[str, str] | None = field()
    enabled: bool | None = field()
    node_selector: dict[str, str] | None = field()
    annotations: dict[str, str] | None = field(doc="Annotations of the component's pods.")


@attrs.frozen(kw_only=True)
class GooseFSFuseSpec:
    image: str | None = field()
    image_tag: str | None = field()
    image_pull_policy: str | None = field()
    jvm_options: list[str] | None = field()
    properties: dict[str, str] | None = field()
    env: dict[str, str] | None = field()
    resources: Embedded | None = field()
    args: list[str] | None = field()
    node_selector: dict[str, str] | None = field()
    clean_policy: FuseCleanPolicy | None = field(enum_in_schema=False)
    annotations: dict[str, str] | None = field()


@attrs.frozen(kw_only=True)
class GooseFSRuntimeSpec:
    goosefs_version: VersionSpec | None = field(json="goosefsVersion")
    master: GooseFSCompTemplateSpec | None = field()
    job_master: GooseFSCompTemplateSpec | None = field()
    worker: GooseFSCompTemplateSpec | None = field()
    job_worker: GooseFSCompTemplateSpec | None = field()
    api_gateway: GooseFSCompTemplateSpec | None = field(json="apiGateway")
    init_users: InitUsersSpec | None = field()
    fuse: GooseFSFuseSpec | None = field()
    properties: dict[str, str] | None = field()
    jvm_options: list[str] | None = field()
    tieredstore: TieredStore | None = field(json="tieredstore")
    data: Data | None = field()
    replicas: int | None = field(doc="Number of cache workers (the scale subresource).")
    run_as: User | None = field()
    disable_prometheus: bool | None = field()
    hadoop_config: str | None = field()
    clean_cache_policy: CleanCachePolicy | None = field()


@attrs.frozen(kw_only=True)
class GooseFSRuntime(FluidObject):
    """A GooseFS cache for the Dataset of the same name and namespace."""

    kind: str = field(default="GooseFSRuntime")
    spec: GooseFSRuntimeSpec | None = field()
    status: RuntimeStatus | None = field()
