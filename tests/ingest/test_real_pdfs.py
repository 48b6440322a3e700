"""Real-world PDFs from tests/data (sources and licences in tests/data/README.md)."""

from __future__ import annotations

import hashlib

import pytest

from raxdoc.errors import EmptyDocument, EncryptedDocument
from raxdoc.ingest import PageImage, iter_sources, read_document

SHA256 = {
    "ccitt-endofline-true.pdf": "11290d3534d5e97ecd6634111549e05c691530cc9d73326b34f12ef550e1c5f3",
    "congress-gray.pdf": "53752101e82a3de5b448e1b964f406e913a1336dd5d30fecef48ff6e24b9b38d",
    "content-stream-errors.pdf": "19bd84be7fb78a9b30836c3eb3714aa695b84f050cb2a7e6b766d2a46dfd57f5",
    "cyclic-toc.pdf": "20bd7f9073fa2dfc4fc3adeb5899538efa7ebe38074534e800a07c696e5c2852",
    "form_dd0293.pdf": "0691d01c9bf7f42263b24fa5577fc742a4acec69eee64bd47db572bc63362463",
    "graph-encrypted.pdf": "c02cb92751c4a0ba4f0dedebe687568984e99ae527189574bcd03440fc854384",
    "jbig2.pdf": "51b886fa4ef26f17c3c284598dfc3f393fbc1c98c0db3ac561d3dbbc5e212080",
}


def test_data_dir_is_small_and_every_file_is_known(data_dir):
    pdfs = {r.url.rsplit("/", 1)[-1]: r for r in iter_sources(data_dir / "*.pdf")}
    assert set(pdfs) == set(SHA256)
    assert sum(p.stat().st_size for p in data_dir.iterdir()) < 1024 * 1024
    for name, digest in SHA256.items():
        assert hashlib.sha256((data_dir / name).read_bytes()).hexdigest() == digest


@pytest.mark.parametrize(
    ("name", "dpi", "shape"),
    [
        ("congress-gray.pdf", 96, (1520, 1000, 3)),  # img2pdf placed it at 96 dpi
        ("jbig2.pdf", 300, (1520, 1000, 3)),
        ("ccitt-endofline-true.pdf", 300, (3437, 2416, 3)),
    ],
)
def test_real_scans_render_at_their_native_resolution(data_dir, name, dpi, shape):
    doc = read_document(data_dir / name)
    page = doc.page(0)
    assert doc.doc_id == SHA256[name]
    assert page.kind == "scanned" and page.dpi == pytest.approx(dpi, rel=0.01)
    assert page.pixels.shape == shape
    assert 20 < page.pixels.mean() < 250  # ink on paper, not a blank render


def test_broken_content_streams_render_with_page_warnings(data_dir):
    doc = read_document(data_dir / "content-stream-errors.pdf", dpi=50)
    pages = list(doc.pages())
    assert doc.page_count == 4 and all(isinstance(p, PageImage) for p in pages)
    assert [bool(p.warnings) for p in pages] == [True, False, True, True]
    assert all("page may not be correct" in " ".join(p.warnings) for p in pages if p.warnings)


def test_born_digital_government_form(data_dir):
    doc = read_document(data_dir / "form_dd0293.pdf", dpi=100)
    assert doc.page_count == 4 and doc.metadata.encrypted  # owner password only: readable
    assert "DD Form 293" in doc.metadata.title and doc.metadata.producer == "Designer 6.4"
    page = doc.page(0)
    assert page.kind == "digital" and page.pixels.shape == (1100, 850, 3)
    texts = {w.text for w in page.words}
    assert {"DISCHARGE", "ARMED", "FORCES"} <= texts
    assert all(0 <= w.x0 <= w.x1 <= 851 and 0 <= w.y0 <= w.y1 <= 1101 for w in page.words)


def test_real_encrypted_pdf(data_dir):
    with pytest.raises(EncryptedDocument):
        read_document(data_dir / "graph-encrypted.pdf")
    doc = read_document(data_dir / "graph-encrypted.pdf", password="user", max_pixels=500_000)
    page = doc.page(0)
    assert doc.metadata.encrypted and page.pixels.shape[0] * page.pixels.shape[1] <= 500_000


def test_pdf_whose_page_tree_is_empty(data_dir):
    with pytest.raises(EmptyDocument):
        read_document(data_dir / "cyclic-toc.pdf")
