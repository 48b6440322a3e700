"""Day/month order from all the evidence a document gives (issue 12, "Dates"): each kind alone, in
conflict, across pages, and end to end over generated invoices."""

import datetime as dt
import json

import pytest

from raxdoc.postprocess import parse_document
from raxdoc.postprocess.date_order import (
    DateEvidence, currency_order, date_evidence, issuer_order, named_order, resolve_date_order,
)
from raxdoc.postprocess.normalise import PageHints, document_hints, page_hints
from raxdoc.schemas import Invoice
from raxdoc.testing.invoices import generate_invoice
from raxdoc.testing.standin import read_pages

D = dt.date


def _page(**fields) -> str:
    return json.dumps({**fields, "line_items": fields.pop("line_items", [])})


def _doc(*pages: dict, locale: str | None = None):
    return parse_document([_page(**p) for p in pages], constrained=True, locale=locale)


def _ambiguous(doc) -> list:
    return [i for i in doc.issues if i.kind == "ambiguous_date"]


def test_the_issue_example_usd_month_name_and_dot_decimal_reads_august_fifth():
    doc = _doc({"issue_date": "Dec 26, 2025", "currency": "USD", "total": "1,234.56"},
               {"delivery_date": "8/5/25", "line_items": [{"description": "a", "amount": "1,234.56"}]})
    assert doc.record.delivery_date == D(2025, 8, 5)
    assert doc.record.issue_date == D(2025, 12, 26)
    assert not _ambiguous(doc)


@pytest.mark.parametrize("evidence, order", [
    ({"issue_date": "13/03/2024"}, "DMY"),  # a day > 12
    ({"issue_date": "03/13/2024"}, "MDY"),
    ({"issue_date": "Dec 26, 2025"}, "MDY"),  # month-name dates
    ({"issue_date": "26 Dec 2025"}, "DMY"),
    ({"issue_date": "26. Dezember 2025"}, "DMY"),
    ({"total": "1.234,56"}, "DMY"),  # number style
    ({"total": "1 234,56"}, "DMY"),
    ({"total": "1'234.50"}, "DMY"),
    ({"issue_date": "03.04.2024"}, "DMY"),  # dotted numeric date
    ({"vendor_tax_id": "12-3456789"}, "MDY"),  # issuer: US EIN
    ({"vendor_tax_id": "GB123456789"}, "DMY"),
    ({"iban": "DE89 3704 0044 0532 0130 00"}, "DMY"),
    ({"currency": "USD"}, "MDY"),  # currency
    ({"currency": "PHP"}, "MDY"),
    ({"currency": "EUR"}, "DMY"),
    ({"currency": "GBP"}, "DMY"),
    ({"currency": "CHF"}, "DMY"),
    ({"total": "$ 12.00"}, "MDY"),  # a currency written next to an amount
    ({"total": "12,00 €"}, "DMY"),
])
def test_each_kind_of_evidence_alone_settles_05_04(evidence, order):
    doc = _doc(evidence, {"due_date": "05/04/2024"})
    assert doc.record.due_date == (D(2024, 4, 5) if order == "DMY" else D(2024, 5, 4))
    assert not _ambiguous(doc)


@pytest.mark.parametrize("evidence", [
    {"issue_date": "2024-03-13"},  # ISO says nothing about the others
    {"total": "1,234.56"},  # en_US and en_GB both write it
    {"currency": "CAD"},  # Canada writes both orders
    {"currency": "JPY"},  # year-first countries
    {"vendor_tax_id": "HU12345678"},
    {"vendor_tax_id": "ABN 12 345 678 901"},  # not a country prefix
    {},
])
def test_no_evidence_keeps_todays_day_first_reading_and_flags_it(evidence):
    doc = _doc(evidence, {"due_date": "05/04/2024"})
    assert doc.record.due_date == D(2024, 4, 5)
    assert [i.field for i in _ambiguous(doc)] == ["due_date"]


def test_gbp_reads_08_05_2025_as_may_eighth():
    doc = _doc({"currency": "GBP", "issue_date": "08/05/2025", "total": "1,234.56"})
    assert doc.record.issue_date == D(2025, 5, 8)
    assert not _ambiguous(doc)


@pytest.mark.parametrize("stronger, weaker, order", [
    ({"due_date": "13/03/2024"}, {"issue_date": "Dec 26, 2025", "currency": "USD"}, "DMY"),
    ({"issue_date": "Dec 26, 2025"}, {"total": "1.234,56", "currency": "EUR"}, "MDY"),
    ({"total": "1.234,56"}, {"currency": "USD", "vendor_tax_id": "12-3456789"}, "DMY"),
    ({"issue_date": "05.04.2024"}, {"currency": "USD"}, "DMY"),
    ({"vendor_tax_id": "GB123456789"}, {"currency": "USD"}, "DMY"),  # a London firm billing in dollars
    ({"vendor_tax_id": "12-3456789"}, {"currency": "EUR"}, "MDY"),
])
def test_the_stronger_kind_wins_whatever_page_it_is_on(stronger, weaker, order):
    for pages in (({**stronger, **weaker}, {}), (stronger, weaker), (weaker, stronger)):
        doc = _doc(*pages, {"delivery_date": "08/05/2025"})
        assert doc.record.delivery_date == (D(2025, 5, 8) if order == "DMY" else D(2025, 8, 5)), pages


def test_currency_beats_the_locale_argument_which_comes_last():
    assert _doc({"currency": "USD", "due_date": "05/04/2024"}, locale="de_DE").record.due_date == D(2024, 5, 4)
    assert _doc({"due_date": "05/04/2024"}, locale="de_DE").record.due_date == D(2024, 4, 5)
    assert _doc({"due_date": "05/04/2024"}, locale="en_US").record.due_date == D(2024, 5, 4)


def test_a_pages_own_evidence_wins_only_against_the_same_kind():
    # Page 1's own month-name date beats page 0's: a second invoice scanned into the same file.
    doc = _doc({"issue_date": "Dec 26, 2025"}, {"issue_date": "26 Dec 2025", "due_date": "05/04/2024"})
    assert doc.record.due_date == D(2024, 4, 5)
    # Page 1's own currency does not beat page 0's day > 12.
    doc = _doc({"issue_date": "13/03/2024"}, {"currency": "USD", "due_date": "05/04/2024"})
    assert doc.record.due_date == D(2024, 4, 5)


def test_a_day_over_12_fixes_its_own_separator_the_others_follow_the_habit():
    doc = _doc({"issue_date": "13.03.2024", "due_date": "03/13/2024"},
               {"delivery_date": "05.04.2024", "line_items": [{"description": "a", "date": "04/05/2024"}]})
    assert doc.record.delivery_date == D(2024, 4, 5)  # dots: 13.03 proves day-first
    assert doc.record.line_items[0].date == D(2024, 4, 5)  # slashes: 03/13 proves month-first
    hints = document_hints([{"issue_date": "13.03.2024", "due_date": "03/13/2024"}], Invoice)
    assert dict(hints.date_orders) == {".": "DMY", "/": "MDY"}
    assert hints.order_for("05.04.2024") == "DMY" and hints.order_for("04/05/2024") == "MDY"


def test_hints_say_which_evidence_decided():
    value = {"issue_date": "Dec 26, 2025", "currency": "EUR"}
    assert page_hints(value, Invoice).date_order_from == "named"
    assert page_hints({"currency": "EUR"}, Invoice).date_order_from == "currency"
    assert page_hints({}, Invoice, locale="en_US").date_order_from == "locale"
    assert page_hints({}, Invoice).date_order is None
    # Hints built by hand, without their evidence, still act as the document's order.
    legacy = page_hints({}, Invoice, fallback=PageHints(None, "MDY"))
    assert (legacy.date_order, legacy.date_order_from) == ("MDY", "document")


@pytest.mark.parametrize("text, order", [
    ("Dec 26, 2025", "MDY"), ("December 26th, 2025", "MDY"), ("Friday, December 26, 2025", "MDY"),
    ("Sept 5, 2025", "MDY"), ("26 Dec 2025", "DMY"), ("26-Dec-2025", "DMY"), ("1er avril 2023", "DMY"),
    ("5 de marzo de 2024", "DMY"), ("26. Dezember 2025", "DMY"), ("Week 5 2025", None),
    ("05/04/2024", None), ("2025 Dec 26", None),
])
def test_named_order(text, order):
    assert named_order(text) == order


@pytest.mark.parametrize("text, order", [
    ("12-3456789", "MDY"), ("DE123456789", "DMY"), ("ATU12345678", "DMY"), ("CHE-123.456.789", "DMY"),
    ("EL123456789", "DMY"), ("DEUTDEFF", "DMY"), ("HU12345678", None), ("GST 1234567", None), ("n/a", None),
])
def test_issuer_order(text, order):
    assert issuer_order(text) == order


def test_currency_order_table():
    assert [currency_order(c) for c in ("USD", "PHP", "EUR", "GBP", "INR", "CAD", "JPY", "x")] == \
        ["MDY", "MDY", "DMY", "DMY", "DMY", None, None, None]


def test_ties_decide_nothing_and_fall_to_the_next_kind():
    tie = date_evidence(["13/03/2024", "03/13/2024"])
    assert resolve_date_order(tie).order is None
    assert resolve_date_order(tie + date_evidence(currencies=["USD"])).order == "MDY"
    assert resolve_date_order(DateEvidence(), locale="en_GB").source == "locale"


# Seeds where the currency is not the locale's and only ambiguous numeric dates are printed
# (en_US 21 bills in CHF, en_GB 10 and 27 in USD): the vendor's tax id settles them.
_GENERATED = [(loc, s) for loc in ("en_US", "en_GB", "de_DE", "fr_FR", "de_CH") for s in range(4)]
_GENERATED += [("en_US", 21), ("en_GB", 10), ("en_GB", 27)]


@pytest.mark.parametrize("locale, seed", _GENERATED)
def test_generated_invoices_parse_to_their_truth_dates_without_a_locale(locale, seed):
    truth = generate_invoice(seed, locale=locale).truth
    texts, _ = read_pages(truth)
    doc = parse_document(texts, constrained=True)
    dates = [f for f in ("issue_date", "due_date", "delivery_date") if f in truth]
    assert dates and {f: str(getattr(doc.record, f)) for f in dates} == {f: truth[f] for f in dates}
    assert not _ambiguous(doc)
