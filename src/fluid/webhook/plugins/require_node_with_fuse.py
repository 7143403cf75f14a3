"""Plugin ``RequireNodeWithFuse``: require nodes where the runtime's FUSE client may run.

A runtime with ``spec.fuse.nodeSelector`` only runs FUSE clients on matching nodes, so a
pod mounting its dataset elsewhere would wait forever for the mount. Each selector
entry becomes a required ``key In [value]`` requirement, ANDed into every existing
required term (upstream ORs terms of different datasets; AND is what a pod mounting
both datasets needs). No args. Never touches a pod already bound to a node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from fluid.webhook import affinity
from fluid.webhook.plugins.api import Decision, Plugin, PodContext, check_args

__all__ = ["NAME", "build"]

NAME = "RequireNodeWithFuse"


@attrs.frozen
class RequireNodeWithFuse:
    name: str = NAME

    def mutate(self, ctx: PodContext) -> Decision:
        if ctx.pod.get("spec", {}).get("nodeName"):
            return Decision.skipped("pod already bound to a node")
        wanted: list[dict[str, Any]] = []
        for use in ctx.datasets:
            for key, value in sorted(use.fuse_node_selector().items()):
                req = affinity.requirement(key, "In", [value])
                if req not in wanted:
                    wanted.append(req)
        if not wanted:
            return Decision.skipped("no runtime restricts its FUSE nodes")
        added = affinity.add_required(ctx.editor, wanted)
        if not added:
            return Decision.skipped("FUSE node requirements already present")
        return Decision.mutated("required " + ",".join(f"{r['key']}={r['values'][0]}" for r in wanted))


def build(args: Mapping[str, Any]) -> Plugin:
    check_args(NAME, args)
    return RequireNodeWithFuse()
