"""The plugin profile: which plugins run, in which order, for which kind of pod.

Owns parsing the ``pluginsProfile`` YAML (upstream's format, kept so existing
ConfigMaps work) into four chains of built plugins::

    plugins:
      serverful:  {withDataset: [...], withoutDataset: [...]}
      serverless: {withDataset: [...], withoutDataset: [...]}
    pluginConfig:
    - name: NodeAffinityWithCache
      args: |            # a YAML string (or a mapping)
        preferred: [{name: topology.kubernetes.io/zone, weight: 50}]

An unknown plugin name or bad args raise ``ProfileError``; the caller keeps the chain it
had. Never reads the ConfigMap itself (``fluid.webhook.setup`` feeds it the text).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import yaml

from fluid.webhook.plugins import build_plugin
from fluid.webhook.plugins.api import Plugin

__all__ = ["CONFIGMAP_KEY", "DEFAULT_PROFILE", "Profile", "ProfileError", "parse"]

CONFIGMAP_KEY = "pluginsProfile"
"""The key of the ``webhook-plugins`` ConfigMap holding the profile YAML."""

DEFAULT_PROFILE = """\
plugins:
  serverful:
    withDataset:
    - RequireNodeWithFuse
    - NodeAffinityWithCache
    - PreferNodesWithCache
    - MountPropagationInjector
    - DatasetUsageInjector
    withoutDataset:
    - PreferNodesWithoutCache
  serverless:
    withDataset:
    - FuseSidecar
    - DatasetUsageInjector
    withoutDataset: []
pluginConfig:
- name: NodeAffinityWithCache
  args: |
    preferred:
    - {name: topology.kubernetes.io/zone, weight: 50}
    - {name: topology.kubernetes.io/region, weight: 20}
    required: [fluid.io/node]
- name: FuseSidecar
  args: |
    mode: native
    mountTimeoutSeconds: 120
"""


class ProfileError(ValueError):
    """The profile cannot be used; the message names the offending entry."""


@attrs.frozen
class Profile:
    serverful_with_dataset: tuple[Plugin, ...] = ()
    serverful_without_dataset: tuple[Plugin, ...] = ()
    serverless_with_dataset: tuple[Plugin, ...] = ()
    serverless_without_dataset: tuple[Plugin, ...] = ()

    def chain(self, *, serverless: bool, with_dataset: bool) -> tuple[Plugin, ...]:
        if serverless:
            return self.serverless_with_dataset if with_dataset else self.serverless_without_dataset
        return self.serverful_with_dataset if with_dataset else self.serverful_without_dataset


def _args(config: Any) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    for entry in config or ():
        if not isinstance(entry, dict) or not entry.get("name"):
            raise ProfileError(f"pluginConfig entries need a name: {entry!r}")
        raw = entry.get("args") or {}
        parsed = yaml.safe_load(raw) if isinstance(raw, str) else raw
        if not isinstance(parsed, dict | None):
            raise ProfileError(f"pluginConfig {entry['name']}: args must be a mapping")
        result[str(entry["name"])] = parsed or {}
    return result


def _chain(names: Any, args: Mapping[str, Mapping[str, Any]], where: str) -> tuple[Plugin, ...]:
    if names is None:
        return ()
    if not isinstance(names, list):
        raise ProfileError(f"{where} must be a list of plugin names")
    try:
        return tuple(build_plugin(str(n), args.get(str(n))) for n in names)
    except ValueError as exc:
        raise ProfileError(f"{where}: {exc}") from None


def parse(text: str) -> Profile:
    """Build the chains of a profile; ProfileError says what is wrong."""
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ProfileError(f"pluginsProfile is not YAML: {exc}") from None
    if not isinstance(document, dict):
        raise ProfileError("pluginsProfile must be a mapping")
    plugins = document.get("plugins") or {}
    args = _args(document.get("pluginConfig"))
    chains = {}
    for mode in ("serverful", "serverless"):
        section = plugins.get(mode) or {}
        for kind, attr in (("withDataset", "with_dataset"), ("withoutDataset", "without_dataset")):
            chains[f"{mode}_{attr}"] = _chain(section.get(kind), args, f"plugins.{mode}.{kind}")
    return Profile(**chains)
