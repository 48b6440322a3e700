import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raxdoc.postprocess import parse_page_output
from raxdoc.schemas import FAILURE_KINDS, Invoice, PageResult
from tests.schemas.sample_schema import Receipt

FIXTURES = Path(__file__).parent / "fixtures"
D = Decimal


def parse(name: str, *, constrained: bool, **kw) -> PageResult:
    return parse_page_output((FIXTURES / f"{name}.txt").read_text(), Invoice, constrained=constrained, **kw)


def kinds(result: PageResult) -> set[str]:
    return {i.kind for i in result.issues}


@pytest.mark.parametrize("constrained", [True, False])
def test_valid_german_page(constrained):
    r = parse("valid_de", constrained=constrained)
    assert r.ok and r.failure is None
    inv = r.record
    assert inv.invoice_number == "RE-2024-0815"
    assert (inv.issue_date, inv.due_date) == (dt.date(2024, 3, 13), dt.date(2024, 4, 2))
    assert (inv.currency, inv.subtotal, inv.tax_total, inv.total) == ("EUR", D("1234.56"), D("234.57"), D("1469.13"))
    assert inv.tax_breakdown[0].rate == D("19")
    assert [i.quantity for i in inv.line_items] == [D("1000"), D("8")]  # "1.000" read with the page's ","
    assert [str(i.unit_price) for i in inv.line_items] == ["0.12", "139.32"]
    assert not kinds(r)


@pytest.mark.parametrize("name, number", [
    ("think_block", "INV-7"), ("lone_close_think", "INV-9"), ("answer_then_open_think", "INV-12"),
    ("prose_fenced", "2024/113")])
@pytest.mark.parametrize("constrained", [True, False])
def test_reasoning_prose_and_fences_are_stripped(name, number, constrained):
    r = parse(name, constrained=constrained)
    assert r.ok, r.failure
    assert r.record.invoice_number == number
    assert "repaired_json" not in kinds(r)


def test_prose_fenced_values():
    inv = parse("prose_fenced", constrained=False).record
    assert inv.issue_date == dt.date(2024, 3, 5) and inv.currency == "USD"
    assert inv.line_items[0].amount == D("1500.00") and inv.line_items[0].unit_price == D("150.00")


def test_truncated_constrained_is_a_typed_failure_keeping_raw_text():
    r = parse("truncated", constrained=True)
    assert not r.ok and r.record is None
    assert r.failure.kind == "truncated"
    assert r.failure.raw_text == (FIXTURES / "truncated.txt").read_text()


def test_truncated_unconstrained_is_repaired_and_says_so():
    r = parse("truncated", constrained=False)
    assert r.ok and "repaired_json" in kinds(r)
    assert r.record.invoice_number == "T-1"
    assert r.record.line_items[0].amount == D("1.00")


def test_wrong_types_drop_fields_with_issues_not_the_page():
    r = parse("wrong_types", constrained=True)
    assert r.ok
    inv = r.record
    assert inv.invoice_number is None and inv.issue_date is None and inv.total is None and inv.subtotal is None
    assert [i.description for i in inv.line_items] == ["Thing", "Other"]
    assert inv.line_items[0].quantity is None and inv.line_items[1].amount == D("7.50")
    dropped = {i.field for i in r.issues if i.kind == "field_dropped"}
    assert {"invoice_number", "issue_date", "total", "subtotal", "line_items[0].quantity",
            "line_items[0].amount", "line_items[1]"} <= dropped
    assert any(i.kind == "unknown_field" and i.field == "line_items_count" for i in r.issues)


def test_unknown_item_keys_reported_once_per_pattern():
    items = [{"description": str(n), "total_price": "1.00"} for n in range(5)]
    r = parse_page_output(json.dumps({"line_items": items, "notes": "x"}), Invoice, constrained=True)
    unknown = sorted(i.field for i in r.issues if i.kind == "unknown_field")
    assert unknown == ["line_items[*].total_price", "notes"]


def test_all_nulls_is_an_empty_ok_page():
    r = parse("nulls", constrained=True)
    assert r.ok and r.record == Invoice()


def test_json_numbers_become_exact_decimals():
    inv = parse("json_numbers", constrained=False).record
    assert inv.invoice_number == "4711"
    assert inv.subtotal == D("1234.5") and str(inv.tax_total) == "234.56"
    assert inv.line_items[0].amount == D("1234.50")


def test_french_locale_numbers_and_currency_from_amounts():
    r = parse("locale_fr", constrained=True)
    inv = r.record
    assert inv.subtotal == D("1234.56") and inv.total == D("1481.47")
    assert inv.issue_date == dt.date(2024, 3, 5)  # 20/03 on the page proves day-first
    assert inv.currency == "EUR" and "currency_from_amounts" in kinds(r)


def test_us_dates_and_numbers_take_the_page_order():
    r = parse("us_dates", constrained=True)
    assert r.record.due_date == dt.date(2024, 4, 5)  # 03/13 proves month-first
    assert r.record.total == D("1234")  # "1,234.00" proves "." decimal
    assert "ambiguous_number" not in kinds(r)


def test_ambiguous_number_without_evidence_is_flagged():
    r = parse("ambiguous_number", constrained=True)
    assert r.record.total == D("1.234") and "ambiguous_number" in kinds(r)
    r = parse("ambiguous_number", constrained=True, locale="de_DE")
    assert r.record.total == D("1234") and "ambiguous_number" not in kinds(r)


@pytest.mark.parametrize("name, constrained, kind", [
    ("no_json", True, "no_json"), ("no_json", False, "no_json"),
    ("single_quotes", True, "invalid_json"),
    ("wrong_shape", True, "schema_mismatch"), ("wrong_shape", False, "schema_mismatch"),
    ("think_only", True, "empty"), ("think_only", False, "empty"),
    # An unclosed <think> is reasoning to the end of the text, JSON drafts inside it included.
    ("unclosed_think", True, "empty"), ("unclosed_think", False, "empty"),
    ("think_cut_by_budget", True, "empty"), ("think_cut_by_budget", False, "empty"),
])
def test_typed_failures(name, constrained, kind):
    r = parse(name, constrained=constrained, page_index=3)
    assert not r.ok and r.failure.kind == kind and r.page_index == 3
    assert r.failure.raw_text == (FIXTURES / f"{name}.txt").read_text()


def test_single_quotes_unconstrained_repaired():
    r = parse("single_quotes", constrained=False)
    assert r.ok and r.record.line_items[0].amount == D("3.00") and "repaired_json" in kinds(r)


def test_top_level_array_is_taken_as_items():
    r = parse("array_only", constrained=True)
    assert [i.amount for i in r.record.line_items] == [D("9.99"), D("1.01")]
    assert "wrapped_list" in kinds(r)


@pytest.mark.parametrize("text", ["[1, 2, 3]", '"just a string"', "42", '{"line_items": [], "x": 1} extra ['])
def test_non_object_json(text):
    r = parse_page_output(text, Invoice, constrained=True)
    assert isinstance(r, PageResult)
    if text.startswith("{"):
        assert r.ok  # trailing junk after a complete object is prose
    else:
        assert r.failure.kind in ("schema_mismatch", "no_json")


def test_custom_schema_required_field():
    ok = parse_page_output('{"store": "Kiosk", "purchased_on": "2024-01-02", "lines": [{"name": "Tea", "qty": 2, '
                           '"price": "1,50", "amount": "3,00"}]}', Receipt, constrained=True)
    assert ok.ok and ok.record.lines[0].amount == D("3.00") and ok.record.purchased_on == dt.date(2024, 1, 2)
    missing = parse_page_output('{"lines": []}', Receipt, constrained=True)
    assert missing.failure.kind == "schema_mismatch" and "store" in missing.failure.message
    bad_qty = parse_page_output('{"store": "K", "lines": [{"name": "Tea", "qty": "two"}]}', Receipt, constrained=True)
    assert bad_qty.ok and bad_qty.record.lines[0].qty is None
    assert any(i.field == "lines[0].qty" for i in bad_qty.issues)


@pytest.mark.parametrize("text, code", [("EUR (€)", "EUR"), ("in EUR", "EUR"), ("Euro", "EUR"), ("Taler", None)])
def test_currency_field_forms(text, code):
    r = parse_page_output(json.dumps({"currency": text, "line_items": []}), Invoice, constrained=True)
    assert r.record.currency == code
    assert any(i.field == "currency" for i in r.issues) is (code is None)


def test_oversized_decimal_is_dropped_not_rounded():
    r = parse_page_output('{"total": "0.0000001", "line_items": []}', Invoice, constrained=True)
    assert r.record.total is None and any(i.field == "total" for i in r.issues)


def _check(result: PageResult) -> None:
    assert isinstance(result, PageResult)
    assert result.ok == (result.failure is None) == (result.record is not None)
    if result.failure is not None:
        assert result.failure.kind in FAILURE_KINDS


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=300), constrained=st.booleans())
def test_never_raises_on_any_text(text, constrained):
    _check(parse_page_output(text, Invoice, constrained=constrained))


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.text(max_size=12), st.sampled_from(["1.234,56", "(12.00)", "13/03/2024", "€", "kr"]))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(
        ["invoice_number", "total", "issue_date", "currency", "line_items", "amount", "quantity", "x"]),
        inner, max_size=5)), max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(value=json_values, cut=st.integers(min_value=0, max_value=400), constrained=st.booleans(),
       wrap=st.sampled_from(["{}", "```json\n{}\n```", "<think>x</think>{}", "Here: {} ok"]))
def test_never_raises_on_json_like_text(value, cut, constrained, wrap):
    text = wrap.replace("{}", json.dumps(value)[: cut or None], 1)
    _check(parse_page_output(text, Invoice, constrained=constrained))


@pytest.mark.parametrize("name, valid", [
    ("valid_de", True), ("locale_fr", True), ("us_dates", True), ("ambiguous_number", True),
    ("json_numbers", False),  # JSON numbers for money: only unconstrained output can look like this
    ("wrong_types", False),
])
def test_fixtures_against_the_grammar_schema(name, valid):
    # The constrained-decoding grammar and the parser agree on what a well-formed page is.
    jsonschema = pytest.importorskip("jsonschema")
    from raxdoc.schemas import page_json_schema

    value = json.loads((FIXTURES / f"{name}.txt").read_text())
    errors = list(jsonschema.Draft202012Validator(page_json_schema(Invoice)).iter_errors(value))
    assert (not errors) is valid, errors[:1]
