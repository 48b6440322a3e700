"""A folder of hostile and odd inputs through the ingest stage (no Ray): each input is accounted
for, as one typed document error, one e-invoice row, or one row per page of its file, and none
is an `internal:` error (a bug the stage only caught)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pymupdf
import pytest
from PIL import Image

from raxdoc.ingest import iter_sources
from raxdoc.ingest.options import RenderOptions
from raxdoc.pipeline.ingest_stage import IngestStage
from raxdoc.pipeline.rows import RowKind
from raxdoc.testing.einvoice_cii import embed, write_cii
from raxdoc.testing.invoices import generate_invoice

DATA = Path(__file__).resolve().parents[1] / "data"
# name -> what its rows must be: an error_type (one DOC_ERROR row), "einvoice", or a page count
# with the error_type of each page (None: rendered).
EXPECTED: dict[str, object] = {
    "ok.pdf": [None],
    "count_lie.pdf": [None, None, None],
    "zero_pages.pdf": "empty_document",
    "enc_user.pdf": "encrypted_document",
    "empty.pdf": "empty_document",
    "anim.gif": [None],  # an animation is one picture: its first frame
    "x.webp": [None],
    "png_named.pdf": [None],
    "bomb.jpg": "page_too_large",
    "trunc.jpg": ["page_error"],
    "photo_mpf.jpg": [None],
    "oriented.tif": [None, None],
    "xxe.xml": "einvoice_invalid",
    "deep.xml": "einvoice_invalid",
    "wrong_ns.xml": "einvoice_invalid",
    "cii.xml": "einvoice",
    "facturx.pdf": "einvoice",
    "broken_facturx.pdf": [None],
    "fifo.pdf": "source_unreadable",
    "dangling.pdf": "source_not_found",
    "folder.pdf/inner.pdf": [None],
}


def _encode(img: Image.Image, fmt: str, **save) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    return buf.getvalue()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    doc = pymupdf.open()
    for i in range(3):
        doc.new_page(width=100, height=80).insert_text((10, 40), f"page {i}")
    pdf = doc.tobytes()
    cii = write_cii(generate_invoice(0).truth, "EN16931").xml

    def frames(n: int) -> list[Image.Image]:  # fresh images per file: a save leaves state on them
        return [Image.new("RGB", (40, 30), (i * 60, 0, 0)) for i in range(n)]

    exif = Image.Exif()
    exif[0x0112] = 6
    broken = pymupdf.open(stream=_one_page(pdf))
    broken.embfile_add("factur-x.xml", b"<broken")
    files = {
        "ok.pdf": _one_page(pdf),
        "count_lie.pdf": pdf.replace(b"/Count 3", b"/Count 100000"),
        "zero_pages.pdf": (DATA / "cyclic-toc.pdf").read_bytes(),  # a real file whose page tree is empty
        "enc_user.pdf": pymupdf.open(stream=pdf).tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="u", owner_pw="o"),
        "empty.pdf": b"",
        "anim.gif": _encode(*frames(1), "GIF", save_all=True, append_images=frames(2)),
        "x.webp": _encode(*frames(1), "WEBP"),
        "png_named.pdf": _encode(*frames(1), "PNG"),
        "bomb.jpg": _bomb_jpeg(20000, 10000),  # 200 MP: over twice the limit
        "trunc.jpg": _encode(Image.effect_noise((300, 300), 60).convert("RGB"), "JPEG")[:2000],
        "photo_mpf.jpg": _encode(*frames(1), "MPO", save_all=True, append_images=frames(1)),
        "oriented.tif": _encode(*frames(1), "TIFF", save_all=True, append_images=frames(1), exif=exif),
        "xxe.xml": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        "deep.xml": b"<a>" * 5000 + b"</a>" * 5000,
        "wrong_ns.xml": cii.replace(b"urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100", b"urn:x"),
        "cii.xml": cii,
        "facturx.pdf": embed(_one_page(pdf), cii),
        "broken_facturx.pdf": broken.tobytes(),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    (root / "folder.pdf").mkdir()
    (root / "folder.pdf" / "inner.pdf").write_bytes(_one_page(pdf))
    os.mkfifo(root / "fifo.pdf")
    (root / "dangling.pdf").symlink_to(root / "nowhere.pdf")
    return root


def _bomb_jpeg(width: int, height: int) -> bytes:
    """A small JPEG whose frame header claims `width` x `height` (what a decompression bomb does)."""
    data = bytearray(_encode(Image.new("L", (8, 8)), "JPEG"))
    sof = data.index(b"\xff\xc0") + 5  # marker, length (2), precision (1), then height and width
    data[sof : sof + 4] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def _one_page(pdf: bytes) -> bytes:
    doc = pymupdf.open(stream=pdf)
    doc.select([0])
    return doc.tobytes()


def test_every_input_is_accounted_for_typed(folder):
    stage = IngestStage(RenderOptions(min_pixels=1, max_pixels=100_000))
    refs = list(iter_sources(folder))
    seen = {}
    for ref in refs:
        rows = list(stage.rows(ref.url))
        name = os.path.relpath(ref.url, folder)
        assert all(not (r.error_type or "").startswith("internal:") for r in rows), (name, rows[0].error)
        if rows[0].kind is RowKind.PAGE:
            assert [r.page_index for r in rows] == list(range(len(rows))), name
            seen[name] = [r.error_type for r in rows]
        else:
            assert len(rows) == 1, name
            seen[name] = "einvoice" if rows[0].kind is RowKind.EINVOICE else rows[0].error_type
    assert seen == EXPECTED
    [broken] = [r for r in stage.rows(str(folder / "broken_facturx.pdf"))]
    assert broken.einvoice is None and "einvoice_invalid" in broken.einvoice_error


def test_a_folder_named_like_a_file_given_as_a_source_is_one_error_row(folder):
    [row] = list(IngestStage(RenderOptions()).rows(str(folder / "folder.pdf")))
    assert row.kind is RowKind.DOC_ERROR and row.error_type == "source_unreadable" and "directory" in row.error
