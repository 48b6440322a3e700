"""`DocumentAssembler`: typed page rows in any order -> each document once, whole or left over."""

import dataclasses

import pytest

from raxdoc.pipeline.assemble import DocumentAssembler
from raxdoc.pipeline.rows import RowKind, StageRow


def _page(doc, i, n, text="{}"):
    return StageRow(doc, f"/in/{doc}.pdf", RowKind.PAGE, page_index=i, page_count=n, text=text)


def test_pages_in_any_order_complete_a_document_once():
    asm = DocumentAssembler()
    assert asm.add(_page("a", 2, 3)) is None
    assert asm.add(_page("b", 0, 1)).doc_id == "b"
    assert asm.add(_page("a", 0, 3)) is None
    done = asm.add(_page("a", 1, 3))
    assert done is not None and [p.page_index for p in done.ordered_pages()] == [0, 1, 2]
    assert len(asm) == 0 and list(asm.leftovers()) == []


def test_duplicate_pages_and_late_rows_are_ignored():
    asm = DocumentAssembler()
    asm.add(_page("a", 0, 2, text="first"))
    asm.add(_page("a", 0, 2, text="retry"))
    done = asm.add(_page("a", 1, 2))
    assert done.pages[0].text == "first"
    assert asm.add(_page("a", 1, 2)) is None  # a retried batch after the document was written
    assert asm.add(_page("a", 0, 2)) is None and len(asm) == 0


def test_document_error_row_finishes_without_pages():
    asm = DocumentAssembler()
    doc = asm.add(StageRow("x", "/in/x.pdf", RowKind.DOC_ERROR, error_type="encrypted_document",
                           error="password required"))
    assert doc.complete and doc.error.error_type == "encrypted_document" and doc.pages == {}


def test_skip_rows_are_not_assembled():
    with pytest.raises(ValueError, match="SKIPPED"):
        DocumentAssembler().add(StageRow("x", "/in/x.pdf", RowKind.SKIPPED))


def test_leftovers_report_missing_pages():
    asm = DocumentAssembler()
    asm.add(_page("a", 0, 4))
    asm.add(_page("a", 3, 4))
    (doc,) = list(asm.leftovers())
    assert doc.missing_pages() == [1, 2]
    assert list(asm.leftovers()) == []
    assert asm.add(_page("a", 1, 4)) is None  # already reported


def test_identical_files_under_two_names_are_two_documents():
    # Same bytes -> same doc_id; each file still completes (and is reported) on its own.
    asm = DocumentAssembler()
    a = dataclasses.replace(_page("d", 0, 2), source="/in/a.pdf")
    b = dataclasses.replace(_page("d", 0, 2), source="/in/b.pdf")
    assert asm.add(a) is None and asm.add(b) is None
    done_a = asm.add(dataclasses.replace(a, page_index=1))
    done_b = asm.add(dataclasses.replace(b, page_index=1))
    assert (done_a.source, done_b.source) == ("/in/a.pdf", "/in/b.pdf")
    assert done_a.doc_id == done_b.doc_id == "d" and len(done_b.pages) == 2
    assert asm.add(b) is None and len(asm) == 0
