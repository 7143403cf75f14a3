"""The registry of data.fluid.io kinds: model, REST resource, names, columns, subresources.

Owns the per-kind facts the CRD generator, the webhook and the clients need: which attrs
model describes a kind, its plural/short names/categories and scope, the columns
``kubectl get`` prints (as upstream Fluid defines them) and whether it has a scale
subresource. Importing this module registers every kind with ``fluid.kube.resources`` so
``KubeClient`` can address Fluid objects. Never does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from fluid.api import alluxio, dataops, dataset, efc, goosefs, jindo, juicefs, thin, vineyard
from fluid.api.base import FluidObject
from fluid.api.constants import GROUP, VERSION
from fluid.kube import resources
from fluid.kube.resources import Resource

__all__ = [
    "ALL",
    "BY_KIND",
    "DATA_OPERATIONS",
    "RUNTIMES",
    "KindInfo",
    "PrinterColumn",
    "ScaleSubresource",
    "kind_of",
    "validating_webhook_rules",
]


@attrs.frozen
class PrinterColumn:
    """An ``additionalPrinterColumns`` entry."""

    name: str
    json_path: str
    type: str = "string"
    priority: int = 0

    def to_crd(self) -> dict[str, Any]:
        column: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.priority:
            column["priority"] = self.priority
        return column


@attrs.frozen
class ScaleSubresource:
    spec_replicas_path: str = ".spec.replicas"
    status_replicas_path: str = ".status.currentWorkerNumberScheduled"
    label_selector_path: str | None = ".status.selector"

    def to_crd(self) -> dict[str, str]:
        scale = {
            "specReplicasPath": self.spec_replicas_path,
            "statusReplicasPath": self.status_replicas_path,
        }
        if self.label_selector_path:
            scale["labelSelectorPath"] = self.label_selector_path
        return scale


@attrs.frozen(kw_only=True)
class KindInfo:
    """Everything about one kind except its schema (which comes from ``model``)."""

    kind: str
    plural: str
    model: type[FluidObject]
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ("fluid",)
    namespaced: bool = True
    columns: tuple[PrinterColumn, ...] = ()
    scale: ScaleSubresource | None = None
    runtime_type: str | None = None
    """For runtimes: the lower-case type used in labels and ``status.runtimes[].type``."""

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def resource(self) -> Resource:
        return Resource(GROUP, VERSION, self.plural, self.kind, self.namespaced)

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"


_AGE = PrinterColumn("Age", ".metadata.creationTimestamp", "date")


def _runtime_columns(*, masters: bool = True, api_gateway: bool = False) -> tuple[PrinterColumn, ...]:
    columns: list[PrinterColumn] = []
    if masters:
        columns += [
            PrinterColumn("Ready Masters", ".status.masterNumberReady", "integer", 10),
            PrinterColumn("Desired Masters", ".status.desiredMasterNumberScheduled", "integer", 10),
            PrinterColumn("Master Phase", ".status.masterPhase"),
        ]
    columns += [
        PrinterColumn("Ready Workers", ".status.workerNumberReady", "integer", 10),
        PrinterColumn("Desired Workers", ".status.desiredWorkerNumberScheduled", "integer", 10),
        PrinterColumn("Worker Phase", ".status.workerPhase"),
        PrinterColumn("Ready Fuses", ".status.fuseNumberReady", "integer", 10),
        PrinterColumn("Desired Fuses", ".status.desiredFuseNumberScheduled", "integer", 10),
        PrinterColumn("Fuse Phase", ".status.fusePhase"),
    ]
    if api_gateway:
        columns.append(PrinterColumn("API Gateway", ".status.apiGateway.endpoint", priority=10))
    columns.append(_AGE)
    return tuple(columns)


_OPERATION_TAIL = (
    PrinterColumn("Phase", ".status.phase"),
    _AGE,
    PrinterColumn("Duration", ".status.duration"),
)

DATASET = KindInfo(
    kind="Dataset",
    plural="datasets",
    model=dataset.Dataset,
    short_names=("dataset",),
    columns=(
        PrinterColumn("Ufs Total Size", ".status.ufsTotal"),
        PrinterColumn("Cached", ".status.cacheStates.cached"),
        PrinterColumn("Cache Capacity", ".status.cacheStates.cacheCapacity"),
        PrinterColumn("Cached Percentage", ".status.cacheStates.cachedPercentage"),
        PrinterColumn("Phase", ".status.phase"),
        PrinterColumn("HCFS URL", ".status.hcfs.endpoint", priority=10),
        PrinterColumn("TOTAL FILES", ".status.fileNum", priority=11),
        PrinterColumn("CACHE HIT RATIO", ".status.cacheStates.cacheHitRatio", priority=10),
        _AGE,
    ),
)
ALLUXIO_RUNTIME = KindInfo(
    kind="AlluxioRuntime",
    plural="alluxioruntimes",
    model=alluxio.AlluxioRuntime,
    short_names=("alluxio",),
    columns=_runtime_columns(api_gateway=True),
    scale=ScaleSubresource(),
    runtime_type="alluxio",
)
JINDO_RUNTIME = KindInfo(
    kind="JindoRuntime",
    plural="jindoruntimes",
    model=jindo.JindoRuntime,
    short_names=("jindo",),
    columns=_runtime_columns(),
    scale=ScaleSubresource(label_selector_path=None),  # upstream sets no selector path
    runtime_type="jindo",
)
JUICEFS_RUNTIME = KindInfo(
    kind="JuiceFSRuntime",
    plural="juicefsruntimes",
    model=juicefs.JuiceFSRuntime,
    short_names=("juicefs",),
    columns=_runtime_columns(masters=False),
    scale=ScaleSubresource(),
    runtime_type="juicefs",
)
GOOSEFS_RUNTIME = KindInfo(
    kind="GooseFSRuntime",
    plural="goosefsruntimes",
    model=goosefs.GooseFSRuntime,
    short_names=("goose",),
    columns=_runtime_columns(api_gateway=True),
    scale=ScaleSubresource(),
    runtime_type="goosefs",
)
VINEYARD_RUNTIME = KindInfo(
    kind="VineyardRuntime",
    plural="vineyardruntimes",
    model=vineyard.VineyardRuntime,
    short_names=("v6d",),
    columns=_runtime_columns(api_gateway=True),
    scale=ScaleSubresource(),
    runtime_type="vineyard",
)
EFC_RUNTIME = KindInfo(
    kind="EFCRuntime",
    plural="efcruntimes",
    model=efc.EFCRuntime,
    short_names=("efc",),
    columns=_runtime_columns(),
    scale=ScaleSubresource(label_selector_path=None),  # upstream sets no selector path
    runtime_type="efc",
)
THIN_RUNTIME = KindInfo(
    kind="ThinRuntime",
    plural="thinruntimes",
    model=thin.ThinRuntime,
    categories=(),
    runtime_type="thin",
)
THIN_RUNTIME_PROFILE = KindInfo(
    kind="ThinRuntimeProfile",
    plural="thinruntimeprofiles",
    model=thin.ThinRuntimeProfile,
    categories=(),
    namespaced=False,
)
DATA_LOAD = KindInfo(
    kind="DataLoad",
    plural="dataloads",
    model=dataops.DataLoad,
    short_names=("load",),
    columns=(PrinterColumn("Dataset", ".spec.dataset.name"), *_OPERATION_TAIL),
)
DATA_BACKUP = KindInfo(
    kind="DataBackup",
    plural="databackups",
    model=dataops.DataBackup,
    short_names=("backup",),
    columns=(
        PrinterColumn("Dataset", ".spec.dataset"),
        PrinterColumn("Phase", ".status.phase"),
        PrinterColumn("Path", ".status.infos.BackupLocationPath"),
        PrinterColumn("NodeName", ".status.infos.BackupLocationNodeName"),
        PrinterColumn("Duration", ".status.duration"),
        _AGE,
    ),
)
DATA_MIGRATE = KindInfo(
    kind="DataMigrate",
    plural="datamigrates",
    model=dataops.DataMigrate,
    short_names=("migrate",),
    columns=_OPERATION_TAIL,
)
DATA_PROCESS = KindInfo(
    kind="DataProcess",
    plural="dataprocesses",
    model=dataops.DataProcess,
    categories=(),
    columns=(PrinterColumn("Dataset", ".spec.dataset.name"), *_OPERATION_TAIL),
)

RUNTIMES: tuple[KindInfo, ...] = (
    ALLUXIO_RUNTIME, JINDO_RUNTIME, JUICEFS_RUNTIME, GOOSEFS_RUNTIME, THIN_RUNTIME,
    VINEYARD_RUNTIME, EFC_RUNTIME,
)
DATA_OPERATIONS: tuple[KindInfo, ...] = (DATA_LOAD, DATA_BACKUP, DATA_MIGRATE, DATA_PROCESS)
ALL: tuple[KindInfo, ...] = (DATASET, *RUNTIMES, THIN_RUNTIME_PROFILE, *DATA_OPERATIONS)
BY_KIND: Mapping[str, KindInfo] = {info.kind: info for info in ALL}

for _info in ALL:
    resources.register(_info.resource)


def kind_of(obj: Mapping[str, Any]) -> KindInfo | None:
    """The KindInfo of a raw object of this API group, or None for anything else."""
    if obj.get("apiVersion") != f"{GROUP}/{VERSION}":
        return None
    return BY_KIND.get(str(obj.get("kind", "")))


def validating_webhook_rules() -> list[dict[str, Any]]:
    """Admission rules (CREATE and UPDATE of every Fluid kind) for the validating webhook."""
    return [
        {
            "apiGroups": [GROUP],
            "apiVersions": [VERSION],
            "operations": ["CREATE", "UPDATE"],
            "resources": [info.plural for info in ALL],
            "scope": "*",
        }
    ]
