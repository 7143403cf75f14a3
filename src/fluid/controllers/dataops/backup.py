"""DataBackup: save a dataset's metadata and key statistics to ``backupPath``.

Owns what is particular to DataBackup: ``backupPath`` as ``pvc://<claim>/<subpath>`` (the
claim mounted at ``/pvc``) or ``local://<dir>`` (a hostPath on the node the backup pod
ran on, recorded as ``status.infos.BackupLocationNodeName``), the runtime's backup
container (``loaders.backup_container``: ``fsadmin backup`` plus a statistics file with
the dataset's ``ufsTotal`` and ``fileNum``), ``runAs``, and the infos printed by
``kubectl get databackup`` (``BackupLocationPath``, ``BackupLocationNodeName``).

A Dataset whose ``spec.dataRestoreLocation`` points at such a backup is restored from it
by its runtime engine at setup; the file names are ``loaders.BACKUP_METADATA_FILE`` and
``loaders.BACKUP_INFO_FILE``. Unlike upstream (a bare Pod ``<name>-pod``), the backup runs
as Job ``<name>-backup-job`` so that it is retried and observed like every other
operation. Never touches the API server. Registered as controller ``databackup``.
"""

from __future__ import annotations

from typing import Any

import attrs

from fluid.api import kinds
from fluid.api.constants import DataOperationKind
from fluid.controllers import ControllerContext
from fluid.controllers.dataops import framework, jobs, loaders
from fluid.kube import resources
from fluid.reconcile import Manager

__all__ = ["INFO_NODE", "INFO_PATH", "BackupPath", "DataBackupKind", "parse_backup_path", "setup"]

Obj = dict[str, Any]

INFO_PATH = "BackupLocationPath"
INFO_NODE = "BackupLocationNodeName"
_PVC_MOUNT = "/pvc"
_HOST_MOUNT = "/host"


@attrs.frozen
class BackupPath:
    """A parsed ``backupPath``: a claim and a sub-path, or a host directory."""

    claim: str | None
    path: str

    @property
    def is_local(self) -> bool:
        return self.claim is None


def parse_backup_path(text: str) -> BackupPath:
    """``pvc://<claim>/<subpath>`` or ``local://<dir>``; ValueError says what is expected."""
    if text.startswith("pvc://"):
        claim, _, sub = text[len("pvc://"):].partition("/")
        if not claim:
            raise ValueError(f"backupPath {text!r} names no claim: use pvc://<claim>/<subpath>")
        return BackupPath(claim, "/" + sub.strip("/"))
    if text.startswith("local://"):
        path = "/" + text[len("local://"):].strip("/")
        return BackupPath(None, path)
    raise ValueError(
        f"backupPath {text!r} is not supported: use pvc://<claim>/<subpath> or local://<dir>"
    )


class DataBackupKind:
    """The DataBackup plug-in of the operation framework."""

    kind = DataOperationKind.DATA_BACKUP
    info = kinds.DATA_BACKUP
    job_suffix = "backup-job"
    release_suffix = "charts"
    role = "databackup-pod"
    exclusive = True

    def target_dataset(self, op: framework.Operation) -> tuple[str, str] | None:
        return (op.namespace, op.spec.dataset) if op.spec.dataset else None

    def problems(self, op: framework.Operation) -> list[str]:
        found: list[str] = []
        if not op.spec.dataset:
            found.append("spec.dataset is required: name the dataset to back up")
        if not op.spec.backup_path:
            found.append("spec.backupPath is required: pvc://<claim>/<subpath> or local://<dir>")
        else:
            try:
                parse_backup_path(op.spec.backup_path)
            except ValueError as exc:
                found.append(str(exc))
        return found

    def distributed(self, op: framework.Operation) -> bool:
        return False

    def plan(self, op: framework.Operation, target: framework.Target) -> tuple[jobs.PodPlan, jobs.Placement]:
        loaders.require("DataBackup", target.runtime_type)
        where = parse_backup_path(op.spec.backup_path)
        mount = _HOST_MOUNT if where.is_local else _PVC_MOUNT
        status = target.dataset.get("status") or {}
        container = loaders.backup_container(
            target.runtime_type,
            image=target.runtime_image(),
            dataset=target.name,
            namespace=target.namespace,
            backup_dir=mount + ("" if where.is_local else where.path.rstrip("/")),
            statistics={"ufsTotal": str(status.get("ufsTotal") or ""),
                        "fileNum": str(status.get("fileNum") or "")},
        )
        container["volumeMounts"] = [{"name": "backup", "mountPath": mount}]
        run_as = op.spec.run_as
        if run_as is not None:
            container["securityContext"] = {"runAsUser": run_as.uid, "runAsGroup": run_as.gid}
        volume: Obj = (
            {"name": "backup", "hostPath": {"path": where.path, "type": "DirectoryOrCreate"}}
            if where.is_local
            else {"name": "backup", "persistentVolumeClaim": {"claimName": where.claim}}
        )
        return jobs.PodPlan(containers=(container,), volumes=(volume,)), jobs.Placement()

    def infos(
        self, op: framework.Operation, target: framework.Target | None, pod: Obj | None
    ) -> dict[str, str]:
        where = parse_backup_path(op.spec.backup_path)
        node = ((pod or {}).get("spec") or {}).get("nodeName") if where.is_local else None
        return {INFO_PATH: op.spec.backup_path, INFO_NODE: str(node or "NA")}

    def companions(self, op: framework.Operation) -> list[tuple[resources.Resource, str]]:
        return []


def setup(manager: Manager, context: ControllerContext) -> None:
    framework.setup_kind(manager, client=context.client, kind=DataBackupKind(),
                         operator=context.engines.config)
