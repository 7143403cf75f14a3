"""The one cattrs Converter between raw API dicts and the attrs models of ``fluid.api``.

Owns wire names (camelCase and Fluid's irregular names), strict primitive checks (a
string never silently becomes an int, a scalar never becomes a list), omission of unset
fields, and error messages that name the offending field the way the API server does
(``spec.mounts[1].path: ...``). Never does I/O. Called by controllers (to read the spec
they need), the webhook (validation) and tests.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from fluid.api import fields

__all__ = ["FieldError", "StructureError", "converter", "field_errors", "structure", "unstructure"]

T = TypeVar("T")


@attrs.frozen
class FieldError:
    """One problem with one field, e.g. ``spec.mounts[1].path`` + ``expected string``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class StructureError(ValueError):
    """A dict that does not fit its model; ``errors`` name each offending field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


# -- strict primitives -----------------------------------------------------------------------

_JSON_TYPE = {str: "string", int: "integer", bool: "boolean", float: "number"}


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return _JSON_TYPE.get(type(value), type(value).__name__)


def _expect(kind: type, value: Any) -> Any:
    ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        raise TypeError(f"expected {_JSON_TYPE[kind]}, got {_type_name(value)}")
    return value


def _int_or_string(value: Any, _: Any) -> int | str:
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise TypeError(f"expected integer or string, got {_type_name(value)}")


def _raw_object(value: Any, _: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"expected object, got {_type_name(value)}")
    return value


def _structure_enum(value: Any, cls: type[enum.Enum]) -> enum.Enum:
    try:
        return cls(_expect(str, value))
    except ValueError:
        allowed = ", ".join(f'"{m.value}"' for m in cls)
        raise ValueError(f"unsupported value {value!r}: supported values: {allowed}") from None


def _is_int_or_string(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, type(int | str)) and set(
        typing.get_args(tp)
    ) == {int, str}


def _is_raw_object(tp: Any) -> bool:
    return typing.get_origin(tp) is dict and typing.get_args(tp) == (str, Any)


# -- containers ------------------------------------------------------------------------------


def _list_hook(conv: cattrs.Converter, tp: Any) -> Callable[[Any, Any], list[Any]]:
    (item_type,) = typing.get_args(tp)
    handler = conv.get_structure_hook(item_type)

    def structure_list(value: Any, _: Any) -> list[Any]:
        if not isinstance(value, list):
            raise TypeError(f"expected array, got {_type_name(value)}")
        out: list[Any] = []
        errors: list[Exception] = []
        for index, item in enumerate(value):
            try:
                out.append(handler(item, item_type))
            except Exception as exc:  # collected, re-raised as a group
                exc.add_note(IterableValidationNote(f"index {index}", index, item_type))
                errors.append(exc)
        if errors:
            raise IterableValidationError("invalid items", errors, tp)
        return out

    return structure_list


def _map_hook(conv: cattrs.Converter, tp: Any) -> Callable[[Any, Any], dict[str, Any]]:
    _, value_type = typing.get_args(tp)
    handler = conv.get_structure_hook(value_type)

    def structure_map(value: Any, _: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise TypeError(f"expected object, got {_type_name(value)}")
        out: dict[str, Any] = {}
        errors: list[Exception] = []
        for key, item in value.items():
            try:
                out[_expect(str, key)] = handler(item, value_type)
            except Exception as exc:  # collected, re-raised as a group
                exc.add_note(IterableValidationNote(f"key {key}", key, value_type))
                errors.append(exc)
        if errors:
            raise IterableValidationError("invalid values", errors, tp)
        return out

    return structure_map


def _is_list(tp: Any) -> bool:
    return typing.get_origin(tp) is list


def _is_typed_map(tp: Any) -> bool:
    return typing.get_origin(tp) is dict and not _is_raw_object(tp)


# -- attrs classes ---------------------------------------------------------------------------


def _structure_factory(conv: cattrs.Converter, cls: type) -> Any:
    renames: dict[str, Any] = {
        a.name: override(rename=fields.json_name(a)) for a in attrs.fields(cls)
    }
    return make_dict_structure_fn(cls, conv, _cattrs_detailed_validation=True, **renames)


def _unstructure_factory(conv: cattrs.Converter, cls: type) -> Any:
    overrides: dict[str, Any] = {
        a.name: override(rename=fields.json_name(a), omit_if_default=a.default is None)
        for a in attrs.fields(cls)
    }
    return make_dict_unstructure_fn(cls, conv, **overrides)


def _build() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=True)
    # Class-based (singledispatch) hooks: cattrs consults these before predicate hooks, and
    # generated attrs structurers inline plain ``str(...)`` calls unless they are replaced.
    # StrEnum comes before ``str`` in a StrEnum's MRO, so enums get their own hook.
    for kind in (str, int, bool, float):
        conv.register_structure_hook(kind, lambda v, t: _expect(t, v))
    conv.register_structure_hook(enum.Enum, _structure_enum)
    conv.register_structure_hook(enum.StrEnum, _structure_enum)
    conv.register_structure_hook_func(_is_int_or_string, _int_or_string)
    conv.register_structure_hook_func(_is_raw_object, _raw_object)
    conv.register_unstructure_hook_func(_is_raw_object, lambda v: v)
    conv.register_structure_hook_factory(_is_list, lambda tp: _list_hook(conv, tp))
    conv.register_structure_hook_factory(_is_typed_map, lambda tp: _map_hook(conv, tp))
    conv.register_structure_hook_factory(attrs.has, lambda cls: _structure_factory(conv, cls))
    conv.register_unstructure_hook_factory(
        attrs.has, lambda cls: _unstructure_factory(conv, cls)
    )
    return conv


converter = _build()


# -- errors ----------------------------------------------------------------------------------


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return "Required value"
    return str(exc) or type(exc).__name__


def _attribute_path(cls: type, attribute_name: str) -> str:
    if attrs.has(cls):
        by_name = attrs.fields_dict(cls)
        if attribute_name in by_name:
            return fields.json_name(by_name[attribute_name])
    return attribute_name


def field_errors(exc: BaseException, path: str = "") -> list[FieldError]:
    """Flatten a cattrs validation error into one FieldError per offending field."""
    if isinstance(exc, ClassValidationError):
        found: list[FieldError] = []
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            name = _attribute_path(exc.cl, note.name)
            found.extend(field_errors(sub, f"{path}.{name}" if path else name))
        found.extend(FieldError(path or "<root>", _message(e)) for e in without)
        return found
    if isinstance(exc, IterableValidationError):
        found = []
        for sub in exc.exceptions:
            note = _note(sub)
            found.extend(field_errors(sub, f"{path}[{note}]" if note is not None else path))
        return found
    return [FieldError(path or "<root>", _message(exc))]


def _note(exc: BaseException) -> Any:
    for note in getattr(exc, "__notes__", ()):
        if isinstance(note, IterableValidationNote):
            return note.index
        if isinstance(note, AttributeValidationNote):
            return None
    return None


def structure(data: Mapping[str, Any], cls: type[T], *, path: str = "") -> T:
    """Build a model from a raw dict; StructureError names every field that does not fit."""
    try:
        return converter.structure(data, cls)
    except (ClassValidationError, IterableValidationError, TypeError, ValueError) as exc:
        raise StructureError(field_errors(exc, path)) from exc


def unstructure(obj: Any) -> dict[str, Any]:
    """The raw dict of a model: wire names, unset fields left out, enums as strings."""
    result: dict[str, Any] = converter.unstructure(obj)
    return result
