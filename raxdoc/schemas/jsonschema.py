"""JSON Schema for the model's per-page output, derived from the pydantic fields.

Used twice: compact in the prompt, and as the grammar for constrained decoding
(llguidance / xgrammar). So it stays in the plain subset both accept: `type`
(with `"null"` in a type list for optional fields), `properties`, `required`,
`items`, `additionalProperties: false`; no `format`, `$ref`, `anyOf` or
patterns.

Decision: money, quantities and dates are JSON *strings* holding what the page
shows ("1.234,56", "05/03/2024"). A 2B model copying characters is reliable;
asking it to convert locales inside the grammar is where it fails, and the
conversion is deterministic code (`raxdoc.postprocess`) that we can test.
Validation still accepts JSON numbers for these fields (unconstrained output).
"""

from __future__ import annotations

from pydantic import BaseModel

from raxdoc.schemas.fields import FieldKind, items_field, model_fields_of

_JSON_TYPE = {
    "decimal": "string",  # as printed; normalised later
    "date": "string",  # as printed; normalised later
    "currency": "string",  # symbol, code or name as printed
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
}


def _kind_schema(kind: FieldKind, descriptions: bool, nullable: bool) -> dict:
    if kind.kind == "object":
        assert kind.model is not None
        out = _object_schema(kind.model, descriptions, nullable, required=())
    elif kind.kind == "list":
        assert kind.item is not None
        out = {"type": "array", "items": _kind_schema(kind.item, descriptions, nullable)}
    else:
        out = {"type": _JSON_TYPE[kind.kind]}
    if kind.nullable and nullable:
        out["type"] = [out["type"], "null"]
    if descriptions and kind.description:
        out["description"] = kind.description
    return out


def _object_schema(model: type[BaseModel], descriptions: bool, nullable: bool,
                   required: tuple[str, ...]) -> dict:
    props = {name: _kind_schema(kind, descriptions, nullable)
             for name, kind in model_fields_of(model).items() if not kind.internal}
    out: dict = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    out["additionalProperties"] = False
    return out


def page_json_schema(model: type[BaseModel], *, descriptions: bool = False, nullable: bool = True) -> dict:
    """The schema of one page's output: every header field optional, the item list required.

    `nullable=False` leaves out the `"null"` alternatives (shorter, for the prompt).
    """
    return _object_schema(model, descriptions, nullable, required=(items_field(model),))
