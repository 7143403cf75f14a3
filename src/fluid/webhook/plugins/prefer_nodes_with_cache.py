"""Plugin ``PreferNodesWithCache``: prefer the nodes that hold a dataset's cache.

For every dataset the pod mounts (and did not ask to be *required* on through the
``fluid.io/dataset.<name>.sched=required`` label, which ``NodeAffinityWithCache``
handles), adds a preferred node-affinity term on the dataset's cache label
``fluid.io/s-<ns>-<name>=true`` (the source dataset's label for a reference).
Args: ``weight`` (1-100, default 100: cache locality outweighs the default spreading).
Never touches a pod that is already bound to a node (``spec.nodeName``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from fluid.api import pod_labels as labels
from fluid.webhook import affinity
from fluid.webhook.plugins.api import Decision, Plugin, PodContext, weight_arg

__all__ = ["NAME", "build"]

NAME = "PreferNodesWithCache"


@attrs.frozen
class PreferNodesWithCache:
    weight: int = 100
    name: str = NAME

    def mutate(self, ctx: PodContext) -> Decision:
        if ctx.pod.get("spec", {}).get("nodeName"):
            return Decision.skipped("pod already bound to a node")
        added, seen = [], set()
        for use in ctx.datasets:
            key = labels.sched_label(use.name)
            if key and ctx.labels.get(key) == labels.SCHED_REQUIRED:
                continue
            if use.cache_label in seen:
                continue
            seen.add(use.cache_label)
            if affinity.add_preferred(ctx.editor, self.weight, [affinity.requirement(use.cache_label)]):
                added.append(use.cache_label)
        if not added:
            return Decision.skipped("no dataset to prefer")
        return Decision.mutated("preferred " + ",".join(added))


def build(args: Mapping[str, Any]) -> Plugin:
    return PreferNodesWithCache(weight=weight_arg(NAME, args))
