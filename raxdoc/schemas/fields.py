"""Walk a pydantic model's fields into a small, closed set of field kinds.

One source of truth: the JSON Schema (`jsonschema.py`), the Arrow schema
(`arrow.py`) and the normaliser (`raxdoc.postprocess`) all read a schema through
`model_fields_of` rather than through pydantic's own JSON Schema, so a custom
model is handled exactly like `Invoice`. Unsupported annotations raise
`SchemaError` here, once, instead of failing later in Parquet writing.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from decimal import Decimal

from pydantic import BaseModel

from raxdoc.schemas.types import CURRENCY, INTERNAL


class SchemaError(ValueError):
    """A schema spec or model that raxdoc cannot use (bad import path, no item list, odd types)."""


@dataclass(frozen=True)
class FieldKind:
    """What one field holds, after unwrapping Optional / Annotated."""

    kind: str  # decimal | date | currency | string | integer | number | boolean | object | list
    nullable: bool  # None allowed
    internal: bool = False  # set by raxdoc, not written by the model
    model: type[BaseModel] | None = None  # for kind == "object"
    item: "FieldKind | None" = None  # for kind == "list"
    description: str | None = None


_SCALARS = {
    Decimal: "decimal",
    dt.date: "date",
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
}


def _unwrap(annotation: object, metadata: list) -> tuple[object, bool, list]:
    """Strip Annotated and Optional layers; return (core type, nullable, metadata)."""
    nullable = False
    meta = list(metadata)
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            args = typing.get_args(annotation)
            annotation, meta = args[0], meta + list(args[1:])
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                raise SchemaError(f"unions other than Optional[X] are not supported: {annotation!r}")
            nullable = True
            annotation = args[0]
        else:
            return annotation, nullable, meta


def kind_of(annotation: object, metadata: list | None = None, *, name: str = "",
            description: str | None = None) -> FieldKind:
    """Classify one annotation; `name` lets a plain `currency: str` count as a currency."""
    core, nullable, meta = _unwrap(annotation, metadata or [])
    internal = INTERNAL in meta
    if core is dt.datetime:
        raise SchemaError(f"field {name!r}: use datetime.date, datetimes are not invoice data")
    if core in _SCALARS:
        kind = _SCALARS[core]
        if kind == "string" and (CURRENCY in meta or name == "currency"):
            kind = "currency"
        return FieldKind(kind, nullable, internal, description=description)
    if typing.get_origin(core) is typing.Literal or (isinstance(core, type) and issubclass(core, enum.Enum)):
        return FieldKind("string", nullable, internal, description=description)
    if isinstance(core, type) and issubclass(core, BaseModel):
        return FieldKind("object", nullable, internal, model=core, description=description)
    if typing.get_origin(core) in (list, tuple) or core in (list, tuple):
        args = typing.get_args(core)
        if typing.get_origin(core) is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            raise SchemaError(f"field {name!r}: fixed-length tuples are not supported")
        if not args:
            raise SchemaError(f"field {name!r}: list needs an element type")
        item = kind_of(args[0], name=name)
        return FieldKind("list", nullable, internal, item=item, description=description)
    raise SchemaError(f"field {name!r}: unsupported type {core!r}")


@functools.cache
def model_fields_of(model: type[BaseModel]) -> Mapping[str, FieldKind]:
    """Every field of `model` in declaration order, classified (cached; read-only)."""
    out: dict[str, FieldKind] = {}
    for name, info in model.model_fields.items():
        out[name] = kind_of(info.annotation, list(info.metadata), name=name,
                            description=info.description)
    return MappingProxyType(out)


def items_field(model: type[BaseModel]) -> str:
    """Name of the list-of-objects field that holds the line items.

    A model may name it with a `raxdoc_items_field` ClassVar; otherwise it must
    have exactly one list-of-model field.
    """
    fields = model_fields_of(model)
    named = getattr(model, "raxdoc_items_field", None)
    candidates = [n for n, k in fields.items()
                  if k.kind == "list" and k.item is not None and k.item.kind == "object"]
    if named is not None:
        if named not in candidates:
            raise SchemaError(f"{model.__name__}.raxdoc_items_field={named!r} is not a list of models")
        return named
    if len(candidates) != 1:
        raise SchemaError(
            f"{model.__name__} needs exactly one list-of-model field for line items "
            f"(found {candidates or 'none'}); set raxdoc_items_field to choose")
    return candidates[0]


def item_model(model: type[BaseModel]) -> type[BaseModel]:
    """The pydantic model of one line item."""
    kind = model_fields_of(model)[items_field(model)]
    assert kind.item is not None and kind.item.model is not None
    return kind.item.model
