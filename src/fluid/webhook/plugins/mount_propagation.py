"""Plugin ``MountPropagationInjector``: ``HostToContainer`` on every dataset volume mount.

When a FUSE client restarts, the CSI plugin re-publishes the bind mount on the host;
only mounts with ``HostToContainer`` propagation see the repaired mount without a pod
restart. Mounts that already set a propagation are left alone. No args.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from fluid.webhook.plugins.api import HOST_TO_CONTAINER, Decision, Plugin, PodContext, check_args

__all__ = ["NAME", "build"]

NAME = "MountPropagationInjector"


@attrs.frozen
class MountPropagationInjector:
    name: str = NAME

    def mutate(self, ctx: PodContext) -> Decision:
        changed = ctx.propagate_mounts(ctx.dataset_volumes)
        if not changed:
            return Decision.skipped("no dataset mount without propagation")
        return Decision.mutated(f"{changed} mounts set to {HOST_TO_CONTAINER}")


def build(args: Mapping[str, Any]) -> Plugin:
    check_args(NAME, args)
    return MountPropagationInjector()
