"""Review findings on `pagetree`: a /Count given as an indirect object (legal PDF) is read through,
so a right one is not "recounted" (the file flagged repaired) and a wrong one is recounted."""

from __future__ import annotations

import pytest

from raxdoc.ingest import read_document
from tests.ingest.pdf_bytes import nested_pages, page_texts


def _nested(root_count: bytes, mid_count: bytes, mid_value: int = 2, root_value: int = 3) -> bytes:
    """Root [mid [page 0, page 1], page 2]; object 11 holds `mid_value`, object 12 `root_value`."""
    return nested_pages(root_count, mid_count, b"%d" % mid_value, b"%d" % root_value)


@pytest.mark.parametrize(("root", "mid"), [(b"3", b"11 0 R"), (b"12 0 R", b"2"), (b"12 0 R", b"11 0 R")])
def test_right_indirect_counts_are_left_alone(root, mid):
    doc = read_document(_nested(root, mid), dpi=36, min_pixels=1)
    assert doc.page_count == 3 and page_texts(doc) == ["page 0", "page 1", "page 2"]
    assert doc.metadata.repaired is False and doc.metadata.warnings == ()


def test_a_wrong_indirect_root_count_is_recounted():
    doc = read_document(_nested(b"12 0 R", b"2", root_value=1), dpi=36, min_pixels=1)
    assert doc.page_count == 3 and page_texts(doc) == ["page 0", "page 1", "page 2"]
    assert doc.metadata.repaired is True
    assert "page tree /Count said 1 but it holds 3 pages; recounted" in doc.metadata.warnings
