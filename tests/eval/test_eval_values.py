"""eval's equality rules: decimals numerically, dates exactly, strings normalised, labels checked."""

import datetime as dt
from decimal import Decimal

import pytest

from raxdoc.eval.values import BadLabel, document_keys, normalise_text, predicted_key, truth_key
from raxdoc.schemas import Invoice
from raxdoc.schemas.fields import FieldKind

DECIMAL, DATE, STRING, INTEGER = FieldKind("decimal", True), FieldKind("date", True), FieldKind("string", True), \
    FieldKind("integer", True)


@pytest.mark.parametrize("label", ["1234.50", "1234.5", 1234.5, Decimal("1234.50"), " 1234.500 "])
def test_decimals_compare_numerically(label):
    assert truth_key(label, DECIMAL) == predicted_key(Decimal("1234.500000"), DECIMAL)


def test_a_cent_off_is_not_equal_and_floats_are_read_as_printed():
    assert truth_key("1234.51", DECIMAL) != predicted_key(Decimal("1234.500000"), DECIMAL)
    assert truth_key(0.1, DECIMAL) == Decimal("0.1")  # not 0.1000000000000000055...
    assert truth_key(-12, DECIMAL) == Decimal("-12.00")


def test_dates_compare_exactly():
    assert truth_key("2025-05-08", DATE) == predicted_key(dt.date(2025, 5, 8), DATE)
    assert truth_key("2025-08-05", DATE) != predicted_key(dt.date(2025, 5, 8), DATE)


def test_strings_are_nfkc_casefolded_and_whitespace_collapsed():
    assert normalise_text("  ACME\tGmbH \n") == "acme gmbh"
    assert normalise_text("Straße") == normalise_text("STRASSE")  # casefold, not lower
    assert normalise_text("ｆｉｌｅ №5") == "file no5"  # NFKC: full-width letters, the numero sign
    assert truth_key("Widget A", STRING) != truth_key("Widget", STRING)  # no fuzziness
    assert truth_key("   ", STRING) is None  # empty counts as no value
    assert truth_key(1042, STRING) == "1042"  # a code labelled as a JSON number


def test_integers_accept_whole_numbers_only():
    assert truth_key("3", INTEGER) == truth_key(Decimal("3.0"), INTEGER) == 3
    with pytest.raises(BadLabel):
        truth_key("3.5", INTEGER)


@pytest.mark.parametrize("kind,label", [(DECIMAL, "1,250"), (DECIMAL, "NaN"), (DECIMAL, True), (DATE, "08/05/2025"),
                                        (DATE, 20250508), (STRING, ["a"]), (STRING, False), (DECIMAL, "12 13"),
                                        (DATE, "2025-02-30")])
def test_labels_that_do_not_fit_their_kind_are_errors(kind, label):
    with pytest.raises(BadLabel):
        truth_key(label, kind)


def test_document_keys_check_labels_but_not_output_rows():
    keys = document_keys({"total": "10", "line_items": [{"amount": 5}, {}]}, Invoice, strict=True)
    assert keys.header["total"] == Decimal(10) and keys.header["invoice_number"] is None
    assert keys.lists["line_items"] == [{**{f: None for f in keys.lists["line_items"][0]}, "amount": Decimal(5)}]
    assert "page_index" not in keys.lists["line_items"][0]  # raxdoc's bookkeeping is not scored
    with pytest.raises(BadLabel, match="totl"):
        document_keys({"totl": "10"}, Invoice, strict=True)
    with pytest.raises(BadLabel, match=r"line_items\[1\].*'amount'"):
        document_keys({"line_items": [{"amount": 1}, {"amount": "x"}]}, Invoice, strict=True)
    row = document_keys({"total": Decimal("10.000000"), "status": "ok", "confidence": 0.5}, Invoice, strict=False)
    assert row.header["total"] == Decimal(10)
