"""The Dataset kind: where data lives (mounts), who may cache it, and what is cached.

Owns the Dataset spec/status models and the mount types other kinds reuse (Mount,
EncryptOption). Field names, types and defaults follow upstream Fluid's
data.fluid.io/v1alpha1 so that existing manifests mean the same thing. Never does I/O;
validation beyond types lives in ``fluid.webhook.validation``.
"""



from __future__ import annotations

import attrs

from fluid.api.base import FluidObject
from fluid.api.constants import ConditionStatus, DatasetConditionType, DatasetPhase, PlacementMode
from fluid.api.fields import Embedded, Int64, Time, field

__all__ = [
    "CacheableNodeAffinity",
    "DataRestoreLocation",
    "Dataset",
    "DatasetCondition",
    "DatasetSpec",
    "DatasetStatus",
    "EncryptOption",
    "EncryptOptionSource",
    "HCFSStatus",
    "Mount",
    "Runtime",
    "SecretKeySelector",
    "User",
]


@attrs.frozen(kw_only=True)
class SecretKeySelector:
    """A key of a Secret in the object's namespace."""

    name: str = field(required=True, doc="Name of the Secret.")
    key: str | None = field(doc="Key inside the Secret.")


@attrs.frozen(kw_only=True)
class EncryptOptionSource:
    secret_key_ref: SecretKeySelector | None = field(doc="The Secret key holding the value.")


@attrs.frozen(kw_only=True)
class EncryptOption:
    """An option whose value comes from a Secret (credentials, meta URLs)."""

    name: str = field(required=True, doc="Option name, e.g. fs.oss.accessKeySecret.")
    value_from: EncryptOptionSource | None = field(doc="Where the value is read from.")


@attrs.frozen(kw_only=True)
class Mount:
    """One external storage source mounted into the dataset's namespace."""

    mount_point: str = field(
        required=True,
        schema={"minLength": 5},
        doc="Source URI: pvc://, local://, http(s)://, dataset://<ns>/<name>, s3://...",
    )
    options: dict[str, str] | None = field(doc="Mount options, passed to the runtime.")
    name: str | None = field(schema={"minLength": 0}, doc="Mount name; default path is /<name>.")
    path: str | None = field(doc="Path inside the dataset; defaults to /<name>.")
    read_only: bool | None = field(doc="Mount read-only (default false).")
    shared: bool | None = field(doc="Shared mount (default false).")
    encrypt_options: list[EncryptOption] | None = field(doc="Options read from Secrets.")


@attrs.frozen(kw_only=True)
class User:
    """A user and group identity; every field is required, as upstream declares it."""

    uid: Int64 = field(required=True, doc="User id.")
    gid: Int64 = field(required=True, doc="Group id.")
    user: str = field(required=True, doc="User name.")
    group: str = field(required=True, doc="Group name.")


@attrs.frozen(kw_only=True)
class CacheableNodeAffinity:
    """Nodes the dataset may be cached on."""

    required: Embedded | None = field(doc="A core/v1 NodeSelector: hard constraints.")


@attrs.frozen(kw_only=True)
class Runtime:
    """A runtime serving a dataset, as recorded in spec/status.runtimes."""

    name: str | None = field()
    namespace: str | None = field()
    category: str | None = field(doc="e.g. Accelerate.")
    type: str | None = field(doc="e.g. alluxio.")
    master_replicas: int | None = field()


@attrs.frozen(kw_only=True)
class DataRestoreLocation:
    """Where a DataBackup's metadata backup is restored from."""

    path: str | None = field(doc="local://<subpath> or pvc://<pvcName>/<subpath>.")
    node_name: str | None = field(doc="Node holding a local:// backup.")


@attrs.frozen(kw_only=True)
class DatasetSpec:
    mounts: list[Mount] | None = field(
        schema={"minItems": 1}, doc="External storage to mount; may be omitted (e.g. Vineyard)."
    )
    owner: User | None = field(doc="The user owning data access.")
    node_affinity: CacheableNodeAffinity | None = field(doc="Where the cache may run.")
    tolerations: list[Embedded] | None = field(doc="core/v1 Tolerations for runtime pods.")
    access_modes: list[str] | None = field(doc="PV access modes; default ReadOnlyMany.")
    runtimes: list[Runtime] | None = field()
    placement: PlacementMode | None = field(
        doc='Exclusive (or "") gives each dataset its own nodes; Shared lets them share.'
    )
    data_restore_location: DataRestoreLocation | None = field()
    shared_options: dict[str, str] | None = field(doc="Options added to every mount.")
    shared_encrypt_options: list[EncryptOption] | None = field(
        doc="Secret-backed options added to every mount."
    )


@attrs.frozen(kw_only=True)
class DatasetCondition:
    type: DatasetConditionType = field(required=True, enum_in_schema=False)
    status: ConditionStatus = field(required=True, enum_in_schema=False)
    reason: str | None = field()
    message: str | None = field()
    last_update_time: Time | None = field()
    last_transition_time: Time | None = field()


@attrs.frozen(kw_only=True)
class HCFSStatus:
    endpoint: str | None = field()
    underlayer_file_system_version: str | None = field()


@attrs.frozen(kw_only=True)
class DatasetStatus:
    mounts: list[Mount] | None = field(doc="Mounts applied by the runtime.")
    ufs_total: str | None = field(doc="Total size of the under storage, human readable.")
    phase: DatasetPhase | None = field(enum_in_schema=False)
    runtimes: list[Runtime] | None = field()
    conditions: list[DatasetCondition] | None = field()
    cache_states: dict[str, str] | None = field(
        doc="cached, cacheCapacity, cachedPercentage, cacheHitRatio..."
    )
    hcfs: HCFSStatus | None = field(json="hcfs")
    file_num: str | None = field()
    data_load_ref: str | None = field(doc="Deprecated: use operationRef.")
    data_backup_ref: str | None = field(doc="Deprecated: use operationRef.")
    operation_ref: dict[str, str] | None = field(
        doc="Operation kind -> comma-joined names of operations in progress."
    )
    dataset_ref: list[str] | None = field(doc="<ns>/<name> of datasets referring to this one.")


@attrs.frozen(kw_only=True)
class Dataset(FluidObject):
    """A set of data from external storage, cached and served by one runtime."""

    kind: str = field(default="Dataset")
    spec: DatasetSpec | None = field()
    status: DatasetStatus | None = field()
