"""Files users throw at ingest: encrypted, truncated, bit-flipped, empty, mislabelled, not documents."""

from __future__ import annotations

import pymupdf
import pytest

from raxdoc.errors import CorruptDocument, EmptyDocument, EncryptedDocument, PageError, RaxdocError, UnsupportedFormat
from raxdoc.ingest import PageImage, read_document


def _encrypted(build, user: str, owner: str) -> bytes:
    doc = pymupdf.open(stream=build.text_pdf(["Confidential invoice"]))
    return doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=user, owner_pw=owner)


def test_user_password_pdf_is_a_typed_error_without_the_password(build):
    pdf = _encrypted(build, user="s3cret", owner="owner")
    with pytest.raises(EncryptedDocument, match="no password given") as info:
        read_document(pdf)
    assert info.value.error_type == "encrypted_document"
    with pytest.raises(EncryptedDocument, match="wrong password"):
        read_document(pdf, password="guess")
    doc = read_document(pdf, password="s3cret")
    assert doc.metadata.encrypted and [w.text for w in doc.page(0).words] == ["Confidential", "invoice"]


def test_owner_password_only_pdf_opens_and_is_flagged_encrypted(build):
    doc = read_document(_encrypted(build, user="", owner="owner"))
    assert doc.metadata.encrypted
    assert doc.page(0).words[0].text == "Confidential"


def test_pdf_cut_before_its_xref_is_repaired_and_flagged(build):
    # An interrupted download: every object arrived, the xref table and trailer did not.
    pdf = build.text_pdf(["Invoice 42 total 99.00"], pages=2)
    doc = read_document(pdf[: pdf.index(b"xref")])
    assert doc.metadata.repaired is True
    assert any("repair" in w for w in doc.metadata.warnings)
    pages = list(doc.pages())
    assert doc.page_count == 2 and all(isinstance(p, PageImage) for p in pages)
    assert [w.text for w in pages[1].words] == ["Invoice", "42", "total", "99.00"]


def test_pdf_cut_anywhere_is_a_typed_error_or_flagged_repaired(build):
    # Which cuts MuPDF can repair differs between versions; that every cut ends typed does not.
    pdf = build.text_pdf(["Invoice 42 total 99.00"], pages=2)
    outcomes = set()
    for cut in range(9, len(pdf) - 1, 23):
        try:
            doc = read_document(pdf[:cut], dpi=20, min_pixels=1)
        except RaxdocError as e:
            outcomes.add(e.error_type)
            continue
        assert doc.metadata.repaired is True, cut
        assert all(isinstance(p, (PageImage, PageError)) for p in doc.pages())
        outcomes.add("repaired")
    assert "repaired" in outcomes and outcomes <= {"repaired", "corrupt_document", "empty_document"}


def test_pdf_truncated_to_its_header_is_corrupt(build):
    with pytest.raises(CorruptDocument) as info:
        read_document(build.text_pdf(["x"])[:40])
    assert info.value.error_type == "corrupt_document"


def test_bit_flips_in_the_xref_are_repaired_and_flagged(build):
    pdf = bytearray(build.text_pdf(["Invoice 42 total 99.00"], pages=2))
    at = pdf.index(b"xref") + 10
    pdf[at : at + 20] = bytes(b ^ 0x55 for b in pdf[at : at + 20])
    doc = read_document(bytes(pdf))
    assert doc.metadata.repaired is True
    assert [w.text for w in doc.page(1).words] == ["Invoice", "42", "total", "99.00"]


def test_bit_flips_in_a_content_stream_are_page_warnings_not_errors(build):
    pdf = bytearray(build.text_pdf(["Invoice 42"], pages=2))
    at = pdf.index(b"BT")  # first page's text object
    pdf[at : at + 2] = b"XX"
    doc = read_document(bytes(pdf))
    first, second = doc.page(0), doc.page(1)
    assert doc.metadata.repaired is False
    assert any("syntax error" in w for w in first.warnings)
    assert second.warnings == () and [w.text for w in second.words] == ["Invoice", "42"]


def test_zero_byte_file_is_empty():
    with pytest.raises(EmptyDocument, match="0 bytes"):
        read_document(b"")


def test_pdf_with_no_pages_is_empty(build):
    with pytest.raises(EmptyDocument, match="no pages") as info:
        read_document(build.zero_page_pdf())
    assert info.value.error_type == "empty_document"


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        (b"Hello, this is a plain text file.\n", "not a PDF"),
        (b"PK\x03\x04" + b"\x00" * 40, "ZIP"),
        (b"<!DOCTYPE html><html><body>404</body></html>", "HTML"),
        (b"BM is not enough to be a bitmap\n", "not a PDF"),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 20, "HEIC"),
    ],
)
def test_not_a_document_is_unsupported(data, phrase):
    with pytest.raises(UnsupportedFormat, match=phrase):
        read_document(data)


def test_format_comes_from_magic_bytes_not_the_name(build, tmp_path):
    jpeg_named_pdf = tmp_path / "invoice.pdf"
    jpeg_named_pdf.write_bytes(build.encode(build.block_image(300, 200), "JPEG"))
    pdf_named_png = tmp_path / "scan.png"
    pdf_named_png.write_bytes(build.text_pdf(["x"]))
    assert read_document(jpeg_named_pdf).metadata.format == "jpeg"
    assert read_document(pdf_named_png).metadata.format == "pdf"
    no_extension = tmp_path / "scan"
    no_extension.write_bytes(build.text_pdf(["x"]))
    assert read_document(no_extension).metadata.format == "pdf"


def test_garbage_before_the_pdf_header_is_tolerated(build):
    doc = read_document(b"\r\n\x00mail gateway prefix\n" + build.text_pdf(["Invoice 7"]))
    assert doc.metadata.format == "pdf" and doc.page(0).words[0].text == "Invoice"


def test_repair_found_only_when_a_page_loads_is_in_that_page_warnings(build):
    pdf = build.text_pdf(["Invoice 42"], pages=2)
    xref_at = pdf.index(b"xref\n")
    lines = pdf[xref_at:].split(b"\n")
    lines[2 + 6] = b"%010d 00000 n " % 50  # object 6 (page 0's content) points at garbage
    doc = read_document(pdf[:xref_at] + b"\n".join(lines))
    assert doc.metadata.repaired is False  # the xref itself parsed fine
    page = doc.page(0)
    assert "repairing PDF document" in page.warnings
    assert [w.text for w in page.words] == ["Invoice", "42"]
