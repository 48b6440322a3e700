"""Odd PDFs: page trees whose /Count lies, broken page dictionaries, odd boxes and /Rotate values,
other encryptions, extreme page sizes. Each opens with every page, or fails typed."""

from __future__ import annotations

import numpy as np
import pymupdf
import pytest

from raxdoc.errors import CorruptDocument, EncryptedDocument, PageError, RaxdocError
from raxdoc.ingest import PageImage, read_document
from tests.ingest.pdf_bytes import nested_pages, page_texts, raw_pdf


def _numbered(pages: int = 3) -> bytes:
    doc = pymupdf.open()
    for i in range(pages):
        doc.new_page(width=200, height=100).insert_text((20, 50), f"page {i}")
    return doc.tobytes()


def _nested(root_count: int, mid_count: int) -> bytes:
    """Root [mid [page 0, page 1], page 2], with the /Count values given."""
    return nested_pages(b"%d" % root_count, b"%d" % mid_count)


@pytest.mark.parametrize("count", [0, 1, 5, -1, 100_000])
def test_page_tree_count_that_lies_is_recounted(count):
    # MuPDF trusts /Count: 1 lost two pages silently, 5 invented two failing ones, 0 said "no
    # pages", -1 and 100000 raised a bare RuntimeError ("Invalid number of pages").
    doc = read_document(_numbered().replace(b"/Count 3", b"/Count %d" % count), dpi=36, min_pixels=1)
    assert doc.page_count == 3 and page_texts(doc) == ["page 0", "page 1", "page 2"]
    assert doc.metadata.repaired is True
    assert f"page tree /Count said {count} but it holds 3 pages; recounted" in doc.metadata.warnings


def test_a_true_count_is_left_alone():
    doc = read_document(_numbered(), dpi=36, min_pixels=1)
    assert doc.metadata.repaired is False and doc.metadata.warnings == ()


@pytest.mark.parametrize(("root", "mid", "said"), [
    (3, 1, "/Count of 1 inner node(s) wrong"), (1, 2, "/Count said 1"), (9, 9, "/Count said 9"), (3, 2, None),
])
def test_nested_page_tree_counts_are_recounted_at_every_level(root, mid, said):
    # A wrong inner /Count alone sends MuPDF's page lookup into the wrong subtree.
    doc = read_document(_nested(root, mid), dpi=36, min_pixels=1)
    assert doc.page_count == 3 and page_texts(doc) == ["page 0", "page 1", "page 2"]
    assert doc.metadata.repaired is (said is not None)
    assert said is None or said in " ".join(doc.metadata.warnings)


def test_page_tree_with_a_cycle_is_typed_not_a_crash():
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R] /Count 100000 >>"]
    with pytest.raises(CorruptDocument, match="cannot read PDF"):
        read_document(raw_pdf(objects))


def test_page_whose_contents_are_no_stream_fails_alone():
    doc = pymupdf.open(stream=_numbered(2))
    doc.xref_set_key(doc[0].xref, "Contents", "9999 0 R")  # an object that does not exist
    results = list(read_document(doc.tobytes(), dpi=36, min_pixels=1).pages())
    assert isinstance(results[0], (PageImage, PageError)) and isinstance(results[1], PageImage)
    assert [w.text for w in results[1].words] == ["page", "1"]


@pytest.mark.parametrize("rotate", ["45", "135", "-90", "450", "(x)"])
def test_odd_rotate_values_keep_words_on_their_ink(rotate):
    doc = pymupdf.open()
    doc.new_page(width=300, height=200).insert_text((72, 60), "Hello world", fontsize=14)
    doc.xref_set_key(doc[0].xref, "Rotate", rotate)
    page = read_document(doc.tobytes(), dpi=72, min_pixels=1).page(0)
    dark = page.pixels.min(axis=2) < 128
    inside = np.zeros_like(dark)
    for w in page.words:
        inside[max(int(w.y0) - 1, 0) : int(w.y1) + 2, max(int(w.x0) - 1, 0) : int(w.x1) + 2] = True
    assert [w.text for w in page.words] == ["Hello", "world"]
    assert dark.sum() > 50 and (dark & inside).sum() / dark.sum() > 0.99


@pytest.mark.parametrize(("box", "crop", "rotate"), [
    ((100, 200, 400, 400), None, 0), ((-300, -200, 0, 0), None, 90), ((100, 200, 700, 1000), (150, 250, 500, 700), 270),
])
def test_boxes_off_the_origin_keep_words_on_their_ink(box, crop, rotate):
    doc = pymupdf.open()
    page = doc.new_page(width=600, height=800)
    page.set_mediabox(pymupdf.Rect(*box))
    if crop:
        page.set_cropbox(pymupdf.Rect(*crop))
    page.insert_text((60, 80), "Offset origin text")
    page.set_rotation(rotate)
    out = read_document(doc.tobytes(), dpi=100, min_pixels=1).page(0)
    dark = out.pixels.min(axis=2) < 128
    inside = np.zeros_like(dark)
    for w in out.words:
        inside[max(int(w.y0) - 1, 0) : int(w.y1) + 2, max(int(w.x0) - 1, 0) : int(w.x1) + 2] = True
    assert [w.text for w in out.words] == ["Offset", "origin", "text"]
    assert (dark & inside).sum() / dark.sum() > 0.99


@pytest.mark.parametrize("method", [pymupdf.PDF_ENCRYPT_RC4_40, pymupdf.PDF_ENCRYPT_RC4_128, pymupdf.PDF_ENCRYPT_AES_128])
def test_older_encryptions_need_and_take_the_user_password(method):
    pdf = pymupdf.open(stream=_numbered(1)).tobytes(encryption=method, user_pw="u", owner_pw="o")
    with pytest.raises(EncryptedDocument):
        read_document(pdf)
    doc = read_document(pdf, password="u", dpi=36, min_pixels=1)
    assert doc.metadata.encrypted and page_texts(doc) == ["page 0"]
    empty_user = pymupdf.open(stream=_numbered(1)).tobytes(encryption=method, user_pw="", owner_pw="o")
    assert page_texts(read_document(empty_user, dpi=36, min_pixels=1)) == ["page 0"]


def test_huge_user_unit_page_stays_within_the_pixel_budget():
    doc = pymupdf.open(stream=_numbered(1))
    doc.xref_set_key(doc[0].xref, "UserUnit", "75000")  # the largest a page may say: miles wide
    page = read_document(doc.tobytes(), max_pixels=1_000_000).page(0)
    assert page.pixels.shape[0] * page.pixels.shape[1] <= 1_000_000 and [w.text for w in page.words] == ["page", "0"]


def test_one_point_page_is_scaled_up_to_min_pixels():
    doc = pymupdf.open()
    doc.new_page(width=1, height=1)
    page = read_document(doc.tobytes()).page(0)  # default min_pixels: 256 x 256
    assert page.pixels.shape == (256, 256, 3)


@pytest.mark.parametrize("value", ["[0 0 0 200]", "[0 0 nan 100]", "(junk)", "[0 0 100]", "null"])
def test_unusable_mediabox_opens_or_fails_typed(value):
    doc = pymupdf.open(stream=_numbered(1))
    doc.xref_set_key(doc[0].xref, "MediaBox", value)
    try:
        page = read_document(doc.tobytes(), dpi=36, min_pixels=1).page(0)
    except RaxdocError:
        return
    assert page.pixels.ndim == 3 and page.pixels.size > 0
