"""`finish_document`: an assembled document's typed rows -> its documents row; status from merge_pages."""

import json
from decimal import Decimal

from raxdoc.pipeline.assemble import DocumentAssembler
from raxdoc.pipeline.finish import FinishSettings, finish_document
from raxdoc.pipeline.rows import RowKind, StageRow
from raxdoc.schemas import Invoice
from raxdoc.schemas.rows import documents_arrow_schema, line_items_arrow_schema, to_table

SETTINGS = FinishSettings(schema=Invoice, constrained=True, model="tiny", prompt_version="page-v1")


def _page(i, n, text="", **extra):
    fields = dict(page_count=n, file_page_count=n, page_index=i, text=text, t_ingest=0.1, t_engine=0.5)
    return StageRow("d", "/in/d.pdf", RowKind.PAGE, **{**fields, **extra})


def _doc(*rows):
    asm = DocumentAssembler()
    for r in rows:
        done = asm.add(r)
    return done


PAGE0 = json.dumps({"invoice_number": "INV-7", "currency": "EUR", "line_items": [
    {"description": "Widget", "quantity": "2", "unit_price": "1.234,50", "amount": "2.469,00"}]})
PAGE1 = json.dumps({"subtotal": "2.469,00", "tax_total": "469,11", "total": "2.938,11", "line_items": []})


def test_two_good_pages_make_an_ok_row_with_items_and_timings():
    row, items = finish_document(_doc(_page(0, 2, PAGE0), _page(1, 2, PAGE1)), SETTINGS)
    assert row["status"] == "ok", row
    assert row["invoice_number"] == "INV-7" and row["total"] == Decimal("2938.11")
    assert len(items) == 1 and items[0]["amount"] == Decimal("2469.00") and items[0]["page_index"] == 0
    assert row["engine_s"] == 1.0 and row["model"] == "tiny"
    table = to_table([row], documents_arrow_schema(Invoice))
    assert table.num_rows == 1
    assert to_table(items, line_items_arrow_schema(Invoice)).column("doc_id").to_pylist() == ["d"]


def test_failed_page_keeps_its_cause_and_makes_the_document_partial():
    bad = _page(1, 2, None, error_type="page_too_large", error="image over PIL's limit")
    row, _ = finish_document(_doc(_page(0, 2, PAGE0), bad), SETTINGS)
    assert (row["status"], row["error_type"]) == ("partial", "page_failed")
    assert [(f["page_index"], f["kind"], f["message"]) for f in row["failed_pages"]] == [
        (1, "page_too_large", "image over PIL's limit")]
    assert "1: page_too_large" in row["error"]


def test_all_pages_failed_upstream_names_that_cause():
    rows = [_page(i, 2, None, error_type="engine_error", error="CUDA out of memory") for i in range(2)]
    row, items = finish_document(_doc(*rows), SETTINGS)
    assert (row["status"], row["error_type"], row["error"], items) == ("error", "engine_error", "CUDA out of memory", [])
    assert row["page_count"] == 2 and row["pages_ok"] == 0 and len(row["failed_pages"]) == 2


def test_pages_that_failed_for_different_reasons_name_no_single_cause():
    rows = [_page(0, 2, None, error_type="engine_error", error="CUDA out of memory"),
            _page(1, 2, None, error_type="page_too_large", error="too big")]
    row, _ = finish_document(_doc(*rows), SETTINGS)
    assert (row["status"], row["error_type"]) == ("error", "no_page_parsed")
    assert [f["kind"] for f in row["failed_pages"]] == ["engine_error", "page_too_large"]


def test_document_error_row_and_unread_pages():
    err = StageRow("e", "/in/e.pdf", RowKind.DOC_ERROR, error_type="encrypted_document", error="password required",
                   t_ingest=0.01)
    row, items = finish_document(_doc(err), SETTINGS)
    assert (row["status"], row["error_type"], row["error"], items) == \
        ("error", "encrypted_document", "password required", [])
    truncated = _page(0, 1, PAGE0, file_page_count=5)
    row, _ = finish_document(_doc(truncated), SETTINGS)
    assert row["page_count"] == 5 and row["status"] == "ok"
    assert [i["message"] for i in row["issues"] if i["kind"] == "pages_not_read"] == ["read 1 of 5 pages (max_pages)"]
    assert to_table([row], documents_arrow_schema(Invoice)).schema == documents_arrow_schema(Invoice)


def test_garbage_text_is_a_typed_page_failure_not_an_exception():
    row, items = finish_document(_doc(_page(0, 1, "lorem ipsum <think>no json")), SETTINGS)
    assert row["status"] == "error" and row["failed_pages"][0]["kind"] in ("no_json", "empty")
    assert "lorem" in row["failed_pages"][0]["raw_text"] and items == []


def test_a_copy_of_an_earlier_file_says_so_and_leaves_its_items_to_the_first():
    row, items = finish_document(_doc(_page(0, 1, PAGE0)), SETTINGS, copy_of="/in/first.pdf")
    assert items == [] and row["status"] == "ok"
    assert [(i["kind"], i["message"]) for i in row["issues"]] == [("duplicate_content", "same bytes as /in/first.pdf")]


def test_grounding_columns_come_from_the_pages_words():
    words = ((0.1, 0.3, 0.2, 0.32, "Widget"), (0.6, 0.3, 0.62, 0.32, "2"), (0.7, 0.3, 0.78, 0.32, "1.234,50"),
             (0.85, 0.3, 0.93, 0.32, "2.469,00"), (0.6, 0.05, 0.7, 0.07, "INV-7"), (0.72, 0.05, 0.76, 0.07, "EUR"))
    row, items = finish_document(_doc(_page(0, 2, PAGE0, words=words), _page(1, 2, PAGE1)), SETTINGS)
    (item,) = items
    assert item["grounded"] is True and item["unverified_fields"] == []
    assert item["bbox"] == [0.1, 0.3, 0.93, 0.32]
    assert row["unverified_fields"] == []  # INV-7 and EUR on page 0; page 1 (the totals) has no text layer
    assert row["grounded_ratio"] == 1.0
    table = to_table([row], documents_arrow_schema(Invoice))
    assert table.column("grounded_ratio").to_pylist() == [1.0]
    assert to_table(items, line_items_arrow_schema(Invoice)).column("bbox").to_pylist() == [[0.1, 0.3, 0.93, 0.32]]


def test_pages_without_words_leave_the_grounding_columns_null():
    row, items = finish_document(_doc(_page(0, 2, PAGE0), _page(1, 2, PAGE1)), SETTINGS)
    assert (items[0]["bbox"], items[0]["grounded"], items[0]["unverified_fields"]) == (None, None, None)
    assert row["unverified_fields"] is None and row["grounded_ratio"] is None
