"""Names shared by every part of Fluid: API group, phases, label keys, annotations, finalizers.

Owns spellings only: string constants, StrEnums and the small pure functions that build
per-dataset label keys. Never does I/O and never imports another Fluid package, so that
controllers, engines, the webhook and the CSI plugin can all depend on it.

The values are Fluid's public contract (node labels, annotations and finalizers that
existing clusters and tools already rely on); change none of them casually.
"""

from __future__ import annotations

import enum
import re

__all__ = [
    "ANNOTATION_CREATED_BY",
    "ANNOTATION_DATAFLOW_AFFINITY_INJECT",
    "ANNOTATION_DATAFLOW_AFFINITY_LABELS",
    "ANNOTATION_DATAFLOW_AFFINITY_PREFIX",
    "ANNOTATION_DATASETS_IN_USE",
    "ANNOTATION_METADATA_LIST",
    "ANNOTATION_PVC_STORAGE",
    "API_VERSION",
    "CATEGORY_ACCELERATE",
    "DATASET_FINALIZER",
    "DEFAULT_PVC_STORAGE",
    "GROUP",
    "LABEL_DATASET",
    "LABEL_DATASET_ID",
    "LABEL_DATASET_NUM",
    "LABEL_DATASET_PLACEMENT",
    "LABEL_ENABLE_INJECTION",
    "LABEL_EXCLUSIVE",
    "LABEL_MANAGED_BY",
    "LABEL_PREFIX",
    "OPERATION_FINALIZERS",
    "RUNTIME_FINALIZERS",
    "VERSION",
    "AffinityPolicy",
    "CapacityKind",
    "ConditionStatus",
    "DataOperationKind",
    "DatasetConditionType",
    "DatasetPhase",
    "FuseCleanPolicy",
    "MediumType",
    "NetworkMode",
    "NodePublishSecretPolicy",
    "OperationPhase",
    "PlacementMode",
    "Policy",
    "RestartPolicy",
    "RuntimeConditionType",
    "RuntimePhase",
    "RuntimeType",
    "VolumeType",
    "common_label",
    "dataset_id",
    "exclusive_value",
    "fuse_label",
    "is_dns1035_label",
    "runtime_capacity_label",
    "runtime_label",
]

GROUP = "data.fluid.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

CATEGORY_ACCELERATE = "Accelerate"
"""``status.runtimes[].category`` of every cache runtime bound to a Dataset."""


# -- phases and enumerations ---------------------------------------------------------------


class DatasetPhase(enum.StrEnum):
    """``Dataset.status.phase``; NONE is the empty initial phase."""

    NONE = ""
    PENDING = "Pending"
    NOT_BOUND = "NotBound"
    BOUND = "Bound"
    FAILED = "Failed"
    UPDATING = "Updating"
    DATA_MIGRATING = "DataMigrating"


class DatasetConditionType(enum.StrEnum):
    RUNTIME_SCHEDULED = "RuntimeScheduled"
    READY = "Ready"
    NOT_READY = "NotReady"
    UPDATE_READY = "UpdateReady"
    UPDATING = "Updating"
    INITIALIZED = "Initialized"


class RuntimePhase(enum.StrEnum):
    """``status.masterPhase`` / ``workerPhase`` / ``fusePhase`` of every runtime."""

    NONE = ""
    NOT_READY = "NotReady"
    PARTIAL_READY = "PartialReady"
    READY = "Ready"


class RuntimeConditionType(enum.StrEnum):
    MASTER_INITIALIZED = "MasterInitialized"
    MASTER_READY = "MasterReady"
    WORKERS_INITIALIZED = "WorkersInitialized"
    WORKERS_READY = "WorkersReady"
    WORKERS_SCALED_IN = "WorkersScaledIn"
    WORKERS_SCALED_OUT = "WorkersScaledOut"
    FUSES_INITIALIZED = "FusesInitialized"
    FUSES_READY = "FusesReady"
    FUSES_SCALED_IN = "FusesScaledIn"
    FUSES_SCALED_OUT = "FusesScaledOut"


class OperationPhase(enum.StrEnum):
    """``status.phase`` of DataLoad, DataBackup, DataMigrate and DataProcess."""

    NONE = ""
    PENDING = "Pending"
    EXECUTING = "Executing"
    COMPLETE = "Complete"
    FAILED = "Failed"


class ConditionStatus(enum.StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class DataOperationKind(enum.StrEnum):
    """The kinds a ``runAfter`` reference may name."""

    DATA_LOAD = "DataLoad"
    DATA_BACKUP = "DataBackup"
    DATA_MIGRATE = "DataMigrate"
    DATA_PROCESS = "DataProcess"


class RuntimeType(enum.StrEnum):
    """The lower-case runtime type used in labels, paths and ``status.runtimes[].type``."""

    ALLUXIO = "alluxio"
    JINDO = "jindo"
    JUICEFS = "juicefs"
    GOOSEFS = "goosefs"
    THIN = "thin"
    VINEYARD = "vineyard"
    EFC = "efc"


class MediumType(enum.StrEnum):
    """A tiered-store level's medium; the order MEM < SSD < HDD is the tier order."""

    MEM = "MEM"
    SSD = "SSD"
    HDD = "HDD"


class VolumeType(enum.StrEnum):
    HOST_PATH = "hostPath"
    EMPTY_DIR = "emptyDir"


class PlacementMode(enum.StrEnum):
    """``Dataset.spec.placement``; DEFAULT ("") means Exclusive."""

    EXCLUSIVE = "Exclusive"
    DEFAULT = ""
    SHARED = "Shared"


class NetworkMode(enum.StrEnum):
    """A component's network; DEFAULT ("") means host network."""

    HOST_NETWORK = "HostNetwork"
    DEFAULT = ""
    CONTAINER_NETWORK = "ContainerNetwork"


class FuseCleanPolicy(enum.StrEnum):
    """When a FUSE pod leaves a node; NONE ("") is treated as ON_RUNTIME_DELETED."""

    NONE = ""
    ON_DEMAND = "OnDemand"
    ON_RUNTIME_DELETED = "OnRuntimeDeleted"
    ON_FUSE_CHANGED = "OnFuseChanged"


class Policy(enum.StrEnum):
    """How often a data operation runs."""

    ONCE = "Once"
    CRON = "Cron"
    ON_EVENT = "OnEvent"


class AffinityPolicy(enum.StrEnum):
    """``runAfter.affinityStrategy.policy``."""

    NONE = ""
    REQUIRE = "Require"
    PREFER = "Prefer"


class RestartPolicy(enum.StrEnum):
    """A DataProcess script processor's restart policy."""

    NEVER = "Never"
    ON_FAILURE = "OnFailure"


class NodePublishSecretPolicy(enum.StrEnum):
    NOT_MOUNT = "NotMountNodePublishSecret"
    MOUNT_IF_EXISTS = "MountNodePublishSecretIfExists"
    COPY_AND_MOUNT_IF_NOT_EXISTS = "CopyNodePublishSecretAndMountIfNotExists"


class CapacityKind(enum.StrEnum):
    """The letter in ``fluid.io/s-h-<runtime>-<m|d|t>-<ns>-<name>`` capacity labels."""

    MEMORY = "m"
    DISK = "d"
    TOTAL = "t"


# -- labels and annotations ------------------------------------------------------------------

LABEL_PREFIX = "fluid.io/"
LABEL_DATASET_NUM = "fluid.io/dataset-num"
"""Node label: how many datasets cache on the node."""
LABEL_EXCLUSIVE = "fluid_exclusive"
"""Node label: ``<ns>_<name>`` of the dataset holding the node exclusively."""
LABEL_DATASET_ID = "fluid.io/dataset-id"
LABEL_DATASET = "fluid.io/dataset"
"""Worker pod label used for (anti-)affinity between datasets."""
LABEL_DATASET_PLACEMENT = "fluid.io/dataset-placement"
LABEL_MANAGED_BY = "fluid.io/managed-by"
LABEL_ENABLE_INJECTION = "fluid.io/enable-injection"

ANNOTATION_CREATED_BY = "CreatedBy"
"""PV/PVC annotation (value ``fluid``) marking volumes Fluid created."""
ANNOTATION_PVC_STORAGE = "pvc.fluid.io/resources.requests.storage"
DEFAULT_PVC_STORAGE = "100Pi"
ANNOTATION_METADATA_LIST = "data.fluid.io/metadataList"
ANNOTATION_DATASETS_IN_USE = "fluid.io/datasets-in-use"
ANNOTATION_DATAFLOW_AFFINITY_LABELS = "affinity.dataflow.fluid.io/labels"
"""On an operation: comma-separated node-label keys its successors may inherit."""
ANNOTATION_DATAFLOW_AFFINITY_INJECT = "affinity.dataflow.fluid.io/inject"
ANNOTATION_DATAFLOW_AFFINITY_PREFIX = "affinity.dataflow.fluid.io."

_MAX_LABEL_NAME = 63
"""The name part of a label key (after ``prefix/``) is at most 63 characters."""
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def is_dns1035_label(name: str) -> bool:
    """A DNS-1035 label: upstream refuses Dataset and runtime names like ``20-hbase``."""
    return len(name) <= _MAX_LABEL_NAME and bool(_DNS1035.match(name))


def dataset_id(namespace: str, name: str, *, uid: str | None = None) -> str:
    """``<ns>-<name>``: the identity used in PV names and ``fluid.io/dataset-id``.

    As upstream, 63 characters or more fall back to the dataset UID when it is known.
    """
    value = f"{namespace}-{name}"
    return uid if len(value) >= _MAX_LABEL_NAME and uid else value


def _label_key(stem: str, namespace: str, name: str, uid: str | None) -> str:
    # Upstream measures the whole key, ``fluid.io/`` included, against 63 characters (stricter
    # than Kubernetes needs); we match it so node labels are the same keys upstream writes.
    key = f"{LABEL_PREFIX}{stem}{namespace}-{name}"
    if len(key) >= _MAX_LABEL_NAME and uid:
        key = f"{LABEL_PREFIX}{stem}{uid}"
    return key


def common_label(namespace: str, name: str, *, uid: str | None = None) -> str:
    """``fluid.io/s-<ns>-<name>``: this node caches the dataset (any runtime).

    When the key would be too long for a label, the dataset UID replaces ``<ns>-<name>``.
    """
    return _label_key("s-", namespace, name, uid)


def runtime_label(
    runtime_type: str, namespace: str, name: str, *, uid: str | None = None
) -> str:
    """``fluid.io/s-<runtime>-<ns>-<name>``: this node runs the runtime's cache worker."""
    return _label_key(f"s-{runtime_type}-", namespace, name, uid)


def runtime_capacity_label(
    runtime_type: str, kind: CapacityKind, namespace: str, name: str, *, uid: str | None = None
) -> str:
    """``fluid.io/s-h-<runtime>-<m|d|t>-<ns>-<name>``: cache capacity on this node."""
    return _label_key(f"s-h-{runtime_type}-{kind.value}-", namespace, name, uid)


def fuse_label(namespace: str, name: str, *, uid: str | None = None) -> str:
    """``fluid.io/f-<ns>-<name>``: a FUSE client for the dataset should run on this node."""
    return _label_key("f-", namespace, name, uid)


def exclusive_value(namespace: str, name: str) -> str:
    """The ``fluid_exclusive`` node-label value: ``<ns>_<name>``."""
    return f"{namespace}_{name}"


# -- finalizers ------------------------------------------------------------------------------

BACKUP_METADATA_FILE = "metadata-backup-{name}-{namespace}.gz"
"""A DataBackup's metadata file (upstream's name), in the backup directory."""
BACKUP_INFO_FILE = "{name}-{namespace}.yaml"
"""Its statistics file (``dataset``, ``namespace``, ``ufstotal``, ``filenum``) next to it."""

DATASET_FINALIZER = "fluid-dataset-controller-finalizer"
RUNTIME_FINALIZERS: dict[RuntimeType, str] = {
    t: f"{t.value}-runtime-controller-finalizer" for t in RuntimeType
}
OPERATION_FINALIZERS: dict[DataOperationKind, str] = {
    DataOperationKind.DATA_LOAD: "fluid-dataload-controller-finalizer",
    DataOperationKind.DATA_BACKUP: "fluid-databackup-controller-finalizer",
    DataOperationKind.DATA_MIGRATE: "fluid-datamigrate-controller-finalizer",
    DataOperationKind.DATA_PROCESS: "fluid-dataprocess-controller-finalizer",
}
