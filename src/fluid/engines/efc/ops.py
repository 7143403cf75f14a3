"""Calls into EFC worker pods: removing the cache directory before shutdown.

Owns the one command upstream's EFC engine runs in its pods (``rm -rf <cache>/tier_dadi``
in each ready worker's ``efc-worker`` container when the cache lives on a host path).
Goes only through a ``PodExecutor``, so tests substitute ``RecordingExecutor`` (with
``fluid.engines.efc.fake``) at this boundary. Called by ``fluid.engines.efc.engine``.
"""

from __future__ import annotations

import posixpath

from fluid.engines.base import ContainerExec

__all__ = ["CACHE_SUBDIR", "EFCWorkerOps"]

CACHE_SUBDIR = "tier_dadi"
"""Where the EFC worker keeps cached blocks inside its cache path."""


class EFCWorkerOps(ContainerExec):
    """Commands in the ``efc-worker`` container; a non-zero exit is ``CommandFailed``."""

    async def remove_cache(self, pod: str, cache_path: str) -> None:
        await self._run(pod, ["rm", "-rf", posixpath.join(cache_path, CACHE_SUBDIR)])
