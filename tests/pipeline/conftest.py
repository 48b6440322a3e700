"""A small corpus of good and broken inputs, made by the tests with PyMuPDF."""

from __future__ import annotations

import io

import numpy as np
import pymupdf
import pytest
from PIL import Image


def _invoice_pdf(lines: int, pages: int = 1) -> bytes:
    doc = pymupdf.open()
    for p in range(pages):
        page = doc.new_page(width=612, height=792)
        page.insert_text((72, 72), f"INVOICE INV-{p:03d}  Date 13.03.2026", fontsize=14)
        for i in range(lines):
            page.insert_text((72, 110 + 16 * i), f"Item {i}   {i + 1} x 12,50 EUR   {12.5 * (i + 1):.2f}", fontsize=10)
        page.insert_text((72, 700), "Total 1.234,56 EUR", fontsize=12)
    return doc.tobytes()


def _scanned_pdf() -> bytes:
    rng = np.random.default_rng(0)
    pixels = (rng.random((300, 240, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_image(page.rect, stream=buf.getvalue())
    return doc.tobytes()


def _encrypted_pdf() -> bytes:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "secret")
    return doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="pw", owner_pw="owner")


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """{name: path}: two good PDFs (one with 2 pages, one saved twice), a scan, and four broken inputs."""
    root = tmp_path_factory.mktemp("corpus")
    good = _invoice_pdf(5)
    files = {
        "good.pdf": good,
        "good_copy.pdf": good,  # the same bytes under another name: its own row
        "two_pages.pdf": _invoice_pdf(3, pages=2),
        "scan.pdf": _scanned_pdf(),
        "encrypted.pdf": _encrypted_pdf(),
        "truncated.pdf": _invoice_pdf(4)[:300],
        "not_a_pdf.pdf": b"this is a text file, not a PDF\n" * 10,
        "empty.pdf": b"",
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    return {name: root / name for name in files}


@pytest.fixture(scope="session")
def einvoice_corpus(tmp_path_factory):
    """(folder, {name: expected Invoice fields or None}): a Factur-X PDF, a UBL (XRechnung) XML, a CII
    credit note XML, an ordinary PDF, a PDF whose factur-x.xml is broken, and a malformed XML file."""
    from raxdoc.testing.einvoice_cii import embed, with_bad_number, write_cii
    from raxdoc.testing.einvoice_ubl import ubl_from_truth
    from raxdoc.testing.invoices import generate_invoice

    root = tmp_path_factory.mktemp("einvoices")
    facturx = write_cii(generate_invoice(3).truth, "EN16931")
    ubl = ubl_from_truth(generate_invoice(5).truth)
    credit = write_cii(generate_invoice(6).truth, "BASIC", credit_note=True)
    plain = _invoice_pdf(4)
    files = {
        "facturx.pdf": (embed(_invoice_pdf(3, pages=2), facturx.xml), facturx.expected),
        "xrechnung.xml": (ubl.xml, ubl.expected),
        "credit_note.xml": (credit.xml, credit.expected),
        "plain.pdf": (plain, None),
        "broken_attachment.pdf": (embed(plain, b"<rsm:Broken", library="pymupdf"), None),
        "malformed.xml": (with_bad_number(facturx.xml), None),
    }
    for name, (data, _) in files.items():
        (root / name).write_bytes(data)
    return root, {name: expected for name, (_, expected) in files.items()}
