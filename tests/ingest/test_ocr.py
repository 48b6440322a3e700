"""The OCR text layer (`--ocr`): generated invoices rasterised into scans are read back with their
printed values and boxes; digital pages are never OCR'd; a missing package is a usage error."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

import raxdoc
from raxdoc.cli import app
from raxdoc.errors import ERROR_TYPES, RaxdocError
from raxdoc.ingest import RenderOptions, read_document
from raxdoc.ingest import ocr
from raxdoc.ingest.page import Word
from raxdoc.testing.invoices import generate_invoice
from raxdoc.testing.scans import scan_pdf, scan_png

# The cpu profile's page budget: OCR reads the pixels the model gets.
PAGE_PIXELS = 1288 * 1000
ON = RenderOptions(max_pixels=PAGE_PIXELS, ocr=True)
OFF = RenderOptions(max_pixels=PAGE_PIXELS)
_NUMBERS = ("quantity", "unit_price", "amount", "product_code")


def iou(a, b) -> float:
    w, h = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def invoice():
    return generate_invoice(17, locale="en_US", pages=1)


@pytest.fixture(scope="module")
def scanned_page(invoice):
    """Page 0 of the invoice as a scanned PDF (a grey JPEG, no text), read with OCR on (once)."""
    with read_document(scan_pdf(invoice.pdf, dpi=150), options=ON) as doc:
        return doc.page(0)


def _normalised(page):
    return [(w.x0 / page.width, w.y0 / page.height, w.x1 / page.width, w.y1 / page.height, w.text)
            for w in page.words]


def test_a_scan_gets_ocr_words_with_the_printed_numbers_exact(scanned_page, invoice):
    assert scanned_page.kind == "scanned" and scanned_page.text_source == "ocr"
    assert len(scanned_page.words) > 40 and all(isinstance(w, Word) for w in scanned_page.words)
    texts = {w.text for w in scanned_page.words}
    printed = invoice.truth["pages"][0]
    wanted = [item["printed"][f] for item in printed["line_items"] for f in _NUMBERS if f in item["printed"]]
    wanted += [printed["fields"][f] for f in ("invoice_number", "subtotal", "total")]
    assert len(wanted) > 8 and [v for v in wanted if v not in texts] == []
    for w in scanned_page.words:  # boxes inside the page, non-empty, one token each
        assert 0 <= w.x0 < w.x1 <= scanned_page.width and 0 <= w.y0 < w.y1 <= scanned_page.height
        assert w.text and " " not in w.text


def test_word_boxes_lie_where_the_generator_drew_the_values(scanned_page, invoice):
    """Each value's word box holds the centre of the drawn one; values of 3+ characters overlap it
    closely (a lone digit's box carries the detector's padding, a few px, so its IoU is lower)."""
    words = _normalised(scanned_page)
    long_scores = []
    for item in invoice.truth["pages"][0]["line_items"]:
        for f in _NUMBERS:
            if f in item["printed"]:
                drawn, text = item["boxes"][f], item["printed"][f]
                best = max((w for w in words if w[4] == text), key=lambda w: iou(w[:4], drawn))
                cx, cy = (drawn[0] + drawn[2]) / 2, (drawn[1] + drawn[3]) / 2
                assert best[0] <= cx <= best[2] and best[1] <= cy <= best[3] and iou(best[:4], drawn) > 0.3
                if len(text) >= 3:
                    long_scores.append(iou(best[:4], drawn))
    assert len(long_scores) > 10 and sum(long_scores) / len(long_scores) >= 0.75


def test_an_image_file_gets_ocr_words(invoice):
    with read_document(scan_png(invoice.pdf, 0, dpi=150), options=ON) as doc:
        page = doc.page(0)
    assert page.text_source == "ocr" and page.kind == "scanned"
    texts = {w.text for w in page.words}
    fields = invoice.truth["pages"][0]["fields"]
    assert {fields["invoice_number"], fields["total"]} <= texts


def test_ocr_off_gives_no_words(invoice, monkeypatch):
    monkeypatch.setattr(ocr, "ocr_words", _never)
    with read_document(scan_pdf(invoice.pdf, dpi=100), options=OFF) as doc:
        page = doc.page(0)
    assert page.kind == "scanned" and page.words == () and page.text_source is None
    with read_document(scan_png(invoice.pdf, 0, dpi=100), options=OFF) as doc:
        assert doc.page(0).words == () and doc.page(0).text_source is None


def _never(*args, **kwargs):
    raise AssertionError("OCR ran on a page that has a text layer, or with ocr off")


def test_digital_pages_and_scans_with_a_text_layer_are_never_ocrd(invoice, monkeypatch):
    monkeypatch.setattr(ocr, "ocr_words", _never)
    with read_document(invoice.pdf, options=ON) as doc:
        page = doc.page(0)
    assert page.kind == "digital" and page.text_source == "pdf" and len(page.words) > 40
    # A scan that carries its own (invisible) OCR layer keeps it.
    import pymupdf

    pdf = pymupdf.open(stream=scan_pdf(invoice.pdf, dpi=100), filetype="pdf")
    pdf[0].insert_text((72, 72), "INVOICE 12345", render_mode=3)
    with read_document(pdf.tobytes(), options=ON) as doc:
        page = doc.page(0)
    assert page.kind == "scanned" and page.text_source == "pdf" and {"INVOICE", "12345"} <= {w.text for w in page.words}


def test_lines_without_word_boxes_are_shared_out_by_characters():
    quads = [[[10, 10], [110, 10], [110, 30], [10, 30]], [[0, 50], [90, 48], [92, 70], [2, 72]]]
    groups = [(("Total", 0.99, [[10, 10], [60, 10], [60, 30], [10, 30]]),
               ("9.50", 0.99, [[70, 10], [150, 10], [150, 30], [70, 30]]))]  # for line 0 only; spills out
    words = ocr.words_from_lines(["Total 9.50", "12 x 3.00"], quads, groups, width=120, height=100)
    assert [w.text for w in words] == ["Total", "9.50", "12", "x", "3.00"]
    assert words[1].x1 == 120  # clipped to the image
    # Line 1 had no word boxes: 9 characters over its 92 px box, a space counting one.
    assert words[2][:4] == pytest.approx((0, 48, 2 * 92 / 9, 72))
    assert words[4][:4] == pytest.approx((5 * 92 / 9, 48, 92, 72))


def test_a_missing_package_is_a_typed_error(monkeypatch, tiny_checkpoint, tmp_path, invoice):
    monkeypatch.setitem(sys.modules, "rapidocr", None)  # `import rapidocr` raises ImportError
    monkeypatch.setattr(ocr, "_engine", None)
    with pytest.raises(ocr.OcrUnavailable) as err:
        ocr.check_available()
    assert str(err.value) == "--ocr: needs the rapidocr package: pip install 'raxdoc[ocr]'"
    assert err.value.error_type == "ocr_unavailable" and isinstance(err.value, RaxdocError)
    # One class, registered with the other typed errors (a row's error_type maps back to it).
    assert ocr.OcrUnavailable is ERROR_TYPES["ocr_unavailable"]
    with read_document(scan_pdf(invoice.pdf, dpi=72), options=ON) as doc, pytest.raises(ocr.OcrUnavailable):
        doc.page(0)
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(scan_pdf(invoice.pdf, dpi=72))
    result = CliRunner().invoke(app, ["extract", str(pdf), "-o", str(tmp_path / "out"), "--model",
                                                 str(tiny_checkpoint), "--profile", "cpu", "--ocr", "-q"])
    assert result.exit_code == 2 and "pip install 'raxdoc[ocr]'" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out" / "documents").exists()


def test_scanned_invoice_through_the_pipeline_is_grounded(tiny_checkpoint, tmp_path):
    """The stand-in reader (perfect) on a scanned German invoice ("1.234,56") with ocr on: every item
    gets a box where the generator drew it and `grounded` true, as on a born-digital page."""
    from raxdoc.testing.standin_stage import standin_stage

    inv = generate_invoice(21, locale="de_DE", pages=1)
    (tmp_path / "scan.pdf").write_bytes(scan_pdf(inv.pdf, dpi=150))
    (tmp_path / "scan.json").write_text(json.dumps(inv.truth))
    summary = raxdoc.extract([str(tmp_path / "scan.pdf")], str(tmp_path / "out"), model=str(tiny_checkpoint),
                             profile="cpu", ocr=True, engine_stage=standin_stage(noise=0.0))
    assert (summary.documents, summary.pages, summary.ok) == (1, 1, 1)
    doc = pd.read_parquet(tmp_path / "out" / "documents").iloc[0]
    items, truth = list(doc["line_items"]), inv.truth["line_items"]
    assert len(items) == len(truth) > 2
    assert all(i["grounded"] is True and i["bbox"] is not None for i in items)
    assert doc["grounded_ratio"] >= 0.9
    scores = [iou(list(i["bbox"]), t["bbox"]) for i, t in zip(items, truth)]
    assert sum(scores) / len(scores) >= 0.7, scores
