"""attrs models -> structural OpenAPI v3 schemas and CustomResourceDefinitions.

Owns the mapping from Python types to the schema the API server enforces: objects with
properties and ``required``, maps as ``additionalProperties``, lists as ``items``, StrEnums
as ``enum``, quantities as int-or-string, and raw Kubernetes types (``Embedded``) as
objects that keep unknown fields. Also assembles a whole CRD from a ``KindInfo``
(names, scope, printer columns, status and scale subresources). Never does I/O; the
``crdgen`` command writes the result, ``install`` applies it.
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from typing import Any

import attrs

from fluid.api import fields
from fluid.api.constants import GROUP, VERSION
from fluid.api.kinds import KindInfo

__all__ = ["crd", "model_schema", "type_schema"]

_PRESERVE: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_ENVELOPE_DOCS = {
    "apiVersion": "The versioned schema of this representation of an object.",
    "kind": "The REST resource this object represents.",
}


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _annotated_schema(base: Any, markers: tuple[Any, ...]) -> dict[str, Any]:
    if fields.QUANTITY in markers:
        return {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": fields.QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": True,
        }
    if fields.INT_OR_STRING in markers:
        return {"anyOf": [{"type": "integer"}, {"type": "string"}],
                "x-kubernetes-int-or-string": True}
    if fields.DATE_TIME in markers:
        return {"type": "string", "format": "date-time"}
    if fields.INT64 in markers:
        return {"type": "integer", "format": "int64"}
    return type_schema(base)


def type_schema(tp: Any, *, enum_values: bool = True) -> dict[str, Any]:
    """The schema of a Python type as the models use it."""
    tp = _strip_optional(tp)
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *markers = typing.get_args(tp)
        return _annotated_schema(base, tuple(markers))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        schema: dict[str, Any] = {"type": "string"}
        if enum_values:
            schema["enum"] = [member.value for member in tp]
        return schema
    simple = {str: ("string", None), bool: ("boolean", None), int: ("integer", "int32"),
              float: ("number", None)}
    if tp in simple:
        kind, fmt = simple[tp]
        return {"type": kind, "format": fmt} if fmt else {"type": kind}
    if origin is list:
        (item,) = typing.get_args(tp)
        return {"type": "array", "items": type_schema(item)}
    if origin is dict:
        _, value = typing.get_args(tp)
        if value is Any:
            return dict(_PRESERVE)
        return {"type": "object", "additionalProperties": type_schema(value)}
    if attrs.has(tp):
        return model_schema(tp)
    raise TypeError(f"no schema for type {tp!r}")


def _description(cls: type) -> str:
    """The first paragraph of a class's own docstring (never an inherited one)."""
    doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
    return " ".join(doc.split("\n\n", 1)[0].split())


def _field_schema(attribute: attrs.Attribute[Any], hints: dict[str, Any]) -> dict[str, Any]:
    meta = fields.info(attribute)
    schema = type_schema(hints[attribute.name], enum_values=meta.enum_in_schema)
    schema.update(meta.schema)
    tp = _strip_optional(hints[attribute.name])
    doc = meta.doc or (_description(tp) if attrs.has(tp) else "")
    if doc:
        schema = {"description": doc, **schema}
    return schema


def model_schema(cls: type) -> dict[str, Any]:
    """The object schema of an attrs model: properties by wire name, required fields."""
    hints = typing.get_type_hints(cls, include_extras=True)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for attribute in attrs.fields(cls):
        name = fields.json_name(attribute)
        properties[name] = _field_schema(attribute, hints)
        if attribute.default is attrs.NOTHING:
            required.append(name)
    schema: dict[str, Any] = {"type": "object"}
    if properties:
        schema["properties"] = dict(sorted(properties.items()))
    if required:
        schema["required"] = sorted(required)
    return schema


def _root_schema(info: KindInfo) -> dict[str, Any]:
    schema = model_schema(info.model)
    properties = schema["properties"]
    properties["metadata"] = {"type": "object"}
    for name, doc in _ENVELOPE_DOCS.items():
        properties[name] = {"description": doc, "type": "string"}
    return {"description": _description(info.model), **schema}


def crd(info: KindInfo) -> dict[str, Any]:
    """The CustomResourceDefinition of a kind."""
    names: dict[str, Any] = {
        "kind": info.kind,
        "listKind": f"{info.kind}List",
        "plural": info.plural,
        "singular": info.singular,
    }
    if info.short_names:
        names["shortNames"] = list(info.short_names)
    if info.categories:
        names["categories"] = list(info.categories)
    subresources: dict[str, Any] = {"status": {}}
    if info.scale is not None:
        subresources["scale"] = info.scale.to_crd()
    version: dict[str, Any] = {"name": VERSION, "served": True, "storage": True}
    if info.columns:
        version["additionalPrinterColumns"] = [c.to_crd() for c in info.columns]
    version["schema"] = {"openAPIV3Schema": _root_schema(info)}
    version["subresources"] = subresources
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": info.crd_name},
        "spec": {
            "group": GROUP,
            "names": names,
            "scope": "Namespaced" if info.namespaced else "Cluster",
            "versions": [version],
        },
    }
