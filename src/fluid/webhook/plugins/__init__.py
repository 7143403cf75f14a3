"""The registry of mutation plugins: name -> module, each module exposing ``NAME`` and ``build``.

Owns the list of plugin names a profile may use (``build_plugin`` refuses any other;
``fluid.webhook.profile`` leaves such names out of its chains and reports them). Plugins
never import each other; the chain (``fluid.webhook.profile`` and
``fluid.webhook.mutation``) loads them through ``build_plugin``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from fluid.webhook.plugins.api import Plugin, PluginFactory

__all__ = ["PLUGINS", "build_plugin"]

PLUGINS: Mapping[str, str] = {
    "DatasetUsageInjector": "fluid.webhook.plugins.dataset_usage",
    "FilePrefetcher": "fluid.webhook.plugins.file_prefetcher",
    "FuseSidecar": "fluid.webhook.plugins.fuse_sidecar",
    "MountPropagationInjector": "fluid.webhook.plugins.mount_propagation",
    "NodeAffinityWithCache": "fluid.webhook.plugins.node_affinity_with_cache",
    "PreferNodesWithCache": "fluid.webhook.plugins.prefer_nodes_with_cache",
    "PreferNodesWithoutCache": "fluid.webhook.plugins.prefer_nodes_without_cache",
    "RequireNodeWithFuse": "fluid.webhook.plugins.require_node_with_fuse",
}


def build_plugin(name: str, args: Mapping[str, Any] | None = None) -> Plugin:
    """Build plugin ``name`` with ``args``; ValueError for an unknown name or bad args."""
    module_path = PLUGINS.get(name)
    if module_path is None:
        raise ValueError(f"unknown webhook plugin {name!r}; known: {sorted(PLUGINS)}")
    factory: PluginFactory = importlib.import_module(module_path).build
    return factory(args or {})
