import datetime as dt
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from raxdoc.postprocess import parse_document, parse_page_output
from raxdoc.schemas import Invoice
from tests.schemas.sample_schema import Receipt

D = Decimal


def test_date_order_comes_from_another_page():
    p0 = json.dumps({"invoice_number": "X", "issue_date": "03/13/2024", "line_items": []})
    p1 = json.dumps({"due_date": "04/05/2024", "line_items": [{"description": "a", "amount": "1.00"}]})
    alone = parse_page_output(p1, Invoice, constrained=True)
    assert alone.record.due_date == dt.date(2024, 5, 4)  # page alone: day-first default, flagged
    assert any(i.kind == "ambiguous_date" for i in alone.issues)
    doc = parse_document([p0, p1], constrained=True, doc_id="d")
    assert doc.record.due_date == dt.date(2024, 4, 5)  # page 0's 03/13 proves month-first
    assert not any(i.kind == "ambiguous_date" for i in doc.issues)


def test_decimal_comma_comes_from_another_page_and_page_evidence_wins():
    p0 = json.dumps({"subtotal": "1.234,56", "line_items": []})
    p1 = json.dumps({"line_items": [{"description": "a", "amount": "1.234"}]})
    doc = parse_document([p0, p1], constrained=True)
    assert doc.record.line_items[0].amount == D("1234")
    p2 = json.dumps({"line_items": [{"description": "b", "amount": "1.234"}, {"description": "c", "amount": "0.50"}]})
    doc = parse_document([p0, p2], constrained=True)
    assert doc.record.line_items[0].amount == D("1.234")  # page 2 itself shows a decimal point


def test_locale_is_the_last_resort():
    p0 = json.dumps({"total": "1.234", "issue_date": "05/03/2024", "line_items": []})
    doc = parse_document([p0], constrained=True, locale="en_US")
    assert doc.record.total == D("1.234") and doc.record.issue_date == dt.date(2024, 5, 3)
    doc = parse_document([p0], constrained=True, locale="de_DE")
    assert doc.record.total == D("1234") and doc.record.issue_date == dt.date(2024, 3, 5)


def test_parse_document_counts_failed_pages_and_bare_arrays():
    doc = parse_document(['[{"description": "a", "amount": "1,50"}]', "garbage", '{"total": "1,50", "line_items": []}'],
                         constrained=True, source="x.pdf")
    assert doc.page_count == 3 and doc.pages_ok == 2 and doc.status == "partial"
    assert doc.record.line_items[0].amount == D("1.50") and doc.source == "x.pdf"
    assert [p.page_index for p in doc.pages] == [0, 1, 2]


def test_missing_pages_are_accounted_for():
    doc = parse_document({0: '{"total": "1.00", "line_items": []}', 2: '{"line_items": []}'}, constrained=True,
                         page_count=4)
    assert doc.page_count == 4 and doc.pages_ok == 2 and doc.status == "partial"
    assert [(p.page_index, p.failure.kind if p.failure else None) for p in doc.pages] == [
        (0, None), (1, "missing"), (2, None), (3, "missing")]


def test_integer_overflow_dropped_for_custom_schema():
    r = parse_page_output('{"store": "s", "lines": [{"name": "Tea", "qty": 100000000000000000000}]}', Receipt, constrained=True)
    assert r.ok and r.record.lines[0].qty is None and r.issues[0].field == "lines[0].qty"


def test_empty_item_objects_are_dropped_and_noted():
    r = parse_page_output('{"line_items": [{"description": "a"}, {}, {"amount": null}]}', Invoice, constrained=True)
    assert len(r.record.line_items) == 1
    assert [i.field for i in r.issues if i.kind == "empty_item"] == ["line_items[1]", "line_items[2]"]


def test_schemas_postprocess_and_prompt_import_without_torch_or_ray():
    code = ("import sys\n"
            "for m in ('torch', 'ray', 'pymupdf', 'fitz'):\n"
            "    sys.modules[m] = None\n"
            "import raxdoc.schemas, raxdoc.postprocess, raxdoc.schemas.prompt\n"
            "raxdoc.postprocess.parse_document(['{}'], constrained=True)\n")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert out.returncode == 0, out.stderr


def test_each_page_is_decoded_once_and_results_match_parsing_page_by_page(monkeypatch):
    from raxdoc.postprocess import extract, merge_pages
    from raxdoc.postprocess.normalise import document_hints

    pages = [json.dumps({"invoice_number": "X", "issue_date": "03/13/2024", "subtotal": "1.234,56", "line_items": []}),
             "<think>check</think>" + json.dumps([{"description": "a", "amount": "1.234"}]),
             "no json here",
             json.dumps({"due_date": "04/05/2024", "line_items": [{"description": "b", "amount": "2,50"}]})]
    # Reference: the two-pass reading done by hand, each page parsed alone with the pooled hints.
    values = [json.loads(extract.strip_thinking(t)) for n, t in enumerate(pages) if n != 2]
    hints = document_hints([{"line_items": v} if isinstance(v, list) else v for v in values], Invoice)
    expected = merge_pages([parse_page_output(t, Invoice, constrained=True, page_index=n, hints=hints)
                            for n, t in enumerate(pages)], schema=Invoice, doc_id="d")

    decoded: list[str] = []
    raw_decode = extract._DECODER.raw_decode

    def counting(s, idx=0):
        decoded.append(s)
        return raw_decode(s, idx)

    monkeypatch.setattr(extract._DECODER, "raw_decode", counting)
    doc = parse_document(pages, constrained=True, doc_id="d")
    assert len(decoded) == 3  # one decode per page that holds JSON; none for the page without
    assert doc == expected
    assert doc.record.due_date == dt.date(2024, 4, 5) and doc.record.line_items[0].amount == D("1234")
