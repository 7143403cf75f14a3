"""Node-affinity edits shared by the scheduling plugins, made through a ``PatchEditor``.

Owns how terms are merged into a pod so that every plugin merges the same way and a
re-invoked webhook adds nothing twice: a required requirement is ANDed into every
existing ``nodeSelectorTerm`` (or becomes the only term), a preferred term is appended
unless an identical one is there. Never decides which terms a pod needs (plugins do).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fluid.webhook.jsonpatch import PatchEditor

__all__ = ["add_preferred", "add_required", "requirement"]

_NODE_AFFINITY = ("spec", "affinity", "nodeAffinity")
_REQUIRED = (*_NODE_AFFINITY, "requiredDuringSchedulingIgnoredDuringExecution")
_TERMS = (*_REQUIRED, "nodeSelectorTerms")
_PREFERRED = (*_NODE_AFFINITY, "preferredDuringSchedulingIgnoredDuringExecution")


def requirement(key: str, operator: str = "In", values: Sequence[str] = ("true",)) -> dict[str, Any]:
    """A NodeSelectorRequirement; ``Exists``/``DoesNotExist`` carry no values."""
    if operator in ("Exists", "DoesNotExist"):
        return {"key": key, "operator": operator}
    return {"key": key, "operator": operator, "values": list(values)}


def add_required(editor: PatchEditor, requirements: Sequence[Mapping[str, Any]]) -> int:
    """AND ``requirements`` into every required term; returns how many were added."""
    wanted = [dict(r) for r in requirements]
    if not wanted:
        return 0
    terms = editor.get(_TERMS)
    if not terms:
        editor.set(_TERMS, [{"matchExpressions": wanted}])
        return len(wanted)
    added = 0
    for index, term in enumerate(terms):
        expressions = term.get("matchExpressions") or []
        for req in wanted:
            if req not in expressions:
                editor.append((*_TERMS, index, "matchExpressions"), req)
                expressions = editor.get((*_TERMS, index, "matchExpressions"))
                added += 1
    return added


def add_preferred(editor: PatchEditor, weight: int, requirements: Sequence[Mapping[str, Any]]) -> bool:
    """Append a preferred term of ``requirements`` with ``weight`` unless an identical one exists."""
    term = {"weight": weight, "preference": {"matchExpressions": [dict(r) for r in requirements]}}
    existing = editor.get(_PREFERRED) or ()
    if term in existing:
        return False
    editor.append(_PREFERRED, term)
    return True
