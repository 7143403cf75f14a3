"""Plugin ``NodeAffinityWithCache``: tiered cache locality, hard when the pod asks for it.

For each dataset the pod mounts:

- if the pod carries ``fluid.io/dataset.<name>.sched=required``, the ``required`` locality
  names become required node-affinity requirements (ANDed into every term): the pod
  runs only where the cache is;
- otherwise the ``preferred`` names become preferred terms with their weights;
- the pod is labelled ``fluid.io/dataset.<name>.sched`` with the mode applied
  (``required`` or ``preferred``; a value the user set is kept), so the pods scheduled
  for a dataset can be listed by label.

Locality names: ``fluid.io/node`` (nodes caching the dataset, label
``fluid.io/s-<ns>-<name>=true``), ``fluid.io/fuse`` (nodes running its FUSE client,
``fluid.io/f-<ns>-<name>=true``), or any node-label key such as
``topology.kubernetes.io/zone``, whose expression is copied from the runtime's
``status.cacheAffinity`` required terms. A key the pod already constrains (nodeSelector
or a required expression) is not added again.

Args (as upstream): ``preferred: [{name, weight}]`` (default zone 50, region 20; the
cache-node preference itself is ``PreferNodesWithCache``'s job) and ``required: [name]``
(default ``[fluid.io/node]``). Never touches a pod already bound to a node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from fluid.api import pod_labels as labels
from fluid.webhook import affinity
from fluid.webhook.datasets import DatasetUse
from fluid.webhook.plugins.api import Decision, Plugin, PodContext, check_args

__all__ = ["NAME", "build"]

NAME = "NodeAffinityWithCache"
NODE = "fluid.io/node"
FUSE = "fluid.io/fuse"
ZONE = "topology.kubernetes.io/zone"
REGION = "topology.kubernetes.io/region"

_DEFAULT_PREFERRED = ((ZONE, 50), (REGION, 20))
_DEFAULT_REQUIRED = (NODE,)


def _expression(use: DatasetUse, name: str) -> dict[str, Any] | None:
    if name == NODE:
        return affinity.requirement(use.cache_label)
    if name == FUSE:
        return affinity.requirement(use.fuse_label)
    required = use.cache_affinity().get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or ():
        for expr in term.get("matchExpressions") or ():
            if expr.get("key") == name:
                return dict(expr)
    return None


def _constrained_keys(pod: Mapping[str, Any]) -> set[str]:
    spec = pod.get("spec") or {}
    keys = set((spec.get("nodeSelector") or {}).keys())
    node_affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or ():
        keys.update(e.get("key") for e in term.get("matchExpressions") or ())
    return keys


@attrs.frozen
class NodeAffinityWithCache:
    preferred: tuple[tuple[str, int], ...] = _DEFAULT_PREFERRED
    required: tuple[str, ...] = _DEFAULT_REQUIRED
    name: str = NAME

    def mutate(self, ctx: PodContext) -> Decision:
        if ctx.pod.get("spec", {}).get("nodeName"):
            return Decision.skipped("pod already bound to a node")
        notes: list[str] = []
        taken = _constrained_keys(ctx.pod)
        for use in ctx.datasets:
            key = labels.sched_label(use.name)
            mode = ctx.labels.get(key) if key else None
            if mode == labels.SCHED_REQUIRED:
                notes += self._require(ctx, use, taken)
            else:
                notes += self._prefer(ctx, use, taken)
                mode = mode or labels.SCHED_PREFERRED
            if key and ctx.labels.get(key) != mode:
                ctx.editor.set(("metadata", "labels", key), mode)
                notes.append(f"{key}={mode}")
        return Decision.mutated(" ".join(notes)) if notes else Decision.skipped("nothing to add")

    def _require(self, ctx: PodContext, use: DatasetUse, taken: set[str]) -> list[str]:
        wanted = [e for n in self.required if (e := _expression(use, n)) and e["key"] not in taken]
        if not wanted:
            return []
        affinity.add_required(ctx.editor, wanted)
        return ["required " + ",".join(e["key"] for e in wanted)]

    def _prefer(self, ctx: PodContext, use: DatasetUse, taken: set[str]) -> list[str]:
        added = []
        for name, weight in self.preferred:
            expr = _expression(use, name)
            if expr is None or expr["key"] in taken:
                continue
            if affinity.add_preferred(ctx.editor, weight, [expr]):
                added.append(f"{expr['key']}:{weight}")
        return ["preferred " + ",".join(added)] if added else []


def _preferred(items: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, int], ...]:
    result = []
    for item in items:
        weight = int(item.get("weight", 0))
        if not item.get("name") or not 1 <= weight <= 100:
            raise ValueError(f"{NAME}: preferred entries need a name and a weight in 1..100: {item}")
        result.append((str(item["name"]), weight))
    return tuple(result)


def build(args: Mapping[str, Any]) -> Plugin:
    check_args(NAME, args, ("preferred", "required"))
    preferred = _preferred(args["preferred"]) if "preferred" in args else _DEFAULT_PREFERRED
    required = tuple(str(n) for n in args.get("required", _DEFAULT_REQUIRED))
    return NodeAffinityWithCache(preferred=preferred, required=required)
