"""Grounding on an OCR page (`page_sources` "ocr"): codes may carry one character OCR confuses
(O/0, I/1, S/5, B/8), phrases a looser fuzzy bar, and a description alone never marks an item;
numbers stay exact on every page. Each case runs on the same hand-made words as a PDF page too."""

from __future__ import annotations

import json

import pytest

from raxdoc.postprocess import parse_document
from raxdoc.postprocess.ground_text import code_spans
from raxdoc.postprocess.ground_words import PageText
from tests.postprocess.printed import line, right


def _row(y, code, desc, qty, price, amount):
    return line(y, (0.05, code), (0.20, desc), right(0.62, qty), right(0.75, price), right(0.90, amount))


def _ground(item: dict, words, source: str):
    doc = parse_document([json.dumps({"line_items": [item]})], constrained=True, page_words={0: words},
                         page_sources={0: source})
    return doc.grounding.items[0]


ITEM = {"product_code": "HW-20051", "description": "Consulting services", "quantity": "2",
        "unit_price": "5.00", "amount": "10.00"}


@pytest.mark.parametrize("source, grounded", [("ocr", True), ("pdf", False)])
def test_a_code_with_an_o_for_a_zero_is_grounded_on_an_ocr_page_only(source, grounded):
    words = _row(0.30, "HW-2OO51", "Consulting services", "2", "5.00", "10.00")  # two O's: too many
    assert _ground(ITEM, words, source).unverified_fields == ("product_code",)
    words = _row(0.30, "HW-2O051", "Consulting services", "2", "5.00", "10.00")  # one O for a 0
    item = _ground(ITEM, words, source)
    assert item.grounded is grounded
    assert item.unverified_fields == (() if grounded else ("product_code",))
    assert item.bbox[0] == (0.05 if grounded else 0.20)  # the code's word boxes the item


@pytest.mark.parametrize("source", ["ocr", "pdf"])
def test_numbers_are_matched_exactly_on_both_pages(source):
    words = _row(0.30, "HW-20051", "Consulting services", "2", "5.00", "1O.00")  # OCR's O in an amount
    assert _ground(ITEM, words, source).unverified_fields == ("amount",)
    words = _row(0.30, "HW-20051", "Consulting services", "2", "5.00", "10.00")
    assert _ground(ITEM, words, source).grounded is True
    # A misread amount is corrected from the exact print, on an OCR page as on a PDF one.
    doc = parse_document([json.dumps({"line_items": [{**ITEM, "amount": "10.08"}]})], constrained=True,
                         page_words={0: words}, page_sources={0: source})
    assert str(doc.record.line_items[0].amount) == "10.00"
    assert [(i.kind, i.field) for i in doc.issues] == [("corrected_from_text", "line_items[0].amount")]


def test_only_confusable_characters_are_forgiven_and_only_one():
    assert code_spans("inv-2o25", [0], "inv-2025", confusable=True) == [(0, 0)]
    assert code_spans("1nv-2025", [0], "inv-2025", confusable=True) == [(0, 0)]  # I read as 1
    assert code_spans("inv-2o25", [0], "inv-2025") == []  # a PDF page prints what it prints
    assert code_spans("inv-2x25", [0], "inv-2025", confusable=True) == []  # not a confusion
    assert code_spans("1nv-2o25", [0], "inv-2025", confusable=True) == []  # two
    assert code_spans("ainv-2o25", [0], "inv-2025", confusable=True) == []  # inside a longer code
    page = PageText(line(0.1, (0.1, "Ref 8X-5"), (0.5, "Code SB-1")), ocr=True)
    assert [m.words for m in page.codes("BX-5")] == [(1,)]  # B read as 8
    assert page.codes("BX-S") == []  # two confusions
    assert [m.words for m in page.codes("S8-1")] == [(3,)]


@pytest.mark.parametrize("source, marked", [("ocr", False), ("pdf", True)])
def test_a_misread_description_alone_does_not_mark_an_item_on_an_ocr_page(source, marked):
    words = _row(0.30, "HW-20051", "Cansu1ting servlces", "2", "5.00", "10.00")  # 0.83 similar: below both bars
    item = _ground(ITEM, words, source)
    assert item.unverified_fields == (("description",) if marked else ())
    assert item.bbox is not None and item.bbox[1] == 0.30


@pytest.mark.parametrize("source, found", [("ocr", True), ("pdf", False)])
def test_an_ocr_page_takes_a_phrase_at_the_looser_bar(source, found):
    page = PageText(_row(0.30, "HW-20051", "Consu1ting servlces", "2", "5.00", "10.00"), ocr=source == "ocr")
    assert bool(page.phrases("Consulting services")) is found  # 2 letters of 18 misread: ~0.89


def test_without_sources_a_page_is_matched_as_printed():
    words = _row(0.30, "HW-2O051", "Consulting services", "2", "5.00", "10.00")
    doc = parse_document([json.dumps({"line_items": [ITEM]})], constrained=True, page_words={0: words})
    assert doc.grounding.items[0].unverified_fields == ("product_code",)


@pytest.mark.parametrize("source, unverified", [("ocr", []), ("pdf", ["product_code"])])
def test_the_driver_passes_each_page_rows_text_source_to_grounding(source, unverified):
    from raxdoc.pipeline.assemble import DocumentAssembler
    from raxdoc.pipeline.finish import FinishSettings, finish_document
    from raxdoc.pipeline.rows import RowKind, StageRow
    from raxdoc.schemas import Invoice

    words = tuple(_row(0.30, "HW-2O051", "Consulting services", "2", "5.00", "10.00"))
    page = StageRow("d", "/in/d.pdf", RowKind.PAGE, page_index=0, page_count=1, file_page_count=1,
                    text=json.dumps({"line_items": [ITEM]}), words=words, text_source=source)
    doc = DocumentAssembler().add(page)
    _, items = finish_document(doc, FinishSettings(Invoice, constrained=True, model="m", prompt_version="v"))
    assert list(items[0]["unverified_fields"]) == unverified
