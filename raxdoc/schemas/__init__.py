"""Schemas: the pydantic models raxdoc extracts into, and everything derived from them.

`Invoice` / `LineItem` are built in; `load_schema("module:Class")` loads a user's
model. From either, `page_json_schema` (prompt + grammar), the Arrow schemas and
the Parquet rows are derived by walking the model's fields (`fields.py`), so the
pydantic model is the single source of truth. No parsing or normalisation here.
"""

from raxdoc.schemas.arrow import DECIMAL_TYPE, arrow_type, model_arrow_fields
from raxdoc.schemas.custom import check_schema, load_schema
from raxdoc.schemas.fields import FieldKind, SchemaError, item_model, items_field, model_fields_of
from raxdoc.schemas.invoice import Invoice, LineItem, TaxBreakdown
from raxdoc.schemas.jsonschema import page_json_schema
from raxdoc.schemas.records import (
    ERROR, FAILURE_KINDS, OK, PARTIAL, Checks, DocumentRecord, Issue, PageResult, ParseFailure,
)
from raxdoc.schemas.rows import (
    document_row, documents_arrow_schema, error_row, line_item_rows, line_items_arrow_schema, to_table,
)
from raxdoc.schemas.types import CURRENCY, DECIMAL_PRECISION, DECIMAL_SCALE, INTERNAL, CurrencyCode

__all__ = [
    "CURRENCY", "DECIMAL_PRECISION", "DECIMAL_SCALE", "DECIMAL_TYPE", "ERROR", "FAILURE_KINDS",
    "INTERNAL", "OK", "PARTIAL", "Checks", "CurrencyCode", "DocumentRecord", "FieldKind", "Invoice",
    "Issue", "LineItem", "PageResult", "ParseFailure", "SchemaError", "TaxBreakdown", "arrow_type",
    "check_schema", "document_row", "documents_arrow_schema", "error_row", "item_model", "items_field",
    "line_item_rows", "line_items_arrow_schema", "load_schema", "model_arrow_fields",
    "model_fields_of", "page_json_schema", "to_table",
]
