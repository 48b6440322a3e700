"""Grounding: every value looked up in the page's words; boxes, verdicts, unknowns and confidence.

Hand-made text layers for the awkward cases (wrapped descriptions, a number printed twice,
thousands separators split over words, negative forms, month-name dates, codes in groups, a
value not on the page, a page with no text layer), then generated invoices end to end: ingest
the PDF, read it back as a perfect reader would, and compare each item's box with where the
generator drew it.
"""

from __future__ import annotations

import json
import random

import pymupdf
import pytest

from raxdoc.ingest import read_document
from raxdoc.pipeline.rows import page_words
from raxdoc.postprocess import parse_document
from raxdoc.postprocess.ground_words import PageText
from raxdoc.testing.invoices import generate_invoice
from raxdoc.testing.standin import read_page
from tests.postprocess.printed import H, line as _line


def _doc(items: list[dict], words, header: dict | None = None):
    text = json.dumps({**(header or {}), "line_items": items})
    return parse_document([text], constrained=True, page_words={0: words})


def _one(items, words, header=None):
    doc = _doc(items, words, header)
    return doc, doc.grounding.items


TABLE = (_line(0.30, (0.05, "1"), (0.10, "Widget blue"), (0.60, "2"), (0.70, "5.00"), (0.85, "10.00"))
         + _line(0.33, (0.05, "2"), (0.10, "Gadget"), (0.60, "1"), (0.70, "7.50"), (0.85, "7.50"))
         + _line(0.40, (0.60, "Total"), (0.85, "17.50")))


def test_same_number_twice_is_taken_from_the_items_own_row():
    # "2" is both item 2's line number (row 2) and item 1's quantity (row 1); "1" the other way round.
    doc, (first, second) = _one([
        {"description": "Widget blue", "quantity": "2", "unit_price": "5.00", "amount": "10.00"},
        {"description": "Gadget", "quantity": "1", "unit_price": "7.50", "amount": "7.50"}], TABLE)
    assert first.grounded and second.grounded and first.unverified_fields == ()
    assert first.bbox[1] == 0.30 and first.bbox[3] == pytest.approx(0.30 + H)
    assert second.bbox[1] == 0.33 and second.bbox[3] == pytest.approx(0.33 + H)
    assert first.bbox[0] == 0.10  # the quantity column's "2", not the line number left of it
    assert doc.grounding.grounded_ratio == 1.0 and doc.grounding.unverified_fields == ()


def test_a_value_not_on_the_page_is_unverified_and_the_row_still_boxed():
    doc, (item,) = _one([{"description": "Widget blue", "quantity": "2", "unit_price": "5.00",
                          "amount": "18.50"}], TABLE)  # 10.00 misread twice: no correction (test_corrections)
    assert item.grounded is False and item.unverified_fields == ("amount",)
    assert item.bbox[1] == 0.30  # boxed from the values that are there
    assert doc.grounding.grounded_ratio == 0.75
    assert not [i for i in doc.issues if i.kind == "ungrounded_item"]  # some of it is on the page


def test_a_quantity_misread_as_its_own_line_number_is_not_found():
    # Row 2 prints its line number "2" in its own row: only the table's quantity column counts.
    rows = [(n, desc, qty, price) for n, (desc, qty, price) in enumerate(
        [("Widget", "4", "5.00"), ("Gadget", "1", "7.50"), ("Sprocket", "6", "2.00"), ("Flange", "3", "1.00")], 1)]
    words = [w for n, desc, qty, price in rows
             for w in _line(0.30 + 0.03 * n, (0.05, str(n)), (0.10, desc), (0.60, qty), (0.85, price))]
    items = [{"description": d, "quantity": q, "amount": p} for _, d, q, p in rows]
    items[1]["quantity"] = "2"
    doc = _doc(items, words)
    assert [g.unverified_fields for g in doc.grounding.items] == [(), ("quantity",), (), ()]
    items[1]["quantity"] = "1"
    assert all(g.grounded for g in _doc(items, words).grounding.items)


def test_an_invented_item_is_false_reported_and_lowers_confidence():
    real = {"description": "Widget blue", "quantity": "2", "unit_price": "5.00", "amount": "10.00"}
    invented = {"description": "Consulting day", "quantity": "3", "unit_price": "900.00", "amount": "2700.00"}
    clean = _doc([real], TABLE)
    doc, (_, item) = _one([real, invented], TABLE)
    assert item.grounded is False and item.bbox is None and len(item.unverified_fields) == 4
    assert [i.field for i in doc.issues if i.kind == "ungrounded_item"] == ["line_items[1]"]
    # An invented line also breaks no arithmetic of its own: grounding is what catches it.
    assert doc.checks.line_amount_ok == (True, True)
    assert doc.checks.confidence < clean.checks.confidence


def test_a_wrapped_description_is_found_over_the_line_break():
    words = (_line(0.30, (0.05, "1"), (0.10, "Cloud-Speicher Abonnement, inkl. Installation"), (0.60, "25"),
                   (0.85, "1.393,00"))
             + _line(0.318, (0.10, "und Konfiguration vor Ort"))
             + _line(0.35, (0.05, "2"), (0.10, "Bürostuhl"), (0.60, "1"), (0.85, "88,75")))
    _, (item,) = _one([{"description": "Cloud-Speicher Abonnement, inkl. Installation und Konfiguration vor Ort",
                        "quantity": "25", "amount": "1.393,00"}], words)
    assert item.grounded and item.bbox[1] == 0.30 and item.bbox[3] == pytest.approx(0.318 + H)
    # Cut short (a reader that missed the second line): found, and taken whole from its printed cell
    # (`repair_lines`), so its box spans both lines.
    doc, (cut,) = _one([{"description": "Cloud-Speicher Abonnement", "quantity": "25", "amount": "1393.00"}], words)
    assert cut.grounded and cut.bbox[3] == pytest.approx(0.318 + H)
    assert doc.record.line_items[0].description == \
        "Cloud-Speicher Abonnement, inkl. Installation und Konfiguration vor Ort"


def test_a_description_with_a_misread_letter_is_found_fuzzily_but_not_a_different_one():
    words = _line(0.30, (0.10, "Ergonomic office chair"), (0.85, "632.20"))
    _, (item,) = _one([{"description": "Ergonomlc office chair", "amount": "632.20"}], words)
    assert item.grounded
    _, (other,) = _one([{"description": "Standing desk frame", "amount": "632.20"}], words)
    assert other.unverified_fields == ("description",)


@pytest.mark.parametrize("printed, value", [
    ("1 234,56", "1234.56"),  # French grouping, split into two words by the text layer
    ("1.234,56", "1.234,56"), ("1,234.56", "1234.56"), ("1'234.56", "1234.56"),
    ("$ 1,234.56", "1234.56"), ("EUR 12.50", "12.50"), ("12,50 €", "12.5"),
    ("-12.50", "-12.50"), ("(12.50)", "-12.50"), ("12.50-", "-12.50"), ("12.50 -", "-12.50"),
    ("− 12.50", "-12.5"),
])
def test_numbers_match_by_value_whatever_the_printed_form(printed, value):
    words = _line(0.30, (0.10, "Service"), (0.80, printed)) + _line(0.50, (0.1, "1.234,00 9.876,00"))
    _, (item,) = _one([{"description": "Service", "amount": value}], words)
    assert item.grounded, (printed, value)
    assert item.bbox[2] == pytest.approx(0.80 + 0.01 * len(printed.replace(" ", "")) + 0.005 * printed.count(" "))


def test_a_tax_rate_printed_with_a_spaced_percent_sign():
    words = _line(0.30, (0.10, "Service"), (0.70, "19 %"), (0.85, "100,00"))
    _, (item,) = _one([{"description": "Service", "tax_rate": "19", "amount": "100,00"}], words)
    assert item.grounded


def test_numbers_are_read_with_the_pages_decimal_separator():
    # "1.234" alone is ambiguous; the page's "9.876,50" settles the comma: it prints 1234.
    words = _line(0.30, (0.10, "Service"), (0.85, "1.234")) + _line(0.5, (0.85, "9.876,50"))
    page = PageText(words)
    assert page.decimal_sep == "," and page.numbers(__import__("decimal").Decimal("1234"))
    assert not page.numbers(__import__("decimal").Decimal("1.234"))


def test_header_dates_codes_and_currency_are_found_over_words():
    words = (_line(0.05, (0.6, "Invoice no.: INV-2025-0042")) + _line(0.07, (0.6, "Date: Dec 26, 2025"))
             + _line(0.09, (0.6, "Due: 25/01/2026")) + _line(0.9, (0.1, "IBAN: DE89 3704 0044 0532 0130 00"))
             + _line(0.30, (0.10, "Service"), (0.85, "€ 100.00")))
    header = {"invoice_number": "INV-2025-0042", "issue_date": "Dec 26, 2025", "due_date": "25/01/2026",
              "iban": "DE89370400440532013000", "currency": "EUR", "purchase_order": "PO-77",
              "vendor_name": "Acme Tools GmbH"}
    doc = _doc([{"description": "Service", "amount": "100.00"}], words, header)
    assert doc.grounding.unverified_fields == ("purchase_order", "vendor_name")
    assert doc.grounding.grounded_ratio == round(7 / 9, 4)


def test_a_code_is_never_a_piece_of_a_longer_one():
    page = PageText(_line(0.3, (0.1, "A12345 X-777 12 34")))
    assert not page.codes("12345") and page.codes("777") and page.codes("A12345") and page.codes("1234")


def test_a_page_without_a_text_layer_says_unknown_not_false():
    doc = parse_document([json.dumps({"invoice_number": "X1", "line_items": [{"description": "A", "amount": "1"}]})],
                         constrained=True, page_words={0: ()})
    (item,) = doc.grounding.items
    assert (item.bbox, item.grounded, item.unverified_fields) == (None, None, None)
    assert doc.grounding.unverified_fields is None and doc.grounding.grounded_ratio is None
    plain = parse_document([json.dumps({"invoice_number": "X1", "line_items": [{"description": "A", "amount": "1"}]})],
                           constrained=True)
    assert plain.grounding is None and plain.checks.confidence == doc.checks.confidence


def test_only_pages_with_words_count_in_the_ratio():
    texts = [json.dumps({"line_items": [{"description": "Widget blue", "amount": "10.00"}]}),
             json.dumps({"line_items": [{"description": "Scanned thing", "amount": "3.00"}]})]
    doc = parse_document(texts, constrained=True, page_words={0: TABLE, 1: ()})
    assert [g.grounded for g in doc.grounding.items] == [True, None]
    assert doc.grounding.grounded_ratio == 1.0


# -- generated invoices, end to end ------------------------------------------------------------------

def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _ground_pdf(pdf: bytes, truth: dict):
    words = {}
    with read_document(pdf) as doc:
        for p in range(doc.render_count):
            page = doc.page(p)
            words[p] = page_words(page.words, page.width, page.height)
    texts = [read_page(truth, p, rng=random.Random(0))[0] for p in range(len(words))]
    return parse_document(texts, constrained=True, page_words=words)


@pytest.mark.parametrize("seed, locale, pages", [
    (1, "en_US", 1), (2, "de_DE", 2), (3, "fr_FR", 1), (4, "de_CH", 3), (5, "en_GB", 2), (7, "de_DE", 1),
    (9, "de_CH", 2), (13, "fr_FR", 3),
])
def test_a_perfect_reading_of_a_generated_invoice_is_grounded_where_it_was_drawn(seed, locale, pages):
    inv = generate_invoice(seed, locale=locale, pages=pages)
    doc = _ground_pdf(inv.pdf, inv.truth)
    truth_items = inv.truth["line_items"]
    assert len(doc.grounding.items) == len(truth_items) > 0
    for got, want in zip(doc.grounding.items, truth_items, strict=True):
        assert got.grounded is True and got.unverified_fields == (), (got, want)
        assert _iou(got.bbox, want["bbox"]) >= 0.8, (got.bbox, want["bbox"])
    assert doc.grounding.unverified_fields == () and doc.grounding.grounded_ratio == 1.0


def test_a_rotated_page_is_grounded_in_its_upright_image():
    inv = generate_invoice(3, locale="en_US", pages=1)
    src = pymupdf.open(stream=inv.pdf, filetype="pdf")
    out = pymupdf.open()
    page = out.new_page(width=src[0].rect.height, height=src[0].rect.width)  # landscape, drawn sideways
    page.show_pdf_page(page.rect, src, 0, rotate=90)
    page.set_rotation(90)  # /Rotate turns it upright for display; ingest renders it that way
    doc = _ground_pdf(out.tobytes(), inv.truth)
    for got, want in zip(doc.grounding.items, inv.truth["line_items"], strict=True):
        assert got.grounded and _iou(got.bbox, want["bbox"]) >= 0.8
