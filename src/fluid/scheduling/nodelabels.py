"""The node labels that say which datasets a node caches, and how to change them safely.

Owns the label set of one runtime on a cache node (seed 000):
``fluid.io/s-<runtime>-<ns>-<name>=true``, ``fluid.io/s-<ns>-<name>=true``,
``fluid.io/s-h-<runtime>-{m,d,t}-<ns>-<name>=<capacity>``, ``fluid_exclusive=<ns>_<name>``
(Exclusive placement only) and the counter ``fluid.io/dataset-num``; the pure functions
computing a node's labels after adding or removing that set; and the two writes that apply
them, each a JSON patch guarded by a ``test`` on the node's resourceVersion so that two
controllers never lose each other's increment of ``dataset-num``.

Adding is idempotent: a node that already carries the runtime label keeps its count.
Never decides which nodes to label (the engine's sync does, from Ready worker pods).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs
import structlog

from fluid.api import constants as c
from fluid.api.quantity import parse_quantity
from fluid.kube import KubeClient, errors, resources

__all__ = [
    "Capacity",
    "LabelSet",
    "after_label",
    "after_unlabel",
    "capacity_of_levels",
    "human_size",
    "label_node",
    "remove_labels",
    "unlabel_node",
]

log = structlog.get_logger(__name__)

_CONFLICT_ATTEMPTS = 8
"""Retries of a label patch that lost a race on the node's resourceVersion."""

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def human_size(value: int | Decimal) -> str:
    """Bytes as upstream's node labels print them: 4 significant digits, binary unit (``2GiB``)."""
    amount = float(value)
    unit = 0
    while amount >= 1024 and unit < len(_UNITS) - 1:
        amount /= 1024
        unit += 1
    return f"{amount:.4g}{_UNITS[unit]}"


@attrs.frozen
class Capacity:
    """Cache capacity a runtime puts on each node: memory and disk, in bytes (None: no tier)."""

    memory: int | None = None
    disk: int | None = None

    @property
    def total(self) -> int:
        return (self.memory or 0) + (self.disk or 0)


def _level_bytes(level: Mapping[str, Any]) -> int:
    if level.get("quota") is not None:
        return int(parse_quantity(level["quota"]))
    quota_list = str(level.get("quotaList") or "")
    return sum(int(parse_quantity(q)) for q in quota_list.split(",") if q.strip())


def capacity_of_levels(levels: Iterable[Mapping[str, Any]] | None) -> Capacity:
    """MEM levels count as memory; SSD and HDD as disk (as upstream's level storage map)."""
    memory: int | None = None
    disk: int | None = None
    for level in levels or ():
        size = _level_bytes(level)
        if level.get("mediumtype") == c.MediumType.MEM:
            memory = (memory or 0) + size
        else:
            disk = (disk or 0) + size
    return Capacity(memory, disk)


@attrs.frozen(kw_only=True)
class LabelSet:
    """The labels one runtime puts on each of its cache nodes."""

    runtime_key: str
    common_key: str
    exclusive_value: str | None
    capacity_labels: dict[str, str]
    capacity_keys: tuple[str, ...] = ()
    """All three capacity keys (m, d, t), removed even if the current spec lacks a tier."""

    @classmethod
    def for_runtime(
        cls, *, runtime_type: str, namespace: str, name: str, uid: str | None,
        exclusive: bool, capacity: Capacity,
    ) -> LabelSet:
        def cap(kind: c.CapacityKind) -> str:
            return c.runtime_capacity_label(runtime_type, kind, namespace, name, uid=uid)

        capacity_labels = {}
        if capacity.memory is not None:
            capacity_labels[cap(c.CapacityKind.MEMORY)] = human_size(capacity.memory)
        if capacity.disk is not None:
            capacity_labels[cap(c.CapacityKind.DISK)] = human_size(capacity.disk)
        capacity_labels[cap(c.CapacityKind.TOTAL)] = human_size(capacity.total)
        return cls(
            runtime_key=c.runtime_label(runtime_type, namespace, name, uid=uid),
            common_key=c.common_label(namespace, name, uid=uid),
            exclusive_value=c.exclusive_value(namespace, name) if exclusive else None,
            capacity_labels=capacity_labels,
            capacity_keys=tuple(cap(kind) for kind in c.CapacityKind),
        )

    @property
    def keys(self) -> list[str]:
        """Every key this set owns on a node (the counter and fluid_exclusive excluded)."""
        return [self.runtime_key, self.common_key, *self.capacity_labels, *self.capacity_keys]


def after_label(labels: Mapping[str, str], wanted: LabelSet) -> dict[str, str]:
    """The node's labels once ``wanted`` is on it; unchanged if the runtime label is there."""
    result = dict(labels)
    if result.get(wanted.runtime_key) == "true":
        return result
    result[wanted.runtime_key] = "true"
    result[wanted.common_key] = "true"
    result.update(wanted.capacity_labels)
    if wanted.exclusive_value is not None:
        result[c.LABEL_EXCLUSIVE] = wanted.exclusive_value
    result[c.LABEL_DATASET_NUM] = str(_count(labels) + 1)
    return result


def after_unlabel(labels: Mapping[str, str], owned: LabelSet) -> dict[str, str]:
    """The node's labels once ``owned`` is gone; the counter drops, and goes below 1 never."""
    result = dict(labels)
    if owned.runtime_key not in result:
        return result
    for key in owned.keys:
        result.pop(key, None)
    if owned.exclusive_value is not None and result.get(c.LABEL_EXCLUSIVE) == owned.exclusive_value:
        result.pop(c.LABEL_EXCLUSIVE)
    remaining = _count(labels) - 1
    if remaining >= 1:
        result[c.LABEL_DATASET_NUM] = str(remaining)
    else:
        result.pop(c.LABEL_DATASET_NUM, None)
    return result


def _count(labels: Mapping[str, str]) -> int:
    try:
        return max(int(labels.get(c.LABEL_DATASET_NUM, "0")), 0)
    except ValueError:
        return 0


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _patch_ops(before: Mapping[str, str], after: Mapping[str, str], version: str) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = [{"op": "test", "path": "/metadata/resourceVersion", "value": version}]
    if not before:
        ops.append({"op": "add", "path": "/metadata/labels", "value": dict(after)})
        return ops
    for key in sorted(set(before) - set(after)):
        ops.append({"op": "remove", "path": f"/metadata/labels/{_escape(key)}"})
    for key in sorted(after):
        if before.get(key) != after[key]:
            ops.append({"op": "add", "path": f"/metadata/labels/{_escape(key)}", "value": after[key]})
    return ops


async def _change(
    client: KubeClient, node: str, change: Callable[[dict[str, str]], dict[str, str]],
) -> bool:
    """Read the node, compute its labels with ``change`` and patch; True if anything changed."""
    for _ in range(_CONFLICT_ATTEMPTS):
        obj = await client.get_or_none(resources.NODES, node)
        if obj is None:
            return False
        meta = obj.get("metadata") or {}
        before: dict[str, str] = dict(meta.get("labels") or {})
        after = change(before)
        if after == before:
            return False
        ops = _patch_ops(before, after, str(meta.get("resourceVersion", "")))
        try:
            await client.json_patch(resources.NODES, node, None, ops)
            return True
        except (errors.Conflict, errors.Invalid) as exc:  # Invalid: the ``test`` op failed
            log.info("node_label_retry", node=node, reason=type(exc).__name__)
    raise errors.Conflict(409, "Conflict", f"node {node} kept changing while labelling it")


async def label_node(client: KubeClient, node: str, wanted: LabelSet) -> bool:
    return await _change(client, node, lambda labels: after_label(labels, wanted))


async def unlabel_node(client: KubeClient, node: str, owned: LabelSet) -> bool:
    return await _change(client, node, lambda labels: after_unlabel(labels, owned))


async def remove_labels(client: KubeClient, node: str, keys: Sequence[str]) -> bool:
    """Drop plain keys (e.g. the FUSE label ``fluid.io/f-<ns>-<name>``)."""
    return await _change(client, node, lambda labels: {k: v for k, v in labels.items() if k not in keys})
