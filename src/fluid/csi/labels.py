"""Node labels that steer a runtime's FUSE DaemonSet: the ``NodeLabeler`` protocol.

Owns adding and removing one ``fluid.io/f-<ns>-<name>=true`` label on this plugin's node,
as a JSON merge patch of ``metadata.labels`` only (never a PUT of the Node). Decides
nothing: ``fluid.csi.node`` calls it when a dataset's first volume is staged here and
after its last one is unstaged. API failures become CSI errors the kubelet retries.
"""

from __future__ import annotations

from typing import Protocol

import structlog

from fluid.csi import errors
from fluid.kube import KubeClient, resources
from fluid.kube import errors as kube_errors

__all__ = ["KubeNodeLabeler", "NodeLabeler", "NoopLabeler"]

log = structlog.get_logger(__name__)


class NodeLabeler(Protocol):
    async def add(self, node: str, key: str) -> None:
        """Set ``key=true`` on ``node``; setting it again is harmless."""

    async def remove(self, node: str, key: str) -> None:
        """Drop ``key`` from ``node``; a label already gone is fine."""


class KubeNodeLabeler:
    """Labels through the API server with the plugin's service account."""

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    async def add(self, node: str, key: str) -> None:
        await self._patch(node, {key: "true"})
        log.info("node_label_added", node=node, key=key)

    async def remove(self, node: str, key: str) -> None:
        await self._patch(node, {key: None})
        log.info("node_label_removed", node=node, key=key)

    async def _patch(self, node: str, labels: dict[str, str | None]) -> None:
        try:
            await self._kube.merge_patch(
                resources.NODES, node, None, {"metadata": {"labels": labels}}
            )
        except kube_errors.NotFound:
            raise errors.FailedPrecondition(
                f"node {node!r} does not exist; check --node-id (NODE_ID)"
            ) from None
        except kube_errors.ApiError as exc:
            raise errors.Unavailable(f"labelling node {node!r}: {exc}") from exc


class NoopLabeler:
    """For nodes where FUSE pods are placed some other way (and for csi-sanity runs)."""

    async def add(self, node: str, key: str) -> None:
        log.info("node_label_skipped", node=node, key=key, op="add")

    async def remove(self, node: str, key: str) -> None:
        log.info("node_label_skipped", node=node, key=key, op="remove")
