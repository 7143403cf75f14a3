"""Types every cache runtime shares: tiered store, versions, users, management, status.

Owns the models reused by alluxio.py, jindo.py, juicefs.py, goosefs.py and thin.py, and
``RuntimeStatus``, the one status shape all of them report (phases and counts per
master/worker/fuse, conditions, cache states, the scale selector). Never does I/O.
"""



from __future__ import annotations

import attrs

from fluid.api.constants import (
    ConditionStatus,
    MediumType,
    RuntimeConditionType,
    RuntimePhase,
    VolumeType,
)
from fluid.api.dataset import Mount
from fluid.api.fields import Embedded, Quantity, Time, field

__all__ = [
    "APIGatewayStatus",
    "CleanCachePolicy",
    "ContainerPort",
    "EnvVar",
    "InitUsersSpec",
    "Level",
    "MetadataSyncPolicy",
    "RuntimeCondition",
    "RuntimeManagement",
    "RuntimeStatus",
    "TieredStore",
    "VersionSpec",
]

QUOTA_LIST_PATTERN = (
    r"^((\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
    r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+)))),)+((\+|-)?(([0-9]+(\.[0-9]*)?)|"
    r"(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?)$"
)
"""Two or more comma-separated quantities, e.g. ``100Gi,50Gi``."""


@attrs.frozen(kw_only=True)
class Level:
    """One cache tier: medium, paths and how much of them the cache may use."""

    mediumtype: MediumType = field(required=True, json="mediumtype", doc="MEM, SSD or HDD.")
    volume_type: VolumeType | None = field(
        schema={"default": "hostPath"}, doc="hostPath (default) or emptyDir."
    )
    volume_source: Embedded | None = field(doc="A core/v1 VolumeSource, used with emptyDir.")
    path: str | None = field(
        schema={"minLength": 1}, doc='Comma-separated cache paths, e.g. "/mnt/c1,/mnt/c2".'
    )
    quota: Quantity | None = field(doc="Quota of the whole tier, split over its paths.")
    quota_list: str | None = field(
        schema={"pattern": QUOTA_LIST_PATTERN}, doc="Comma-separated quota per path."
    )
    high: str | None = field(doc='High watermark ratio, e.g. "0.95".')
    low: str | None = field(doc='Low watermark ratio, e.g. "0.7".')


@attrs.frozen(kw_only=True)
class TieredStore:
    levels: list[Level] | None = field()


@attrs.frozen(kw_only=True)
class VersionSpec:
    """An image to run."""

    image: str | None = field()
    image_tag: str | None = field()
    image_pull_policy: str | None = field(doc="Always, IfNotPresent or Never.")


@attrs.frozen(kw_only=True)
class InitUsersSpec:
    """The init container writing passwd/group files for non-root runtimes."""

    image: str | None = field()
    image_tag: str | None = field()
    image_pull_policy: str | None = field()
    env: dict[str, str] | None = field()
    resources: Embedded | None = field(doc="core/v1 ResourceRequirements.")


@attrs.frozen(kw_only=True)
class CleanCachePolicy:
    grace_period_seconds: int | None = field(
        schema={"default": 60}, doc="Seconds the cache may take to clean up gracefully."
    )
    max_retry_attempts: int | None = field(
        schema={"default": 3}, doc="Retries of a failed cache clean-up."
    )


@attrs.frozen(kw_only=True)
class MetadataSyncPolicy:
    auto_sync: bool | None = field(doc="Sync metadata at setup; unset means true.")


@attrs.frozen(kw_only=True)
class RuntimeManagement:
    clean_cache_policy: CleanCachePolicy | None = field()
    metadata_sync_policy: MetadataSyncPolicy | None = field()


@attrs.frozen(kw_only=True)
class ContainerPort:
    """A core/v1 ContainerPort."""

    container_port: int = field(required=True)
    host_ip: str | None = field(json="hostIP")
    host_port: int | None = field()
    name: str | None = field()
    protocol: str | None = field(schema={"default": "TCP"})


@attrs.frozen(kw_only=True)
class EnvVar:
    """A core/v1 EnvVar; ``valueFrom`` is passed through."""

    name: str = field(required=True)
    value: str | None = field()
    value_from: Embedded | None = field()


@attrs.frozen(kw_only=True)
class RuntimeCondition:
    type: RuntimeConditionType = field(required=True, enum_in_schema=False)
    status: ConditionStatus = field(required=True, enum_in_schema=False)
    reason: str | None = field()
    message: str | None = field()
    last_probe_time: Time | None = field()
    last_transition_time: Time | None = field()


@attrs.frozen(kw_only=True)
class APIGatewayStatus:
    endpoint: str | None = field()


@attrs.frozen(kw_only=True)
class RuntimeStatus:
    """What every runtime reports; ``currentWorkerNumberScheduled`` and ``selector`` feed
    the scale subresource."""

    value_file: str | None = field(doc="ConfigMap holding the rendered runtime values.")
    master_phase: RuntimePhase | None = field(enum_in_schema=False)
    master_reason: str | None = field()
    worker_phase: RuntimePhase | None = field(enum_in_schema=False)
    worker_reason: str | None = field()
    fuse_phase: RuntimePhase | None = field(enum_in_schema=False)
    fuse_reason: str | None = field()
    desired_master_number_scheduled: int | None = field()
    current_master_number_scheduled: int | None = field()
    master_number_ready: int | None = field()
    desired_worker_number_scheduled: int | None = field()
    current_worker_number_scheduled: int | None = field()
    worker_number_ready: int | None = field()
    worker_number_available: int | None = field()
    worker_number_unavailable: int | None = field()
    desired_fuse_number_scheduled: int | None = field()
    current_fuse_number_scheduled: int | None = field()
    fuse_number_ready: int | None = field()
    fuse_number_unavailable: int | None = field()
    fuse_number_available: int | None = field()
    setup_duration: str | None = field()
    conditions: list[RuntimeCondition] | None = field()
    cache_states: dict[str, str] | None = field()
    selector: str | None = field(doc="Label selector of the workers, for the scale subresource.")
    api_gateway: APIGatewayStatus | None = field()
    mount_time: Time | None = field(doc="When the under storage was last mounted.")
    mounts: list[Mount] | None = field()
    cache_affinity: Embedded | None = field(doc="core/v1 NodeAffinity of the cache workers.")
