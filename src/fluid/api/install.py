"""Install (or update) the data.fluid.io CRDs in a cluster and wait until they serve.

Owns one thing: server-side applying the CRDs generated from the models (the same
content as manifests/crds/) and waiting for each to be Established, so that callers can
create Fluid objects right after. Called by the local-up command, the controller
manager's optional ``--install-crds`` path and the test fixtures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import structlog

from fluid.api import kinds, schema
from fluid.kube import resources
from fluid.kube.client import KubeClient

__all__ = ["CRDNotEstablished", "install_crds"]

log = structlog.get_logger(__name__)

_POLL_SECONDS = 0.1
"""How often to re-read a CRD's conditions; an apiserver establishes a CRD in < 1 s."""


class CRDNotEstablished(TimeoutError):
    """A CRD was applied but did not become Established before the deadline."""


def _established(crd: dict[str, Any]) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


async def _wait_established(kube: KubeClient, name: str, deadline: float) -> None:
    while True:
        current = await kube.get_or_none(resources.CRDS, name)
        if current is not None and _established(current):
            return
        if time.monotonic() > deadline:
            raise CRDNotEstablished(f"CRD {name} is not Established; check the apiserver log")
        await asyncio.sleep(_POLL_SECONDS)


async def install_crds(
    kube: KubeClient,
    *,
    infos: Iterable[kinds.KindInfo] = kinds.ALL,
    timeout: float = 60.0,
) -> list[str]:
    """Apply every CRD, then wait until all are Established; returns the CRD names."""
    started = time.monotonic()
    names = []
    for info in infos:
        await kube.apply(schema.crd(info), res=resources.CRDS)
        names.append(info.crd_name)
    deadline = started + timeout
    for name in names:
        await _wait_established(kube, name, deadline)
    log.info("crds_installed", count=len(names),
             duration_ms=round((time.monotonic() - started) * 1000))
    return names
