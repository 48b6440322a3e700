import json

import llguidance
import pyarrow as pa
import pytest

from raxdoc.schemas import (
    DECIMAL_TYPE, Invoice, LineItem, SchemaError, check_schema, documents_arrow_schema, items_field,
    line_items_arrow_schema, load_schema, page_json_schema,
)
from tests.schemas.sample_schema import Receipt

_ALLOWED_KEYS = {"type", "properties", "required", "items", "additionalProperties", "description"}


def _walk_keys(node, seen):
    if isinstance(node, dict):
        seen.update(node)
        for key, value in node.items():
            if key == "properties":
                for sub in value.values():
                    _walk_keys(sub, seen)
            elif isinstance(value, dict):
                _walk_keys(value, seen)


def _grammar_error(schema: dict) -> str:
    return llguidance.LLMatcher.validate_grammar(llguidance.grammar_from("json_schema", json.dumps(schema)))


def test_invoice_models_accept_empty_and_default_items():
    inv = Invoice()
    assert inv.line_items == [] and inv.total is None
    assert Invoice(line_items=[LineItem(amount="1.50")]).line_items[0].amount.as_tuple().exponent == -2


@pytest.mark.parametrize("schema", [Invoice, Receipt])
@pytest.mark.parametrize("descriptions", [False, True])
def test_json_schema_is_plain_and_llguidance_accepts_it(schema, descriptions):
    spec = page_json_schema(schema, descriptions=descriptions)
    seen: set = set()
    _walk_keys(spec, seen)
    assert seen <= _ALLOWED_KEYS, seen - _ALLOWED_KEYS  # no format, $ref, anyOf, pattern
    assert spec["required"] == [items_field(schema)]
    assert _grammar_error(spec) == ""


def test_json_schema_types_money_as_string_and_hides_internal_fields():
    spec = page_json_schema(Invoice)
    item = spec["properties"]["line_items"]["items"]["properties"]
    assert "page_index" not in item
    assert item["amount"]["type"] == ["string", "null"]
    assert spec["properties"]["issue_date"]["type"] == ["string", "null"]
    assert spec["properties"]["line_items"]["type"] == "array"  # the list itself is never null
    assert page_json_schema(Receipt)["properties"]["lines"]["items"]["properties"]["qty"]["type"] == [
        "integer", "null"]


def test_bad_grammar_is_reported_by_llguidance():
    # Guards the test above: validate_grammar must actually reject something.
    assert _grammar_error({"type": "object", "properties": {"a": {"type": "nonsense"}}}) != ""


def test_arrow_schemas_follow_the_model():
    docs = documents_arrow_schema(Invoice)
    assert docs.field("total").type == DECIMAL_TYPE
    assert docs.field("issue_date").type == pa.date32()
    item = docs.field("line_items").type.value_type
    assert [item.field(i).name for i in range(3)] == ["page_index", "item_index", "description"]
    assert item.field("amount").type == DECIMAL_TYPE
    assert docs.field("tax_breakdown").type.value_type.field("rate").type == DECIMAL_TYPE
    rows = line_items_arrow_schema(Invoice)
    assert rows.names[:3] == ["doc_id", "page_index", "item_index"]
    assert rows.names.count("page_index") == 1


def test_custom_schema_arrow_and_prompt_columns():
    schema = load_schema("tests.schemas.sample_schema:Receipt")
    assert schema is Receipt
    docs = documents_arrow_schema(schema)
    assert "store" in docs.names and "lines" in docs.names and "line_items" not in docs.names
    assert docs.field("lines").type.value_type.field("qty").type == pa.int64()
    assert line_items_arrow_schema(schema).names == [
        "doc_id", "page_index", "item_index", "name", "qty", "price", "amount", "check_amount",
        "bbox", "grounded", "unverified_fields"]


@pytest.mark.parametrize("spec, match", [
    ("no_colon_here", "module:Class"),
    ("tests.schemas.no_such_module:X", "cannot import"),
    ("tests.schemas.sample_schema:Missing", "no attribute"),
    ("tests.schemas.sample_schema:NOT_A_MODEL", "not a pydantic"),
    ("tests.schemas.sample_schema:NoList", "exactly one list"),
    ("tests.schemas.sample_schema:TwoLists", "exactly one list"),
    ("tests.schemas.sample_schema:OddType", "datetime"),
    (":Receipt", "module:Class"),
])
def test_bad_schema_specs_raise_schema_error(spec, match):
    with pytest.raises(SchemaError, match=match):
        load_schema(spec)


def test_column_clash_is_a_schema_error():
    from tests.schemas.sample_schema import Clash
    check_schema(Clash)  # the model itself is fine...
    with pytest.raises(SchemaError, match="clash"):
        documents_arrow_schema(Clash)  # ...but "status" is one of raxdoc's columns


def test_schema_error_is_a_value_error():
    assert issubclass(SchemaError, ValueError)
