"""Plugin ``MountPropagationInjector``: ``HostToContainer`` on every dataset volume mount.

When a FUSE client restarts, the CSI plugin re-publishes the bind mount on the host;
only mounts with ``HostToContainer`` propagation see the repaired mount without a pod
restart. Mounts that already set a propagation are left alone. No args.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from fluid.webhook.plugins.api import Decision, Plugin, PodContext

__all__ = ["NAME", "build"]

NAME = "MountPropagationInjector"
HOST_TO_CONTAINER = "HostToContainer"


@attrs.frozen
class MountPropagationInjector:
    name: str = NAME

    def mutate(self, ctx: PodContext) -> Decision:
        volumes = ctx.dataset_volumes
        changed = 0
        for field in ("initContainers", "containers"):
            for c_index, container in enumerate(ctx.pod.get("spec", {}).get(field) or ()):
                for m_index, mount in enumerate(container.get("volumeMounts") or ()):
                    if mount.get("name") in volumes and not mount.get("mountPropagation"):
                        path = ("spec", field, c_index, "volumeMounts", m_index, "mountPropagation")
                        ctx.editor.set(path, HOST_TO_CONTAINER)
                        changed += 1
        if not changed:
            return Decision.skipped("no dataset mount without propagation")
        return Decision.mutated(f"{changed} mounts set to {HOST_TO_CONTAINER}")


def build(args: Mapping[str, Any]) -> Plugin:
    if args:
        raise ValueError(f"{NAME} takes no args, got {sorted(args)}")
    return MountPropagationInjector()
