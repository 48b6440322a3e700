import json
from decimal import Decimal

import pytest

from raxdoc.postprocess import parse_page_output
from raxdoc.postprocess.merge import merge_pages
from raxdoc.schemas import Invoice, ParseFailure
from tests.schemas.sample_schema import Receipt

D = Decimal


def page(obj, index=None, schema=Invoice):
    text = obj if isinstance(obj, str) else json.dumps(obj)
    return parse_page_output(text, schema, constrained=True, page_index=index)


def two_page_invoice():
    p0 = page({"invoice_number": "A-1", "issue_date": "13.03.2024", "subtotal": "10,00",
               "line_items": [{"description": "Widget", "quantity": "2", "unit_price": "10,00", "amount": "20,00"},
                              {"description": "Consulting services for the"}]}, 0)
    p1 = page({"invoice_number": "A-1", "subtotal": "120,00", "tax_total": "22,80", "total": "142,80",
               "line_items": [{"description": "month of March", "quantity": "1", "unit_price": "100,00",
                               "amount": "100,00"},
                              {"description": "Travel", "amount": "0,00"}]}, 1)
    return p0, p1


def test_merge_joins_split_item_and_takes_totals_from_last_page():
    doc = merge_pages(two_page_invoice(), doc_id="d", source="s.pdf")
    inv = doc.record
    assert [i.description for i in inv.line_items] == [
        "Widget", "Consulting services for the month of March", "Travel"]
    assert inv.line_items[1].amount == D("100.00") and inv.line_items[1].page_index == 0
    assert doc.item_keys == ((0, 0), (0, 1), (1, 0))  # item_index counts within the page after the join
    assert inv.subtotal == D("120.00")  # last page wins for totals (page 0 showed a running 10,00)
    assert inv.invoice_number == "A-1" and str(inv.issue_date) == "2024-03-13"
    assert any(i.kind == "joined_across_pages" for i in doc.issues)
    assert doc.checks.lines_sum_subtotal is True and doc.checks.subtotal_tax_total is True
    assert doc.status == "ok" and doc.error_type is None and doc.pages_ok == 2


def test_no_join_when_next_item_starts_new():
    p0 = page({"line_items": [{"description": "Header-like line"}]}, 0)
    p1 = page({"line_items": [{"description": "New item", "amount": "5.00"}]}, 1)
    doc = merge_pages([p0, p1])
    assert len(doc.record.line_items) == 2
    p1_gap = page({"line_items": [{"amount": "5.00"}]}, 2)  # not the next page: no join
    assert len(merge_pages([p0, p1_gap]).record.line_items) == 2
    p1_cont = page({"line_items": [{"amount": "5.00"}]}, 1)
    assert len(merge_pages([p0, p1_cont]).record.line_items) == 1


def test_pages_in_page_order_and_conflicts_reported():
    p0, p1 = two_page_invoice()
    p1_other = page({"invoice_number": "B-2", "line_items": []}, 1)
    doc = merge_pages([p1_other, p0])  # given out of order
    assert doc.record.invoice_number == "A-1"
    assert any(i.kind == "conflicting_values" and i.field == "invoice_number" for i in doc.issues)


def test_partial_when_a_page_fails():
    p0, _ = two_page_invoice()
    bad = page('{"invoice_number": "A-1", "line_items": [{"desc', 1)
    doc = merge_pages([p0, bad])
    assert doc.status == "partial" and doc.error_type == "page_failed" and "truncated" in doc.error
    assert doc.page_count == 2 and doc.pages_ok == 1
    assert 0 < doc.checks.confidence <= 0.5


def test_partial_when_totals_do_not_reconcile():
    doc = merge_pages([page({"subtotal": "100.00", "tax_total": "19.00", "total": "129.00", "line_items": []})])
    assert doc.status == "partial" and doc.error_type == "check_failed"


def test_error_when_nothing_parsed_or_nothing_usable():
    doc = merge_pages([page("no json here", 0), page("", 1)])
    assert doc.status == "error" and doc.error_type == "no_page_parsed" and doc.record.line_items == []
    doc = merge_pages([page("<think>", 0)])
    assert doc.status == "error" and doc.error_type == "empty"
    doc = merge_pages([page({"line_items": []}, 0)])
    assert doc.status == "error" and doc.error_type == "empty_record"
    doc = merge_pages([])
    assert doc.status == "error" and doc.error_type == "no_pages" and doc.page_count == 0


def test_duplicate_lines_across_pages_counted():
    line = {"description": "Widget", "quantity": "1", "unit_price": "5.00", "amount": "5.00"}
    doc = merge_pages([page({"line_items": [line]}, 0), page({"line_items": [line]}, 1)])
    assert doc.checks.duplicate_lines == 1 and len(doc.record.line_items) == 2  # flagged, not removed


def test_custom_schema_merge_without_page_index_field():
    p0 = page({"store": "Kiosk", "lines": [{"name": "Tea", "amount": "3,00"}]}, 0, Receipt)
    p1 = page({"store": "Kiosk", "total": "4,50", "lines": [{"name": "Bun", "amount": "1,50"}]}, 1, Receipt)
    doc = merge_pages([p0, p1])
    assert doc.schema is Receipt and doc.status == "ok"
    assert [x.name for x in doc.record.lines] == ["Tea", "Bun"] and doc.item_keys == ((0, 0), (1, 0))
    assert doc.checks.subtotal_tax_total is None  # Receipt has no subtotal: not checkable
    failed = merge_pages([page("nothing", 0, Receipt)], schema=Receipt)
    assert failed.status == "error" and failed.record.lines == []


def test_carry_forward_lines_kept_flagged_and_left_out_of_the_sum():
    p0 = page({"line_items": [{"description": "A", "quantity": "1", "unit_price": "10.00", "amount": "10.00"},
                              {"description": "Übertrag", "amount": "10.00"}]}, 0)
    p1 = page({"subtotal": "30.00", "line_items": [
        {"description": "Carried forward", "amount": "10.00"},
        {"description": "B", "quantity": "2", "unit_price": "10.00", "amount": "20.00"}]}, 1)
    doc = merge_pages([p0, p1])
    assert len(doc.record.line_items) == 4
    assert [i.page_index for i in doc.issues if i.kind == "carry_forward_line"] == [0, 1]
    assert doc.checks.lines_sum_subtotal is True and doc.status == "ok"


def test_pages_that_failed_upstream_keep_their_own_kind_and_decide_the_status():
    p0, _ = two_page_invoice()
    oom = ParseFailure("engine_error", "CUDA out of memory", "")
    doc = merge_pages([p0], page_failures={1: oom}, page_count=2)
    assert doc.status == "partial" and doc.error_type == "page_failed" and "1: engine_error" in doc.error
    assert [(p.page_index, p.failure.kind if p.failure else None) for p in doc.pages] == [(0, None), (1, "engine_error")]
    # Every page failed upstream with one cause: that cause is the document's error.
    doc = merge_pages([], page_failures={0: oom, 1: oom}, page_count=2)
    assert (doc.status, doc.error_type, doc.error) == ("error", "engine_error", "CUDA out of memory")
    doc = merge_pages([], page_failures={0: oom, 1: ParseFailure("page_too_large", "too big", "")}, page_count=3)
    assert (doc.status, doc.error_type) == ("error", "no_page_parsed")
    assert [p.failure.kind for p in doc.pages] == ["engine_error", "page_too_large", "missing"]
    with pytest.raises(ValueError, match="both"):
        merge_pages([p0], page_failures={0: oom})


def test_pages_left_unread_count_in_page_count_and_are_an_issue_not_a_failure():
    p0, p1 = two_page_invoice()
    doc = merge_pages([p0, p1], file_page_count=7)
    assert (doc.status, doc.page_count, doc.pages_ok) == ("ok", 7, 2)
    assert [(i.kind, i.message) for i in doc.issues if i.kind == "pages_not_read"] == [
        ("pages_not_read", "read 2 of 7 pages (max_pages)")]
    doc = merge_pages([p0, p1], file_page_count=2)
    assert doc.page_count == 2 and not any(i.kind == "pages_not_read" for i in doc.issues)
