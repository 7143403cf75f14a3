"""DataFlow: ``runAfter`` gating and affinity inheritance between data operations.

Owns three pure decisions the operation framework asks for:

- ``gate``: may an operation whose ``runAfter`` names another one start? (its predecessor
  is Complete), must it wait (missing or still running), or has it failed (the
  predecessor Failed, so the follower fails with a condition naming it);
- ``exported_affinity``: the ``status.nodeAffinity`` an operation exposes once its pod
  ran: a required NodeSelectorTerm with one ``In`` expression per exported node label
  (``kubernetes.io/hostname``, ``topology.kubernetes.io/zone``,
  ``topology.kubernetes.io/region`` and the keys listed in annotation
  ``affinity.dataflow.fluid.io/labels``);
- ``inherit_affinity``: the pod affinity of a follower whose
  ``runAfter.affinityStrategy.policy`` is Require or Prefer, copied from the operation
  it depends on (``dependOn``, default the ``runAfter`` one).

Never does I/O: ``fluid.controllers.dataops.framework`` reads the objects and writes the
results. Distributed operations neither export nor inherit location affinity; the
framework decides that and does not call these for them.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from fluid.api.constants import (
    ANNOTATION_DATAFLOW_AFFINITY_LABELS,
    AffinityPolicy,
    DataOperationKind,
    OperationPhase,
)
from fluid.api.dataops import AffinityStrategy, ObjectRef, OperationRef

__all__ = [
    "DEFAULT_AFFINITY_LABELS",
    "DEFAULT_PREFER_WEIGHT",
    "KINDS",
    "Gate",
    "GateResult",
    "Inherited",
    "OpRef",
    "affinity_source",
    "exported_affinity",
    "exported_label_keys",
    "gate",
    "index_refs",
    "inherit_affinity",
    "predecessor",
]

Obj = dict[str, Any]

HOSTNAME = "kubernetes.io/hostname"
DEFAULT_AFFINITY_LABELS: tuple[str, ...] = (
    HOSTNAME,
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
)
"""Node labels every operation exports, whether or not its annotation lists them."""
DEFAULT_PREFER_WEIGHT = 100
"""The weight of the default ``prefers`` entry (hostname), as upstream."""


@attrs.frozen
class OpRef:
    """A data operation by kind, namespace and name; ``key`` is its index value."""

    kind: str
    namespace: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    @classmethod
    def of(cls, ref: ObjectRef, default_namespace: str) -> OpRef:
        return cls(str(ref.kind), ref.namespace or default_namespace, ref.name)


def predecessor(run_after: OperationRef | None, namespace: str) -> OpRef | None:
    """The operation ``runAfter`` names (its namespace defaults to the follower's)."""
    return OpRef.of(run_after, namespace) if run_after is not None else None


def affinity_source(run_after: OperationRef | None, namespace: str) -> OpRef | None:
    """The operation whose node a follower inherits: ``dependOn``, else the predecessor.

    None when the follower asks for no affinity (no strategy or policy ``""``).
    """
    strategy = run_after.affinity_strategy if run_after is not None else None
    if run_after is None or strategy is None or not strategy.policy:
        return None
    if strategy.depend_on is not None:
        return OpRef.of(strategy.depend_on, namespace)
    return OpRef.of(run_after, namespace)


# -- gating ----------------------------------------------------------------------------------


class Gate(enum.Enum):
    GO = "go"
    WAIT = "wait"
    FAIL = "fail"


@attrs.frozen
class GateResult:
    gate: Gate
    reason: str = ""
    message: str = ""


def _phase(obj: Mapping[str, Any] | None) -> str:
    return str(((obj or {}).get("status") or {}).get("phase") or "")


def _failure_message(obj: Mapping[str, Any]) -> str:
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("type") == OperationPhase.FAILED and condition.get("message"):
            return f": {condition['message']}"
    return ""


def gate(ref: OpRef, obj: Mapping[str, Any] | None, *, purpose: str = "runAfter") -> GateResult:
    """Whether the operation ``ref`` (``obj`` as read, None if absent) lets a follower go."""
    if obj is None:
        return GateResult(
            Gate.WAIT, "PrecedingOperationNotFound",
            f"waiting for {ref} ({purpose}), which does not exist yet; create it or fix "
            f"spec.runAfter",
        )
    phase = _phase(obj)
    if phase == OperationPhase.COMPLETE:
        return GateResult(Gate.GO)
    if phase == OperationPhase.FAILED:
        return GateResult(
            Gate.FAIL, "PrecedingOperationFailed",
            f"{ref} ({purpose}) failed{_failure_message(obj)}; fix it and re-create this "
            f"operation",
        )
    return GateResult(
        Gate.WAIT, "PrecedingOperationNotComplete",
        f"waiting for {ref} ({purpose}) to complete; it is {phase or 'not started'}",
    )


# -- exporting where an operation ran --------------------------------------------------------


def exported_label_keys(annotations: Mapping[str, str] | None) -> list[str]:
    """The default keys plus those listed (comma-separated) in the dataflow annotation."""
    listed = (annotations or {}).get(ANNOTATION_DATAFLOW_AFFINITY_LABELS, "")
    keys = list(DEFAULT_AFFINITY_LABELS)
    for key in (k.strip() for k in listed.split(",")):
        if key and key not in keys:
            keys.append(key)
    return keys


def exported_affinity(node_labels: Mapping[str, str], keys: Iterable[str]) -> Obj | None:
    """A core/v1 NodeAffinity pinning to the node's values of ``keys`` (absent keys skipped)."""
    expressions = [
        {"key": key, "operator": "In", "values": [node_labels[key]]}
        for key in keys
        if key in node_labels
    ]
    if not expressions:
        return None
    return {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": expressions}]
        }
    }


# -- inheriting ------------------------------------------------------------------------------


@attrs.frozen
class Inherited:
    """The follower's new pod affinity, and requested keys its source did not export."""

    affinity: Obj | None
    missing: tuple[str, ...] = ()


def _source_expressions(node_affinity: Mapping[str, Any] | None) -> dict[str, Obj]:
    required = (node_affinity or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    terms = required.get("nodeSelectorTerms") or []
    if not terms:
        return {}
    return {e["key"]: e for e in terms[0].get("matchExpressions") or () if "key" in e}


def _require(affinity: Obj, expressions: Sequence[Obj]) -> None:
    node = affinity.setdefault("nodeAffinity", {})
    required = node.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    terms = required.setdefault("nodeSelectorTerms", [])
    if not terms:
        terms.append({})
    # Terms are ORed: the inherited expressions must hold in each of them.
    for term in terms:
        term.setdefault("matchExpressions", []).extend(copy.deepcopy(list(expressions)))


def _prefer(affinity: Obj, weighted: Sequence[tuple[int, Obj]]) -> None:
    node = affinity.setdefault("nodeAffinity", {})
    preferred = node.setdefault("preferredDuringSchedulingIgnoredDuringExecution", [])
    for weight, expression in weighted:
        preferred.append(
            {"weight": weight, "preference": {"matchExpressions": [copy.deepcopy(expression)]}}
        )


def inherit_affinity(
    current: Mapping[str, Any] | None,
    *,
    strategy: AffinityStrategy,
    source_node_affinity: Mapping[str, Any] | None,
) -> Inherited:
    """``current`` (a core/v1 Affinity, untouched) plus what ``strategy`` takes from the source."""
    affinity: Obj = copy.deepcopy(dict(current or {}))
    available = _source_expressions(source_node_affinity)
    if strategy.policy == AffinityPolicy.REQUIRE:
        keys = [r.name for r in strategy.requires or ()] or [HOSTNAME]
        found = [available[k] for k in keys if k in available]
        if found:
            _require(affinity, found)
    elif strategy.policy == AffinityPolicy.PREFER:
        prefers = [(p.name, p.weight) for p in strategy.prefers or ()] or [
            (HOSTNAME, DEFAULT_PREFER_WEIGHT)
        ]
        keys = [name for name, _ in prefers]
        weighted = [(weight, available[name]) for name, weight in prefers if name in available]
        if weighted:
            _prefer(affinity, weighted)
    else:
        return Inherited(dict(current) if current else None)
    missing = tuple(k for k in keys if k not in available)
    return Inherited(affinity or None, missing)


def index_refs(obj: Mapping[str, Any]) -> list[str]:
    """Index values of the operations ``obj`` depends on (runAfter and dependOn), as OpRef keys."""
    spec = obj.get("spec") or {}
    namespace = str((obj.get("metadata") or {}).get("namespace") or "")
    run_after = spec.get("runAfter") or {}
    refs = []
    for ref in (run_after, (run_after.get("affinityStrategy") or {}).get("dependOn") or {}):
        if ref.get("kind") and ref.get("name"):
            refs.append(OpRef(str(ref["kind"]), str(ref.get("namespace") or namespace),
                              str(ref["name"])).key)
    return refs


KINDS: tuple[str, ...] = tuple(k.value for k in DataOperationKind)
"""The kinds a ``runAfter`` may name."""
