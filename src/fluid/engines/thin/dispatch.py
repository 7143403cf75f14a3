"""Which engine serves a ThinRuntime: the profile engine, or the reference-dataset engine.

Owns one decision: a ThinRuntime with an empty ``spec.profileName`` belongs to a
reference dataset (``dataset://``) and is served by ``fluid.engines.reference``; any
other by ``fluid.engines.thin.engine``. The registry calls ``factory(deps, key)`` before
the runtime object is known, so the choice is made on the first call that carries a
``Snapshot`` and kept for the engine's life (a runtime never changes kind of service).
``fluid.engines.reference`` is imported by name, lazily, so that this module (and the
registry) import even where that engine is absent and engines keep no static import of
one another. Never does I/O itself. Created by the engine registry for ThinRuntime.
"""

from __future__ import annotations

import importlib

import structlog

from fluid.engines.base import Engine, EngineDeps, RuntimeKey, Snapshot
from fluid.engines.thin import engine as thin_engine

__all__ = ["REFERENCE_MODULE", "ThinDispatch", "factory", "is_reference_runtime"]

log = structlog.get_logger(__name__)

REFERENCE_MODULE = "fluid.engines.reference"


def is_reference_runtime(snap: Snapshot) -> bool:
    """Upstream's rule: an empty ``profileName`` means a reference-dataset runtime."""
    return not snap.spec.get("profileName")


class ThinDispatch:
    """An ``Engine`` that becomes the profile engine or the reference engine on first use."""

    def __init__(self, deps: EngineDeps, key: RuntimeKey) -> None:
        self.key = key
        self._deps = deps
        self._engine: Engine | None = None

    @property
    def chosen(self) -> Engine | None:
        return self._engine

    def engine_for(self, snap: Snapshot) -> Engine:
        """The engine serving this runtime, chosen on the first call."""
        if self._engine is None:
            reference = is_reference_runtime(snap)
            factory = (importlib.import_module(REFERENCE_MODULE).factory if reference
                       else thin_engine.factory)
            self._engine = factory(self._deps, self.key)
            log.info("thin_engine_chosen", runtime=str(self.key),
                     engine="reference" if reference else "thin")
        return self._engine

    def validate(self, snap: Snapshot) -> None:
        self.engine_for(snap).validate(snap)

    async def setup(self, snap: Snapshot) -> bool:
        return await self.engine_for(snap).setup(snap)

    async def create_volume(self, snap: Snapshot) -> None:
        await self.engine_for(snap).create_volume(snap)

    async def sync(self, snap: Snapshot) -> None:
        await self.engine_for(snap).sync(snap)

    async def delete_volume(self, snap: Snapshot) -> bool:
        return await self.engine_for(snap).delete_volume(snap)

    async def shutdown(self, snap: Snapshot) -> bool:
        return await self.engine_for(snap).shutdown(snap)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.close()


def factory(deps: EngineDeps, key: RuntimeKey) -> Engine:
    """The registry's entry point for ThinRuntime (profile or reference)."""
    return ThinDispatch(deps, key)
