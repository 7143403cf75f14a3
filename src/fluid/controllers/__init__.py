"""Fluid's controllers, each registering itself with a Manager through ``setup``.

``fluid.cli.controller_manager`` calls ``setup_all``; a controller module exposes
``setup(manager, context)`` and is listed in ``CONTROLLERS`` so operators can turn it
on or off with ``--controllers`` (as upstream enables runtime controllers on demand).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Protocol

import attrs

from fluid.engines.base import EngineSettings
from fluid.kube import KubeClient
from fluid.reconcile.manager import Manager

__all__ = ["CONTROLLERS", "ControllerContext", "setup_all"]

CONTROLLERS: dict[str, str] = {
    "dataload": "fluid.controllers.dataops.load",
    "databackup": "fluid.controllers.dataops.backup",
    "datamigrate": "fluid.controllers.dataops.migrate",
    "dataprocess": "fluid.controllers.dataops.process",
    "reference": "fluid.controllers.reference",
    "dataset": "fluid.controllers.dataset",
    "fluidapp": "fluid.controllers.fluidapp",
    "runtime": "fluid.controllers.runtime",
}
"""Controller name -> module path; filled in as controller modules land."""


@attrs.frozen
class ControllerContext:
    """Collaborators shared by all controllers, built once in the composition root."""

    client: KubeClient
    namespace: str = "fluid-system"
    engines: EngineSettings = attrs.field(factory=EngineSettings)
    """How the runtime controller builds engines (factories, port allocator, pod exec)."""


class _Setup(Protocol):
    def __call__(self, manager: Manager, context: ControllerContext) -> None: ...


def setup_all(manager: Manager, context: ControllerContext, enabled: Iterable[str]) -> list[str]:
    """Register the enabled controllers (``*`` means all); returns their names."""
    wanted = set(enabled)
    names = sorted(CONTROLLERS) if "*" in wanted else sorted(wanted & set(CONTROLLERS))
    unknown = wanted - set(CONTROLLERS) - {"*"}
    if unknown:
        raise ValueError(f"unknown controllers: {sorted(unknown)}; known: {sorted(CONTROLLERS)}")
    for name in names:
        module = importlib.import_module(CONTROLLERS[name])
        setup: _Setup = module.setup
        setup(manager, context)
    return names
