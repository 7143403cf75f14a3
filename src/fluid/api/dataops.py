"""Data operations: DataLoad, DataBackup, DataMigrate and DataProcess.

Owns the four operation kinds, the ``runAfter`` reference that chains them into a data
flow (with affinity inheritance), and the status they share. Field names and defaults
follow upstream Fluid. Never does I/O; the operation controllers read these models and
``fluid.webhook.validation`` checks what the schema cannot.
"""



from __future__ import annotations

import attrs

from fluid.api.base import FluidObject, PodMetadata
from fluid.api.constants import (
    AffinityPolicy,
    ConditionStatus,
    DataOperationKind,
    OperationPhase,
    Policy,
    RestartPolicy,
)
from fluid.api.dataset import EncryptOption, User
from fluid.api.fields import Embedded, Time, field
from fluid.api.runtime_common import EnvVar

__all__ = [
    "AffinityStrategy",
    "DataBackup",
    "DataBackupSpec",
    "DataLoad",
    "DataLoadSpec",
    "DataMigrate",
    "DataMigrateSpec",
    "DataProcess",
    "DataProcessSpec",
    "DataToMigrate",
    "DatasetToMigrate",
    "ExternalStorage",
    "JobProcessor",
    "ObjectRef",
    "OperationCondition",
    "OperationRef",
    "OperationStatus",
    "Prefer",
    "Processor",
    "Require",
    "ScriptProcessor",
    "TargetDataset",
    "TargetDatasetWithMountPath",
    "TargetPath",
    "WaitingStatus",
]

_POLICY_DOC = "Once (default), Cron (needs schedule) or OnEvent."


# -- data flow -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ObjectRef:
    """Another data operation, by kind and name (namespace defaults to the referrer's)."""

    api_version: str | None = field(json="apiVersion")
    kind: DataOperationKind = field(required=True)
    name: str = field(required=True)
    namespace: str | None = field()


@attrs.frozen(kw_only=True)
class Prefer:
    """A node-label key to prefer, with a scheduling weight."""

    name: str = field(required=True)
    weight: int = field(required=True)


@attrs.frozen(kw_only=True)
class Require:
    """A node-label key whose value must match the preceding operation's node."""

    name: str = field(required=True)


@attrs.frozen(kw_only=True)
class AffinityStrategy:
    """How an operation's pods follow the nodes where an earlier operation ran."""

    depend_on: ObjectRef | None = field(doc="The operation to follow; default the runAfter one.")
    policy: AffinityPolicy | None = field(enum_in_schema=False, doc='"", Require or Prefer.')
    prefers: list[Prefer] | None = field()
    requires: list[Require] | None = field()


@attrs.frozen(kw_only=True)
class OperationRef(ObjectRef):
    """``runAfter``: this operation starts when the referenced one is Complete."""

    affinity_strategy: AffinityStrategy | None = field()


# -- shared status ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class OperationCondition:
    type: str = field(required=True, doc="Complete or Failed.")
    status: ConditionStatus = field(required=True, enum_in_schema=False)
    reason: str | None = field()
    message: str | None = field()
    last_probe_time: Time | None = field()
    last_transition_time: Time | None = field()


@attrs.frozen(kw_only=True)
class WaitingStatus:
    operation_complete: bool | None = field(doc="True while waiting for the runAfter operation.")


@attrs.frozen(kw_only=True)
class OperationStatus:
    phase: OperationPhase | None = field(enum_in_schema=False)
    duration: str | None = field()
    conditions: list[OperationCondition] | None = field()
    infos: dict[str, str] | None = field()
    last_schedule_time: Time | None = field()
    last_successful_time: Time | None = field()
    waiting_for: WaitingStatus | None = field()
    node_affinity: Embedded | None = field(doc="core/v1 NodeAffinity of where the pod ran.")


# -- DataLoad --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TargetDataset:
    name: str = field(required=True)
    namespace: str | None = field(doc="Must be the operation's own namespace.")


@attrs.frozen(kw_only=True)
class TargetPath:
    path: str = field(required=True, doc="Absolute path inside the dataset.")
    replicas: int | None = field(doc="Cache replicas of the loaded data.")


@attrs.frozen(kw_only=True)
class DataLoadSpec:
    dataset: TargetDataset | None = field()
    load_metadata: bool | None = field(doc="Sync metadata before loading.")
    target: list[TargetPath] | None = field(doc="Paths to load; the whole dataset when empty.")
    options: dict[str, str] | None = field()
    pod_metadata: PodMetadata | None = field()
    affinity: Embedded | None = field(doc="core/v1 Affinity of the loader pod.")
    tolerations: list[Embedded] | None = field()
    node_selector: dict[str, str] | None = field()
    scheduler_name: str | None = field()
    policy: Policy | None = field(schema={"default": "Once"}, doc=_POLICY_DOC)
    schedule: str | None = field(doc="Cron schedule, for policy Cron.")
    run_after: OperationRef | None = field()
    ttl_seconds_after_finished: int | None = field()
    resources: Embedded | None = field()


@attrs.frozen(kw_only=True)
class DataLoad(FluidObject):
    """Warm the cache of a dataset with (part of) its data."""

    kind: str = field(default="DataLoad")
    spec: DataLoadSpec | None = field()
    status: OperationStatus | None = field()


# -- DataBackup ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class DataBackupSpec:
    dataset: str | None = field(doc="Name of the dataset, in the same namespace.")
    backup_path: str | None = field(doc="pvc://<pvc>/<subpath> or local://<path>.")
    run_as: User | None = field()
    run_after: OperationRef | None = field()
    ttl_seconds_after_finished: int | None = field()


@attrs.frozen(kw_only=True)
class DataBackup(FluidObject):
    """Back up a dataset's metadata and statistics."""

    kind: str = field(default="DataBackup")
    spec: DataBackupSpec | None = field()
    status: OperationStatus | None = field()


# -- DataMigrate -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class DatasetToMigrate:
    name: str = field(required=True)
    namespace: str = field(required=True)
    path: str | None = field(doc="Absolute path inside the dataset.")


@attrs.frozen(kw_only=True)
class ExternalStorage:
    uri: str = field(required=True, json="uri")
    encrypt_options: list[EncryptOption] | None = field()


@attrs.frozen(kw_only=True)
class DataToMigrate:
    """One side of a migration: a dataset or external storage (exactly one)."""

    dataset: DatasetToMigrate | None = field()
    external_storage: ExternalStorage | None = field()


@attrs.frozen(kw_only=True)
class DataMigrateSpec:
    image: str | None = field()
    image_tag: str | None = field()
    image_pull_policy: str | None = field()
    from_: DataToMigrate = field(required=True, json="from")
    to: DataToMigrate = field(required=True)
    block: bool | None = field()
    runtime_type: str | None = field()
    options: dict[str, str] | None = field()
    policy: Policy | None = field(schema={"default": "Once"}, doc=_POLICY_DOC)
    schedule: str | None = field()
    pod_metadata: PodMetadata | None = field()
    affinity: Embedded | None = field()
    tolerations: list[Embedded] | None = field()
    node_selector: dict[str, str] | None = field()
    scheduler_name: str | None = field()
    run_after: OperationRef | None = field()
    ttl_seconds_after_finished: int | None = field()
    resources: Embedded | None = field()
    parallelism: int | None = field(schema={"default": 1, "minimum": 1})
    parallel_options: dict[str, str] | None = field(
        doc="sshSecretName (needed when parallelism > 1), sshPort, sshReadyTimeoutSeconds."
    )


@attrs.frozen(kw_only=True)
class DataMigrate(FluidObject):
    """Copy data between a dataset and external storage (or another dataset)."""

    kind: str = field(default="DataMigrate")
    spec: DataMigrateSpec | None = field()
    status: OperationStatus | None = field()


# -- DataProcess -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TargetDatasetWithMountPath:
    name: str = field(required=True)
    namespace: str | None = field()
    mount_path: str = field(required=True, doc="Absolute path where the dataset is mounted.")
    sub_path: str | None = field(doc="Path inside the dataset to mount.")


@attrs.frozen(kw_only=True)
class JobProcessor:
    pod_spec: Embedded | None = field(doc="core/v1 PodSpec of the processing pod.")


@attrs.frozen(kw_only=True)
class ScriptProcessor:
    image: str | None = field()
    image_tag: str | None = field()
    image_pull_policy: str | None = field()
    restart_policy: RestartPolicy | None = field(schema={"default": "Never"})
    command: list[str] | None = field()
    source: str = field(required=True, doc="The script.")
    env: list[EnvVar] | None = field()
    volume_mounts: list[Embedded] | None = field()
    volumes: list[Embedded] | None = field()
    resources: Embedded | None = field()


@attrs.frozen(kw_only=True)
class Processor:
    """How to process: a pod spec (job) or a script (exactly one)."""

    service_account_name: str | None = field()
    pod_metadata: PodMetadata | None = field()
    job: JobProcessor | None = field()
    script: ScriptProcessor | None = field()


@attrs.frozen(kw_only=True)
class DataProcessSpec:
    dataset: TargetDatasetWithMountPath = field(required=True)
    processor: Processor = field(required=True)
    run_after: OperationRef | None = field()
    ttl_seconds_after_finished: int | None = field()
    policy: Policy | None = field(schema={"default": "Once"}, doc=_POLICY_DOC)
    schedule: str | None = field()


@attrs.frozen(kw_only=True)
class DataProcess(FluidObject):
    """Run a job or script against a mounted dataset."""

    kind: str = field(default="DataProcess")
    spec: DataProcessSpec | None = field()
    status: OperationStatus | None = field()
