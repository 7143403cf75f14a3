"""The per-dataset operation lock: ``Dataset.status.operationRef[<Kind>]``.

Owns taking and releasing the lock. The value is a comma-joined list of operation names
(upstream's format). An *exclusive* kind (DataLoad, DataBackup, DataMigrate) lets one
operation of that kind run on a dataset at a time; a shared kind (DataProcess) only
records who is running. A holder that no longer runs (deleted, or finished without
releasing, e.g. a crash between two writes) is pruned when someone else asks.

Every write is a JSON patch on the Dataset's status subresource guarded by a ``test`` of
the resourceVersion read just before, so two operations racing for the lock cannot both
win and the dataset controller's own status writes are never clobbered. DataMigrate also
moves the dataset phase to ``DataMigrating`` while it holds the lock, and back to
``Bound``.

Called by ``fluid.controllers.dataops.framework``; never reads or writes operations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import structlog

from fluid.api import kinds
from fluid.api.constants import DataOperationKind, DatasetPhase
from fluid.kube import KubeClient, errors

__all__ = ["Lock", "holders"]

log = structlog.get_logger(__name__)

Obj = dict[str, Any]
_ATTEMPTS = 5
"""Conflicting writes retried at once; beyond that the reconcile fails and backs off."""


def holders(dataset: Obj, kind: str) -> list[str]:
    """Names recorded in ``status.operationRef[kind]``."""
    refs = ((dataset.get("status") or {}).get("operationRef")) or {}
    return [n for n in str(refs.get(kind) or "").split(",") if n]


def _ops(dataset: Obj, refs: dict[str, str], phase: str | None) -> list[Obj]:
    version = dataset["metadata"]["resourceVersion"]
    ops: list[Obj] = [{"op": "test", "path": "/metadata/resourceVersion", "value": version}]
    if "status" not in dataset or dataset["status"] is None:
        ops.append({"op": "add", "path": "/status", "value": {}})
    ops.append({"op": "add", "path": "/status/operationRef", "value": refs})
    if phase is not None:
        ops.append({"op": "add", "path": "/status/phase", "value": phase})
    return ops


@attrs.frozen(kw_only=True)
class Lock:
    """The lock of one operation kind on datasets."""

    client: KubeClient
    kind: DataOperationKind
    exclusive: bool
    is_running: Callable[[str, str], bool]
    """``is_running(namespace, name)``: whether an operation of this kind still holds a claim."""

    async def acquire(self, namespace: str, dataset: str, name: str) -> str | None:
        """Take the lock for ``name``; returns the holder that blocks it, or None once held."""
        for _ in range(_ATTEMPTS):
            current = await self.client.get(kinds.DATASET.resource, dataset, namespace)
            names = holders(current, self.kind)
            if name in names:
                return None
            live = [n for n in names if self.is_running(namespace, n)]
            if self.exclusive and live:
                if live != names:
                    await self._write(current, live, None)
                return live[0]
            phase = DatasetPhase.DATA_MIGRATING if self.kind == DataOperationKind.DATA_MIGRATE else None
            if await self._write(current, [*live, name], phase):
                log.info("dataset_lock_acquired", dataset=dataset, operation=name, kind=self.kind)
                return None
        raise errors.Conflict(409, "Conflict", f"dataset {namespace}/{dataset} kept changing")

    async def release(self, namespace: str, dataset: str, name: str) -> None:
        """Drop ``name`` from the lock; a missing dataset or an absent claim is success."""
        for _ in range(_ATTEMPTS):
            current = await self.client.get_or_none(kinds.DATASET.resource, dataset, namespace)
            if current is None or name not in holders(current, self.kind):
                return
            rest = [n for n in holders(current, self.kind) if n != name]
            phase = None
            if self.kind == DataOperationKind.DATA_MIGRATE and not rest and (
                (current.get("status") or {}).get("phase") == DatasetPhase.DATA_MIGRATING
            ):
                phase = DatasetPhase.BOUND
            if await self._write(current, rest, phase):
                log.info("dataset_lock_released", dataset=dataset, operation=name, kind=self.kind)
                return
        raise errors.Conflict(409, "Conflict", f"dataset {namespace}/{dataset} kept changing")

    async def _write(self, current: Obj, names: list[str], phase: str | None) -> bool:
        """Write the new holder list; False when the dataset changed since it was read."""
        refs = dict(((current.get("status") or {}).get("operationRef")) or {})
        if names:
            refs[self.kind.value] = ",".join(names)
        else:
            refs.pop(self.kind.value, None)
        meta = current["metadata"]
        try:
            await self.client.json_patch(
                kinds.DATASET.resource, meta["name"], meta["namespace"],
                _ops(current, refs, phase), subresource="status",
            )
        except (errors.Conflict, errors.Invalid) as exc:
            # A failed ``test`` op answers 422 Invalid (older servers: 409 Conflict).
            log.debug("dataset_lock_retry", dataset=meta["name"], error=exc.message)
            return False
        return True
