"""Review findings on `pagetree`: a /Count given as an indirect object (legal PDF) is read through,
so a right one is not "recounted" (the file flagged repaired) and a wrong one is recounted."""

from __future__ import annotations

import pytest

from raxdoc.ingest import PageImage, read_document
from tests.ingest.pdf_bytes import raw_pdf


def _nested(root_count: bytes, mid_count: bytes, mid_value: int = 2, root_value: int = 3) -> bytes:
    """Root [mid [page 0, page 1], page 2]; object 11 holds `mid_value`, object 12 `root_value`."""
    def page(parent: int, content: int) -> bytes:
        return (b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 200 100] /Contents %d 0 R "
                b"/Resources << /Font << /F1 10 0 R >> >> >>" % (parent, content))

    def text(i: int) -> bytes:
        body = b"BT /F1 12 Tf 20 50 Td (page %d) Tj ET" % i
        return b"<< /Length %d >>\nstream\n%s\nendstream" % (len(body), body)

    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 6 0 R] /Count %s >>" % root_count,
        b"<< /Type /Pages /Parent 2 0 R /Kids [4 0 R 5 0 R] /Count %s >>" % mid_count,
        page(3, 7), page(3, 8), page(2, 9), text(0), text(1), text(2),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"%d" % mid_value, b"%d" % root_value,
    ])


def _texts(doc) -> list[str]:
    return [" ".join(w.text for w in p.words) if isinstance(p, PageImage) else type(p).__name__ for p in doc.pages()]


@pytest.mark.parametrize(("root", "mid"), [(b"3", b"11 0 R"), (b"12 0 R", b"2"), (b"12 0 R", b"11 0 R")])
def test_right_indirect_counts_are_left_alone(root, mid):
    doc = read_document(_nested(root, mid), dpi=36, min_pixels=1)
    assert doc.page_count == 3 and _texts(doc) == ["page 0", "page 1", "page 2"]
    assert doc.metadata.repaired is False and doc.metadata.warnings == ()


def test_a_wrong_indirect_root_count_is_recounted():
    doc = read_document(_nested(b"12 0 R", b"2", root_value=1), dpi=36, min_pixels=1)
    assert doc.page_count == 3 and _texts(doc) == ["page 0", "page 1", "page 2"]
    assert doc.metadata.repaired is True
    assert "page tree /Count said 1 but it holds 3 pages; recounted" in doc.metadata.warnings
