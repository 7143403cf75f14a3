"""Plugin ``DatasetUsageInjector``: annotate the pod with the datasets it uses.

Writes ``fluid.io/datasets-in-use``: the sorted, comma-joined dataset names, merged with
any value already there, so tools and deletion checks can find users of a dataset even
after sidecar injection replaced its PVC with a hostPath volume. No args.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from fluid.api import constants
from fluid.webhook.plugins.api import Decision, Plugin, PodContext, check_args

__all__ = ["NAME", "build"]

NAME = "DatasetUsageInjector"


@attrs.frozen
class DatasetUsageInjector:
    name: str = NAME

    def mutate(self, ctx: PodContext) -> Decision:
        if not ctx.datasets:
            return Decision.skipped("no dataset")
        existing = ctx.annotations.get(constants.ANNOTATION_DATASETS_IN_USE, "")
        names = {n for n in existing.split(",") if n} | {use.name for use in ctx.datasets}
        value = ",".join(sorted(names))
        if value == existing:
            return Decision.skipped("already annotated")
        ctx.editor.set(("metadata", "annotations", constants.ANNOTATION_DATASETS_IN_USE), value)
        return Decision.mutated(value)


def build(args: Mapping[str, Any]) -> Plugin:
    check_args(NAME, args)
    return DatasetUsageInjector()
