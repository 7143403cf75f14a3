"""The VineyardRuntime kind: an etcd metadata service, vineyardd workers and socket clients.

Owns the VineyardRuntime spec models with upstream's field names: ``master`` is the etcd
that vineyardd keeps its metadata in (or ``master.endpoint`` for an external etcd, when
none is deployed), ``worker`` runs vineyardd, and ``fuse`` exposes the worker's IPC socket
on each application node (a socket, not a FUSE filesystem). The status is the shared
``RuntimeStatus``. Never does I/O; the Vineyard engine reads these models.
"""

from __future__ import annotations

import attrs

from fluid.api.base import FluidObject, PodMetadata
from fluid.api.constants import FuseCleanPolicy, NetworkMode
from fluid.api.dataset import EncryptOption
from fluid.api.fields import Embedded, field
from fluid.api.runtime_common import RuntimeStatus, TieredStore

__all__ = [
    "ExternalEndpointSpec",
    "VineyardClientSocketSpec",
    "VineyardCompTemplateSpec",
    "VineyardMasterSpec",
    "VineyardRuntime",
    "VineyardRuntimeSpec",
]


@attrs.frozen(kw_only=True)
class VineyardCompTemplateSpec:
    """The etcd master or the vineyardd worker."""

    replicas: int | None = field(schema={"minimum": 1})
    image: str | None = field()
    image_tag: str | None = field()
    image_pull_policy: str | None = field()
    node_selector: dict[str, str] | None = field()
    ports: dict[str, int] | None = field(doc="Named ports: client/peer (master), rpc/exporter (worker).")
    env: dict[str, str] | None = field()
    options: dict[str, str] | None = field(doc="Component options, e.g. etcd.prefix.")
    resources: Embedded | None = field(doc="core/v1 ResourceRequirements.")
    volume_mounts: list[Embedded] | None = field(doc="core/v1 VolumeMounts of spec.volumes.")
    pod_metadata: PodMetadata | None = field()
    network_mode: NetworkMode | None = field()


@attrs.frozen(kw_only=True)
class ExternalEndpointSpec:
    """An etcd that already runs: no master is deployed when set."""

    uri: str = field(required=True, doc="host:port of the external etcd.")
    encrypt_options: list[EncryptOption] | None = field()
    options: dict[str, str] | None = field()


@attrs.frozen(kw_only=True)
class VineyardMasterSpec(VineyardCompTemplateSpec):
    endpoint: ExternalEndpointSpec | None = field()


@attrs.frozen(kw_only=True)
class VineyardClientSocketSpec:
    """The per-node client that exposes the worker's socket to applications."""

    image: str | None = field()
    image_tag: str | None = field()
    image_pull_policy: str | None = field()
    env: dict[str, str] | None = field()
    clean_policy: FuseCleanPolicy | None = field(enum_in_schema=False)
    resources: Embedded | None = field(doc="core/v1 ResourceRequirements.")
    network_mode: NetworkMode | None = field()
    pod_metadata: PodMetadata | None = field()
    options: dict[str, str] | None = field(doc="Client options (size, etcd_endpoint, ...).")


@attrs.frozen(kw_only=True)
class VineyardRuntimeSpec:
    master: VineyardMasterSpec | None = field()
    worker: VineyardCompTemplateSpec | None = field()
    replicas: int | None = field(doc="Number of vineyardd workers (the scale subresource).")
    fuse: VineyardClientSocketSpec | None = field()
    tieredstore: TieredStore | None = field(json="tieredstore", doc="MEM quota, optional spill tier.")
    disable_prometheus: bool | None = field()
    pod_metadata: PodMetadata | None = field()
    volumes: list[Embedded] | None = field(doc="core/v1 Volumes for master/worker volumeMounts.")


@attrs.frozen(kw_only=True)
class VineyardRuntime(FluidObject):
    """A Vineyard in-memory object store for the Dataset of the same name and namespace."""

    kind: str = field(default="VineyardRuntime")
    spec: VineyardRuntimeSpec | None = field()
    status: RuntimeStatus | None = field()
