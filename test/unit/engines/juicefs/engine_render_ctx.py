"""A RenderContext for rendering tests of every engine (JuiceFS, Thin, Jindo, GooseFS).

Builds what ``CacheEngine.context()`` would decide, without a port allocator or cluster.
The other engines' conftest.py put this directory on ``sys.path``.
"""

from __future__ import annotations

from typing import Any

from fluid.api import constants
from fluid.engines import base


def render_context(*, kind: str, namespace: str, name: str, runtime_type: str,
                   ports: dict[str, int] | None = None, replicas: int = 1,
                   fuse_selector: dict[str, str] | None = None,
                   tolerations: list[dict[str, Any]] | None = None) -> Any:
    """A RenderContext as CacheEngine.context() builds it, without the allocator."""
    key = base.RuntimeKey(kind, namespace, name)
    return base.RenderContext(
        key=key,
        labels={base.LABEL_APP_NAME: runtime_type, base.LABEL_APP_INSTANCE: name,
                base.LABEL_APP_MANAGED_BY: "fluid", constants.LABEL_MANAGED_BY: "fluid",
                constants.LABEL_DATASET_ID: f"{namespace}-{name}",
                constants.LABEL_DATASET_PLACEMENT: "Exclusive"},
        ports=dict(ports or {}),
        replicas=replicas,
        worker_affinity={"podAntiAffinity": {"marker": "placement"}},
        tolerations=list(tolerations or []),
        fuse_node_selector={constants.fuse_label(namespace, name): "true",
                            **(fuse_selector or {})},
        fuse_mount_path=f"/runtime-mnt/{runtime_type}/{namespace}/{name}",
        ufs=[],
        values_name=f"{name}-{runtime_type}-values",
    )
