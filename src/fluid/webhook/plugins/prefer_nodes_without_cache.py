"""Plugin ``PreferNodesWithoutCache``: steer pods that use no dataset away from cache nodes.

Adds a preferred term (weight 100) on ``fluid.io/dataset-num`` DoesNotExist, the label
Fluid keeps on every node that caches some dataset, and stops the chain. It runs only
in the ``withoutDataset`` chains, which see only pods that opted in with
``fuse.serverful.fluid.io/inject=true``: a plain pod never waits on the webhook.
Args: ``weight`` (default 100). Never touches a pod already bound to a node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from fluid.api import constants
from fluid.webhook import affinity
from fluid.webhook.plugins.api import Decision, Plugin, PodContext, weight_arg

__all__ = ["NAME", "build"]

NAME = "PreferNodesWithoutCache"


@attrs.frozen
class PreferNodesWithoutCache:
    weight: int = 100
    name: str = NAME

    def mutate(self, ctx: PodContext) -> Decision:
        if ctx.datasets:
            return Decision.skipped("pod uses a dataset")
        if ctx.pod.get("spec", {}).get("nodeName"):
            return Decision.skipped("pod already bound to a node", stop=True)
        term = [affinity.requirement(constants.LABEL_DATASET_NUM, "DoesNotExist")]
        if affinity.add_preferred(ctx.editor, self.weight, term):
            return Decision.mutated("preferred nodes without cache", stop=True)
        return Decision.skipped("already preferred", stop=True)


def build(args: Mapping[str, Any]) -> Plugin:
    return PreferNodesWithoutCache(weight=weight_arg(NAME, args))
