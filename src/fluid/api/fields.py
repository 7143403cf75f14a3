"""How API models declare their fields: JSON names, docs, schema hints, and special types.

Owns the vocabulary the model modules (dataset.py, the runtimes, dataops.py) use to
describe a field once, so that ``converter`` (cattrs renames) and ``schema`` (OpenAPI)
read the same declaration. Never imports a model module and never does I/O.

Conventions every model follows:
- every model is ``@attrs.frozen(kw_only=True)``;
- optional fields default to ``None`` and are omitted when unstructured, so a manifest
  read into a model and written back is the same dict (nothing invented, nothing lost);
- required fields have no default;
- Kubernetes types Fluid only passes through (affinity, tolerations, resources, volumes,
  probes, pod specs...) are ``Embedded`` raw dicts and never modelled field by field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import attrs

__all__ = [
    "DATE_TIME",
    "INT64",
    "INT_OR_STRING",
    "QUANTITY",
    "QUANTITY_PATTERN",
    "Embedded",
    "FieldInfo",
    "Int64",
    "IntOrString",
    "Quantity",
    "Time",
    "field",
    "info",
    "json_name",
]


@attrs.frozen
class _Marker:
    """A tag carried in ``Annotated[...]`` to tell the schema generator what a type means."""

    name: str


QUANTITY = _Marker("quantity")
INT_OR_STRING = _Marker("int-or-string")
DATE_TIME = _Marker("date-time")
INT64 = _Marker("int64")

QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
"""A Kubernetes resource quantity such as ``2Gi``, ``500m`` or ``1e3``."""

Quantity = Annotated[int | str, QUANTITY]
"""A resource quantity, kept exactly as written (``2Gi`` stays a string, ``2`` an int)."""
IntOrString = Annotated[int | str, INT_OR_STRING]
Time = Annotated[str, DATE_TIME]
"""An RFC 3339 timestamp kept as the API server wrote it."""
Int64 = Annotated[int, INT64]
"""An integer the API declares as int64 (plain ``int`` fields are int32)."""
Embedded = dict[str, Any]
"""A Kubernetes object Fluid passes through without modelling it (schema: preserve fields)."""


@attrs.frozen
class FieldInfo:
    """What a field declares beyond its Python type."""

    json: str | None = None
    doc: str = ""
    schema: Mapping[str, Any] = attrs.field(factory=dict)
    enum_in_schema: bool = True


_KEY = "fluid.api"


def field(
    *,
    json: str | None = None,
    doc: str = "",
    required: bool = False,
    default: Any = None,
    schema: Mapping[str, Any] | None = None,
    enum_in_schema: bool = True,
) -> Any:
    """Declare a model field.

    ``json`` overrides the camelCase wire name (for Fluid's few irregular names such as
    ``mediumtype`` or ``networkmode``); ``schema`` adds OpenAPI keywords (``minimum``,
    ``default``, ``minLength``...); ``enum_in_schema=False`` keeps a StrEnum-typed field
    an open string in the CRD (status phases, which only controllers write).
    """
    meta = {_KEY: FieldInfo(json, doc, dict(schema or {}), enum_in_schema)}
    if required:
        return attrs.field(metadata=meta)
    return attrs.field(default=default, metadata=meta)


def info(attribute: attrs.Attribute[Any]) -> FieldInfo:
    """The FieldInfo of an attribute (an empty one for fields declared without ``field``)."""
    found = attribute.metadata.get(_KEY)
    return found if isinstance(found, FieldInfo) else FieldInfo()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def json_name(attribute: attrs.Attribute[Any]) -> str:
    """The wire name of an attribute: its declared ``json`` name, else camelCase."""
    return info(attribute).json or _camel(attribute.name)
