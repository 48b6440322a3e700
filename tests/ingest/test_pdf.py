"""PDF pages: native DPI of scans, rotation, page kinds, word boxes, clamping, laziness."""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pymupdf
import pytest

from raxdoc.errors import PageError, PageTooLarge
from raxdoc.ingest import PageImage, read_document


@pytest.mark.parametrize("dpi", [150, 200, 300])
def test_scan_renders_at_its_effective_dpi_pixel_for_pixel(build, dpi):
    original = build.block_image(330, 470, seed=dpi)  # awkward sizes on purpose
    doc = read_document(build.scan_pdf(original, dpi))
    page = doc.page(0)
    assert page.kind == "scanned"
    assert page.dpi == pytest.approx(dpi, rel=0.01)
    assert page.pixels.shape == (470, 330, 3) and page.pixels.dtype == np.uint8
    # At native resolution the render is the image itself (the PNG's 72 dpi tag was ignored).
    assert np.abs(page.pixels.astype(int) - original).mean() < 1.0
    assert (page.width_pt, page.height_pt) == pytest.approx((330 * 72 / dpi, 470 * 72 / dpi))


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_rotated_page_comes_out_upright_as_displayed(build, rotate):
    original = build.block_image(240, 360, seed=rotate)
    page = read_document(build.scan_pdf(original, 200, rotate=rotate)).page(0)
    # /Rotate turns the page clockwise when displayed; np.rot90 with k<0 turns clockwise.
    expected = np.rot90(original, k=-rotate // 90)
    assert page.rotation == rotate
    assert page.pixels.shape == expected.shape
    assert np.abs(page.pixels.astype(int) - expected).mean() < 1.0


def _ink_inside_boxes(page: PageImage) -> tuple[float, float]:
    """Share of dark pixels that fall inside some word box, and that share of boxes with ink."""
    dark = page.pixels.min(axis=2) < 128
    inside = np.zeros_like(dark)
    boxes_with_ink = 0
    for w in page.words:
        x0, y0, x1, y1 = int(w.x0) - 1, int(w.y0) - 1, int(np.ceil(w.x1)) + 1, int(np.ceil(w.y1)) + 1
        inside[max(y0, 0) : y1, max(x0, 0) : x1] = True
        boxes_with_ink += bool(dark[max(y0, 0) : y1, max(x0, 0) : x1].any())
    return (dark & inside).sum() / max(dark.sum(), 1), boxes_with_ink / max(len(page.words), 1)


@pytest.mark.parametrize("rotate", [0, 90, 270])
def test_digital_page_has_words_in_pixel_coordinates(build, rotate):
    pdf = build.text_pdf(["INVOICE 2024-017", "Total due 1.234,56 EUR"], width=300, height=200, rotate=rotate)
    page = read_document(pdf, dpi=150).page(0)
    assert page.kind == "digital"
    assert page.dpi == pytest.approx(150, rel=0.005)  # integer pixels: 417 px for 200 pt is 150.1 dpi
    # 300 x 200 pt at 150 dpi: 625 x 416.7 px, rounded; turned for /Rotate 90 and 270.
    assert page.pixels.shape[:2] == ((417, 625) if rotate == 0 else (625, 417))
    assert [w.text for w in page.words] == ["INVOICE", "2024-017", "Total", "due", "1.234,56", "EUR"]
    if rotate == 0:
        # First word starts at x = 72 pt = 150 px; its baseline sits at y = 72 pt.
        assert page.words[0].x0 == pytest.approx(150, abs=1)
        assert page.words[0].y1 == pytest.approx(150, abs=8)
    in_boxes, boxes_inked = _ink_inside_boxes(page)
    assert in_boxes > 0.99 and boxes_inked == 1.0


def test_cropbox_offset_keeps_words_on_their_ink(build):
    doc = pymupdf.open(stream=build.text_pdf(["Cropped page text"]))
    doc[0].set_cropbox(pymupdf.Rect(40, 40, 400, 300))
    page = read_document(doc.tobytes(), dpi=100).page(0)
    assert page.pixels.shape[:2] == (round(260 * 100 / 72), 500)
    in_boxes, boxes_inked = _ink_inside_boxes(page)
    assert in_boxes > 0.99 and boxes_inked == 1.0


def test_text_and_large_image_is_mixed_and_keeps_the_image_resolution(build):
    pdf = build.scan_pdf(build.block_image(600, 400), 300, text="Stamp: PAID")
    page = read_document(pdf, dpi=100).page(0)
    assert page.kind == "mixed"
    assert page.dpi == pytest.approx(300, rel=0.01)  # max(image dpi, configured dpi)
    assert [w.text for w in page.words] == ["Stamp:", "PAID"]


def test_invisible_ocr_layer_stays_scanned_with_words(build):
    doc = pymupdf.open(stream=build.scan_pdf(build.block_image(400, 500), 200))
    doc[0].insert_text((20, 40), "OCR text layer", render_mode=3)
    page = read_document(doc.tobytes()).page(0)
    assert page.kind == "scanned"
    assert [w.text for w in page.words] == ["OCR", "text", "layer"]
    assert page.words[0].x0 == pytest.approx(20 * 200 / 72, abs=1)


def test_small_logo_on_text_page_stays_digital(build):
    doc = pymupdf.open(stream=build.text_pdf(["Acme GmbH"]))
    # 2000 px into one inch: 2000 dpi, but a logo must not drive the page's resolution.
    doc[0].insert_image(pymupdf.Rect(400, 40, 472, 112), stream=build.encode(build.block_image(2000, 2000)))
    page = read_document(doc.tobytes()).page(0)
    assert page.kind == "digital" and page.dpi == pytest.approx(200)


def test_multi_page_document_renders_each_page_in_order(build):
    doc = pymupdf.open()
    for i, (w, h) in enumerate([(612, 792), (842, 595), (200, 300)]):
        doc.new_page(width=w, height=h).insert_text((20, 40), f"page {i}")
    pdf = doc.tobytes()
    document = read_document(pdf, dpi=72, min_pixels=1)
    assert document.doc_id == hashlib.sha256(pdf).hexdigest()
    pages = list(document.pages())
    assert document.page_count == 3 and [p.page_index for p in pages] == [0, 1, 2]
    assert [p.pixels.shape[:2] for p in pages] == [(792, 612), (595, 842), (300, 200)]
    assert [p.words[1].text for p in pages] == ["0", "1", "2"]


def test_giant_page_is_clamped_before_rendering(build):
    pdf = build.text_pdf(["Poster"], width=14400, height=14400)  # 200 x 200 inches
    page = read_document(pdf, max_pixels=1_000_000).page(0)
    h, w = page.pixels.shape[:2]
    assert h * w <= 1_000_000 and h == w == 1000
    assert page.dpi == pytest.approx(72 * 1000 / 14400)  # the DPI actually rendered
    assert page.words[0].x0 == pytest.approx(72 * page.dpi / 72, abs=1)


def test_tiny_page_is_scaled_up_to_min_pixels(build):
    page = read_document(build.text_pdf(["x"], width=36, height=18), min_pixels=20_000).page(0)
    h, w = page.pixels.shape[:2]
    assert h * w >= 20_000 and w / h == pytest.approx(2, rel=0.02)


def test_long_document_is_lazy(build, monkeypatch):
    pdf = build.text_pdf(["line"], pages=300, width=100, height=100)
    document = read_document(pdf, dpi=36, min_pixels=1)
    calls = []
    original = document._backend.render
    monkeypatch.setattr(document._backend, "render", lambda i: calls.append(i) or original(i))
    first = list(itertools.islice(document.pages(), 3))
    assert document.page_count == 300 and [p.page_index for p in first] == [0, 1, 2]
    assert calls == [0, 1, 2]


def test_max_pages_limits_rendering_not_page_count(build):
    document = read_document(build.text_pdf(["x"], pages=7, width=50, height=50), max_pages=2, min_pixels=1)
    assert document.page_count == 7 and document.render_count == 2
    assert len(list(document.pages())) == 2


def test_one_failing_page_is_a_typed_error_and_iteration_goes_on(build, monkeypatch):
    doc = pymupdf.open(stream=build.text_pdf(["ok"], pages=3, width=100, height=100))
    doc[1].insert_image(pymupdf.Rect(0, 0, 100, 100), stream=build.encode(build.block_image(300, 300)))
    # Lower PIL's bomb limit so page 1's 90,000-pixel image trips it.
    monkeypatch.setattr("PIL.Image.MAX_IMAGE_PIXELS", 50_000)
    results = list(read_document(doc.tobytes(), min_pixels=1).pages())
    assert isinstance(results[0], PageImage) and isinstance(results[2], PageImage)
    assert isinstance(results[1], PageTooLarge) and isinstance(results[1], PageError)
    assert results[1].page_index == 1 and results[1].error_type == "page_too_large"


def test_render_is_repeatable(build):
    document = read_document(build.scan_pdf(build.block_image(100, 80), 150, pages=2))
    a, b = document.page(1), document.page(1)
    assert np.array_equal(a.pixels, b.pixels) and a.pixels.flags.writeable and a.pixels.flags.owndata
    with pytest.raises(IndexError):
        document.page(2)


def test_inline_image_scan_is_found_without_an_image_resource(build):
    original = build.block_image(300, 240, seed=5)
    doc = pymupdf.open()
    page = doc.new_page(width=144, height=115.2)  # 2 x 1.6 in: 150 dpi
    page.insert_text((0, 0), " ")  # gives the page a content stream to replace
    content = b"q 144 0 0 115.2 0 0 cm BI /W 300 /H 240 /CS /RGB /BPC 8 ID " + original.tobytes() + b" EI Q"
    doc.update_stream(page.get_contents()[0], content)
    assert doc[0].get_images(full=True) == []
    result = read_document(doc.tobytes()).page(0)
    assert result.kind == "scanned" and result.dpi == pytest.approx(150, rel=0.01)
    assert result.pixels.shape == (240, 300, 3)
    assert np.abs(result.pixels.astype(int) - original).mean() < 1.0


def test_anisotropic_fax_scan_renders_at_its_finer_axis(build):
    doc = pymupdf.open()
    page = doc.new_page(width=144, height=72)  # 2 x 1 in
    page.insert_image(page.rect, stream=build.encode(build.block_image(408, 98)), keep_proportion=False)
    result = read_document(doc.tobytes(), min_pixels=1).page(0)  # 204 x 98 dpi, fax "normal" mode
    assert result.kind == "scanned" and result.dpi == pytest.approx(204)
    assert result.pixels.shape == (204, 408, 3)
