"""Load a user's schema from a "module:Class" spec (the CLI's --schema); `resolve_schema` is the
one place a run turns its `schema` argument (None, a spec or a class) into the model it uses.

The class must be a pydantic model with one list-of-model field (or name it via
`raxdoc_items_field`); every field type must be one raxdoc can put in JSON
Schema and Arrow. All of this is checked here, up front, so a bad schema fails
before any page is read. It does not add the module's directory to sys.path.
"""

from __future__ import annotations

import importlib

from pydantic import BaseModel

from raxdoc.schemas.arrow import model_arrow_fields
from raxdoc.schemas.fields import SchemaError, items_field, model_fields_of
from raxdoc.schemas.invoice import Invoice


def check_schema(schema_cls: object) -> type[BaseModel]:
    """Raise SchemaError unless `schema_cls` is a usable pydantic schema; return it."""
    if not (isinstance(schema_cls, type) and issubclass(schema_cls, BaseModel)):
        raise SchemaError(f"{schema_cls!r} is not a pydantic BaseModel subclass")
    model_fields_of(schema_cls)  # every type supported
    items_field(schema_cls)  # exactly one item list
    model_arrow_fields(schema_cls)  # every type has an Arrow type
    return schema_cls


def load_schema(spec: str) -> type[BaseModel]:
    """Import "package.module:ClassName" and check it (SchemaError on any problem)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise SchemaError(f"schema spec must look like 'module:Class', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # a user's module may raise anything at import: one clear line, not a traceback
        raise SchemaError(f"cannot import schema module {module_name!r}: {type(exc).__name__}: {exc}") from exc
    obj: object = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise SchemaError(f"{module_name!r} has no attribute {attr!r}") from exc
    return check_schema(obj)


def resolve_schema(schema: str | type[BaseModel] | None) -> type[BaseModel]:
    """The schema a run extracts into: `Invoice` for None, else the given class or spec, checked.

    The driver and every engine actor call this with the same argument (actors get the spec, which
    each imports itself), so they cannot disagree about the default.
    """
    if schema is None:
        return Invoice
    return load_schema(schema) if isinstance(schema, str) else check_schema(schema)
