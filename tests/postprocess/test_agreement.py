"""`compare_records`: how far a model's record agrees with an e-invoice's, value by value."""

from __future__ import annotations

from raxdoc.postprocess.agreement import MISMATCH, compare_records
from raxdoc.schemas.invoice import Invoice

EXACT = Invoice.model_validate({
    "invoice_number": "R-1", "issue_date": "2025-01-31", "vendor_name": "ACME GmbH", "iban": "DE89370400440532013000",
    "total": "119.00", "line_items": [
        {"description": "Widget", "quantity": "2", "unit": "H87", "unit_price": "10.00", "amount": "20.00"},
        {"description": "Service", "quantity": "1", "unit": "HUR", "unit_price": "80.00", "amount": "80.00"},
    ],
})


def _model(**changes) -> Invoice:
    return Invoice.model_validate({**EXACT.model_dump(mode="json"), **changes})


def test_equal_values_in_other_forms_all_agree():
    """Decimals numerically, strings normalised, IBAN spaces, items in another order, units not compared."""
    items = [{"description": "service ", "quantity": 1, "unit": "h", "unit_price": "80", "amount": "80.0"},
             {"description": "WIDGET", "quantity": "2.00", "unit": "pcs", "unit_price": "10", "amount": "20"}]
    got = compare_records(EXACT, _model(vendor_name="acme  gmbh", iban="DE89 3704 0044 0532 0130 00",
                                        total="119", line_items=items))
    assert got.issues == ()
    # 5 header values + 4 per item (unit is not compared).
    assert got.agreed == got.compared == 5 + 2 * 4 and got.share == 1.0


def test_each_disagreement_is_an_issue_with_both_values():
    items = [{"description": "Widget", "quantity": "2", "unit_price": "10.00", "amount": "21.00"}]
    got = compare_records(EXACT, _model(issue_date="2025-01-30", total=None, line_items=items,
                                        customer_name="Someone"))  # the XML has no customer: not compared
    by_field = {i.field: i.message for i in got.issues}
    assert {i.kind for i in got.issues} == {MISMATCH}
    assert set(by_field) == {"issue_date", "total", "line_items[0]", "line_items[1]"}
    assert "'2025-01-30'" in by_field["issue_date"] and "'2025-01-31'" in by_field["issue_date"]
    assert "nothing" in by_field["total"] and "'119.00'" in by_field["total"]
    assert "amount '21.00' (e-invoice '20.00')" in by_field["line_items[0]"]
    assert "no item matching" in by_field["line_items[1]"] and "Service" in by_field["line_items[1]"]
    assert got.compared == 5 + 2 * 4
    assert got.agreed == 3 + 3  # header: number, vendor, iban; item 0: all but amount
    assert got.share == 6 / 13


def test_an_invented_item_counts_against_the_model():
    items = [*EXACT.model_dump(mode="json")["line_items"], {"description": "Freight", "amount": "5.00"}]
    got = compare_records(EXACT, _model(line_items=items))
    (issue,) = got.issues
    assert issue.field == "line_items" and "Freight" in issue.message and "not in the e-invoice" in issue.message
    assert (got.agreed, got.compared) == (13, 15)


def test_a_credit_note_compares_by_magnitude():
    model = _model(total="-119.00")
    assert compare_records(EXACT, model, credit_note=True).issues == ()
    assert [i.field for i in compare_records(EXACT, model).issues] == ["total"]


def test_nothing_to_compare_has_no_share():
    # The XML states nothing: the model's header values are not compared, its items are invented.
    got = compare_records(Invoice(), _model())
    assert (got.agreed, got.compared, got.share) == (0, 2 * 4, 0.0)
    assert compare_records(Invoice(), Invoice()).share is None
