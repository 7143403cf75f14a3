"""The contract between the mutation chain and its plugins.

Owns the types a plugin sees (``PodContext``), returns (``Decision``) or raises
(``Denied``), the ``Plugin`` protocol, and the args checks the ``build`` functions share.
A plugin module exposes ``NAME`` and ``build(args) -> Plugin``; plugins never import each
other, only this module and the
shared helpers (``fluid.webhook.affinity``, ``jsonpatch``, ``labels``, ``datasets``).

Plugins are synchronous on purpose: they read informer caches and the pod, never the
network, so one admission is a few microseconds of dict work per plugin.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Protocol

import attrs

from fluid.webhook.datasets import Caches, DatasetUse
from fluid.webhook.jsonpatch import PatchEditor

__all__ = [
    "HOST_TO_CONTAINER", "MUTATED", "SKIPPED", "Decision", "Denied", "Plugin", "PluginFactory",
    "PodContext", "check_args", "weight_arg",
]

HOST_TO_CONTAINER = "HostToContainer"
MUTATED = "mutated"
SKIPPED = "skipped"


class Denied(Exception):
    """The pod must be refused; the message tells the user what to fix."""


@attrs.frozen
class Decision:
    """What a plugin did: ``outcome`` is counted per plugin, ``detail`` is logged.

    ``stop`` ends the chain (as upstream's ``shouldStop``).
    """

    outcome: str
    detail: str = ""
    stop: bool = False

    @classmethod
    def mutated(cls, detail: str = "", *, stop: bool = False) -> Decision:
        return cls(MUTATED, detail, stop)

    @classmethod
    def skipped(cls, detail: str = "", *, stop: bool = False) -> Decision:
        return cls(SKIPPED, detail, stop)


@attrs.define
class PodContext:
    """One admission as the plugins see it; ``editor.document`` is the pod being edited."""

    namespace: str
    datasets: tuple[DatasetUse, ...]
    editor: PatchEditor
    caches: Caches
    warnings: list[str] = attrs.field(factory=list)

    @property
    def pod(self) -> dict[str, Any]:
        return self.editor.document

    @property
    def labels(self) -> Mapping[str, str]:
        return (self.pod.get("metadata") or {}).get("labels") or {}

    @property
    def annotations(self) -> Mapping[str, str]:
        return (self.pod.get("metadata") or {}).get("annotations") or {}

    @property
    def dataset_volumes(self) -> frozenset[str]:
        return frozenset(v for use in self.datasets for v in use.volumes)

    def propagate_mounts(self, volumes: Collection[str]) -> int:
        """``mountPropagation: HostToContainer`` on every init/app container mount of
        ``volumes`` that sets none (a FUSE mount repaired or made later is then seen);
        returns how many mounts changed."""
        changed = 0
        spec = self.pod.get("spec") or {}
        for field in ("initContainers", "containers"):
            for c_index, container in enumerate(spec.get(field) or ()):
                for m_index, mount in enumerate(container.get("volumeMounts") or ()):
                    if mount.get("name") in volumes and not mount.get("mountPropagation"):
                        self.editor.set(("spec", field, c_index, "volumeMounts", m_index,
                                         "mountPropagation"), HOST_TO_CONTAINER)
                        changed += 1
        return changed


class Plugin(Protocol):
    """One step of the chain."""

    @property
    def name(self) -> str: ...

    def mutate(self, ctx: PodContext) -> Decision: ...


class PluginFactory(Protocol):
    def __call__(self, args: Mapping[str, Any]) -> Plugin: ...


def check_args(plugin: str, args: Mapping[str, Any], allowed: tuple[str, ...] = ()) -> None:
    """ValueError naming the args ``plugin`` does not take (every arg when it takes none)."""
    unknown = set(args) - set(allowed)
    if unknown and not allowed:
        raise ValueError(f"{plugin} takes no args, got {sorted(args)}")
    if unknown:
        raise ValueError(f"{plugin}: unknown args {sorted(unknown)}")


def weight_arg(plugin: str, args: Mapping[str, Any], default: int = 100) -> int:
    """The ``weight`` arg of a preferred scheduling term, checked to be within 1..100."""
    weight = int(args.get("weight", default))
    if not 1 <= weight <= 100:
        raise ValueError(f"{plugin}: weight must be within 1..100, got {weight}")
    return weight
