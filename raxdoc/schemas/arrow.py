"""Arrow types for a schema's fields, derived from the pydantic model.

Decisions: decimals are `decimal128(18, 6)` (see `types.py`), not strings, so
sums in DuckDB / polars / pandas are exact and typed without a cast; every
reader we target (pyarrow, pandas as `decimal.Decimal` objects, polars Decimal,
DuckDB DECIMAL(18,6)) round-trips them exactly. Dates are `date32`. Nested
models become structs, lists become `list<...>`. Row building is in `rows.py`.
"""

from __future__ import annotations

import pyarrow as pa
from pydantic import BaseModel

from raxdoc.schemas.fields import FieldKind, model_fields_of
from raxdoc.schemas.types import DECIMAL_PRECISION, DECIMAL_SCALE

DECIMAL_TYPE = pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE)

_SCALAR = {
    "decimal": DECIMAL_TYPE,
    "date": pa.date32(),
    "currency": pa.string(),
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
}


def arrow_type(kind: FieldKind) -> pa.DataType:
    """The Arrow type of one classified field."""
    if kind.kind == "object":
        assert kind.model is not None
        return pa.struct(model_arrow_fields(kind.model))
    if kind.kind == "list":
        assert kind.item is not None
        return pa.list_(arrow_type(kind.item))
    return _SCALAR[kind.kind]


def model_arrow_fields(model: type[BaseModel], *, skip: tuple[str, ...] = ()) -> list[pa.Field]:
    """One nullable Arrow field per model field (internal ones included), in order."""
    return [pa.field(name, arrow_type(kind), nullable=True)
            for name, kind in model_fields_of(model).items() if name not in skip]
