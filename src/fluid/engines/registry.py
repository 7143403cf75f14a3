"""Which Engine serves which runtime kind: kind -> ``module:Factory``, imported on demand.

Owns the one table the runtime controller reads to build engines. Each engine adds ONE
line to ``ENGINES``; a factory is any callable ``(deps, key) -> Engine`` (an Engine class
whose ``__init__`` takes ``(deps, key)`` qualifies). Tests pass their own mapping to the
controller instead (for example to inject a recording executor), never patch this one.
Never imports an engine at module import time, so engines cannot form import cycles.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from fluid.engines.base import EngineFactory

__all__ = ["ENGINES", "factories", "load"]

ENGINES: dict[str, str] = {
    "AlluxioRuntime": "fluid.engines.alluxio.engine:AlluxioEngine",
    "JuiceFSRuntime": "fluid.engines.juicefs.engine:factory",
    "ThinRuntime": "fluid.engines.thin.dispatch:factory",
    "JindoRuntime": "fluid.engines.jindo.engine:factory",
    "GooseFSRuntime": "fluid.engines.goosefs.engine:factory",
    "VineyardRuntime": "fluid.engines.vineyard.engine:factory",
    "EFCRuntime": "fluid.engines.efc.engine:factory",
}
"""Runtime kind -> ``module:attribute`` of its EngineFactory."""


def load(path: str) -> EngineFactory:
    module_name, _, attribute = path.partition(":")
    factory: EngineFactory = getattr(importlib.import_module(module_name), attribute)
    return factory


def factories(kinds: Mapping[str, str] | None = None) -> dict[str, EngineFactory]:
    """The factories of every registered kind (or of ``kinds``), imported now."""
    return {kind: load(path) for kind, path in (kinds or ENGINES).items()}
