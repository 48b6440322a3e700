"""Possibly missed lines: table rows with an amount that no extracted item accounts for.

A hand-made page (header row, items with a wrapped description, running-total rows, totals, a
footer): only a row the reader left out is reported, with its text and page; then generated
invoices read by the stand-in with dropped lines injected, and read perfectly (nothing reported).
"""

from __future__ import annotations

import json

import pytest

from raxdoc.postprocess import parse_document
from raxdoc.testing.invoices import LOCALES, generate_invoice
from tests.postprocess.generated import noisy_read, pdf_words
from tests.postprocess.printed import HEADER_ROW, ROWS, TOTALS, WRAP, line as _line, right as _right, row as _row


FOOTER = _line(0.95, _right(0.90, "Page 1 of 1"))


def _page(rows=ROWS, extra=()) -> list[tuple]:
    words = list(HEADER_ROW) + list(WRAP) + list(TOTALS) + list(FOOTER) + list(extra)
    for n, (desc, qty, price, amount) in enumerate(rows):
        words += _row(0.30 + 0.03 * n, desc, qty, price, amount)
    return words


def _item(desc, qty, price, amount):
    return {"description": desc, "quantity": qty, "unit_price": price, "amount": amount}


# A missed row is reported, or read back as an item where it settles one (`added_lines`): both count.
FOUND = ("possibly_missed_line", "added_from_text")


def _missed(items, words, pages=1):
    texts = [json.dumps({"line_items": items})] + [json.dumps({"line_items": []})] * (pages - 1)
    doc = parse_document(texts, constrained=True, page_words={0: words})
    return [(i.message, i.page_index) for i in doc.issues if i.kind in FOUND], doc


def test_a_complete_reading_reports_nothing():
    found, doc = _missed([_item(*r) for r in ROWS], _page())
    assert found == [] and doc.status == "ok"


@pytest.mark.parametrize("dropped", [0, 2, 4])  # the first (with its wrapped line), a middle one, the last
def test_a_row_left_out_is_reported_with_its_text_and_page(dropped):
    items = [_item(*r) for k, r in enumerate(ROWS) if k != dropped]
    found, doc = _missed(items, _page())
    ((message, page),) = found
    desc, qty, price, amount = ROWS[dropped]
    assert page == 0 and f"{desc} {qty} {price} {amount}" in message
    assert ("with mounting kit" in message) is (dropped == 0)  # a wrapped line goes with its row
    full = [_item(f"{ROWS[0][0]} with mounting kit", *ROWS[0][1:])] + [_item(*r) for r in ROWS[1:]]
    clean = _missed(full, _page())[1]
    assert doc.checks.confidence < clean.checks.confidence


@pytest.mark.parametrize("label", ["Übertrag", "Carried forward", "Subtotal", "Zwischensumme", "Report",
                                   "à reporter", "Brought forward"])
def test_running_total_rows_are_not_lines(label):
    carry = _line(0.285, (0.10, label), _right(0.90, "12.34")) + _line(0.45, (0.10, label), _right(0.90, "33.60"))
    found, _ = _missed([_item(*r) for r in ROWS], _page(extra=carry))
    assert found == []


def test_a_description_that_only_contains_report_is_still_a_line():
    rows = ROWS + [("Annual report printing", "1", "4.00", "4.00")]
    found, _ = _missed([_item(*r) for r in ROWS], _page(rows))
    assert len(found) == 1 and "'Annual report printing 1 4.00 4.00'" in found[0][0]


def test_a_line_printed_twice_and_read_twice_is_not_missed():
    rows = ROWS + [ROWS[1]]
    found, _ = _missed([_item(*r) for r in rows], _page(rows))
    assert found == []
    found, _ = _missed([_item(*r) for r in ROWS], _page(rows))  # read once: the other copy is missed
    assert len(found) == 1 and "Gadget 1 7.50 7.50" in found[0][0]


def test_a_page_whose_whole_table_was_missed_is_found_from_the_other_pages_columns():
    second = [("Nut M8", "10", "0.10", "1.00"), ("Washer", "20", "0.05", "1.00")]
    words = {0: _page(), 1: [w for n, r in enumerate(second) for w in _row(0.10 + 0.03 * n, *r)] + FOOTER
             + _line(0.30, (0.55, "Total"), _right(0.90, "41.98"))}
    texts = [json.dumps({"line_items": [_item(*r) for r in ROWS]}), json.dumps({"line_items": []})]
    doc = parse_document(texts, constrained=True, page_words=words)
    found = [(i.message, i.page_index) for i in doc.issues if i.kind in FOUND]
    assert [p for _, p in found] == [1, 1] and "Nut M8 10 0.10 1.00" in found[0][0]


def test_no_text_layer_or_no_located_item_reports_nothing():
    doc = parse_document([json.dumps({"line_items": [_item(*ROWS[0])]})], constrained=True, page_words={0: ()})
    assert not [i for i in doc.issues if i.kind in FOUND]
    found, _ = _missed([], _page())
    assert found == []


# -- generated invoices -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def invoices():
    out = []
    for seed in range(40):
        inv = generate_invoice(100 + seed, locale=LOCALES[seed % len(LOCALES)])
        out.append((inv.truth, pdf_words(inv.pdf)))
    return out


def test_dropped_lines_of_generated_invoices_are_reported_on_their_page(invoices):
    dropped = reported = extra = 0
    for seed, (truth, words) in enumerate(invoices):
        doc, log = noisy_read(truth, words, seed, 0.1, "dropped_line")
        for p in words:
            n = sum(e.page_index == p for e in log)
            flags = sum(i.kind in FOUND and i.page_index == p for i in doc.issues)
            dropped, reported, extra = dropped + n, reported + min(n, flags), extra + max(0, flags - n)
    print(f"dropped {dropped}, reported {reported}, reported on pages without one more {extra}")
    assert dropped > 50 and reported / dropped >= 0.9 and extra == 0


def test_a_perfect_reading_of_generated_invoices_reports_no_line(invoices):
    for truth, words in invoices:
        doc, _ = noisy_read(truth, words, 0, 0.0, "dropped_line")
        assert not [i for i in doc.issues if i.kind in (*FOUND, "corrected_from_text", "removed_repeated_line")], truth["meta"]
