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

Bad args (or a malformed document) raise ``ProfileError``; the caller keeps the chains it
had. An unknown plugin name is left out of its chain and listed in ``Profile.unknown``
(upstream refuses the whole profile; here a profile written for a newer Fluid still
applies, and the caller reports each name it skipped). ``defaults`` are args the operator
configured (e.g. the file prefetcher image); the profile's own args override them.
Never reads the ConfigMap itself (``fluid.webhook.setup`` feeds it the text).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import yaml

from fluid.webhook.plugins import PLUGINS, build_plugin
from fluid.webhook.plugins.api import Plugin

__all__ = ["CONFIGMAP_KEY", "DEFAULT_PROFILE", "Profile", "ProfileError", "parse"]

CONFIGMAP_KEY = "pluginsProfile"
"""The key of the ``webhook-plugins`` ConfigMap holding the profile YAML."""

DEFAULT_PROFILE = """\
plugins:
  serverful:
    withDataset:
    - FilePrefetcher
    - RequireNodeWithFuse
    - NodeAffinityWithCache
    - PreferNodesWithCache
    - MountPropagationInjector
    - DatasetUsageInjector
    withoutDataset:
    - PreferNodesWithoutCache
  serverless:
    withDataset:
    - FilePrefetcher
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
    unknown: tuple[tuple[str, str], ...] = ()
    """(chain, plugin name) of every name no plugin answers to; those entries were skipped."""

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


def _names(names: Any, where: str) -> list[str]:
    if names is None:
        return []
    if not isinstance(names, list):
        raise ProfileError(f"{where} must be a list of plugin names")
    return [str(n) for n in names]


def _chain(names: list[str], args: Mapping[str, Mapping[str, Any]], where: str) -> tuple[Plugin, ...]:
    try:
        return tuple(build_plugin(n, args.get(n)) for n in names if n in PLUGINS)
    except ValueError as exc:
        raise ProfileError(f"{where}: {exc}") from None


def _merged(
    configured: dict[str, dict[str, Any]], defaults: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    merged = {name: dict(values) for name, values in defaults.items()}
    for name, values in configured.items():
        merged[name] = {**merged.get(name, {}), **values}
    return merged


def parse(text: str, *, defaults: Mapping[str, Mapping[str, Any]] | None = None) -> Profile:
    """Build the chains of a profile; ProfileError says what is wrong."""
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ProfileError(f"pluginsProfile is not YAML: {exc}") from None
    if not isinstance(document, dict):
        raise ProfileError("pluginsProfile must be a mapping")
    plugins = document.get("plugins") or {}
    if not isinstance(plugins, dict):
        raise ProfileError("plugins must be a mapping of serverful/serverless")
    args = _merged(_args(document.get("pluginConfig")), defaults or {})
    chains: dict[str, tuple[Plugin, ...]] = {}
    unknown: list[tuple[str, str]] = []
    for mode in ("serverful", "serverless"):
        section = plugins.get(mode) or {}
        if not isinstance(section, dict):
            raise ProfileError(f"plugins.{mode} must be a mapping of withDataset/withoutDataset")
        for kind, attr in (("withDataset", "with_dataset"), ("withoutDataset", "without_dataset")):
            where = f"plugins.{mode}.{kind}"
            names = _names(section.get(kind), where)
            unknown.extend((where, n) for n in names if n not in PLUGINS)
            chains[f"{mode}_{attr}"] = _chain(names, args, where)
    return Profile(**chains, unknown=tuple(unknown))
