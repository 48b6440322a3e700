"""The driver end without Ray: typed rows in, Parquet rows out (identical files, resume, lost inputs)."""

import json

from raxdoc.pipeline.collector import ResultCollector, resume_plan
from raxdoc.pipeline.finish import FinishSettings
from raxdoc.schemas import Invoice
from raxdoc.schemas.rows import documents_arrow_schema, error_row, line_items_arrow_schema, to_table
from raxdoc.pipeline.rows import RowKind, StageRow, source_id
from raxdoc.pipeline.store import LINE_ITEMS, OutputStore

SETTINGS = FinishSettings(schema=Invoice, constrained=True, model="tiny", prompt_version="page-v1")
TEXT = json.dumps({"invoice_number": "INV-1", "currency": "EUR", "line_items": [
    {"description": "Widget", "quantity": "2", "unit_price": "1,50", "amount": "3,00"}]})


def _collector(store, sources, **kw):
    return ResultCollector(store, SETTINGS, documents_arrow_schema(Invoice), line_items_arrow_schema(Invoice),
                           sources, **kw)


def _page(doc_id, source, i, n):
    return StageRow(doc_id, source, RowKind.PAGE, page_index=i, page_count=n, file_page_count=n, text=TEXT,
                    t_engine=0.1)


def test_identical_files_each_get_a_row_and_items_are_written_once(tmp_path):
    store = OutputStore(str(tmp_path))
    events = []
    c = _collector(store, ["/in/a.pdf", "/in/b.pdf", "/in/c.pdf"], write_every=1, on_progress=events.append)
    for row in (_page("d", "/in/a.pdf", 0, 2), _page("d", "/in/b.pdf", 0, 2), _page("d", "/in/b.pdf", 1, 2),
                _page("d", "/in/a.pdf", 1, 2), _page("e", "/in/c.pdf", 0, 1)):
        c.add(row)
    c.close()
    docs = store.read().to_pandas().set_index("source")
    assert sorted(docs.index) == ["/in/a.pdf", "/in/b.pdf", "/in/c.pdf"]
    assert docs.loc["/in/a.pdf", "doc_id"] == docs.loc["/in/b.pdf", "doc_id"] == "d"
    # b finished first, so a is the copy.
    assert [i["kind"] for i in docs.loc["/in/a.pdf", "issues"]] == ["duplicate_content"]
    items = store.read(LINE_ITEMS).to_pandas()
    assert not items.duplicated(["doc_id", "page_index", "item_index"]).any()
    assert sorted(set(items["doc_id"])) == ["d", "e"]
    assert c.counts["ok"] + c.counts["partial"] + c.counts["error"] == 3
    assert events[-1]["documents_done"] == events[-1]["documents_total"] == 3
    assert events[-1]["pages_done"] == events[-1]["pages_total"] == 5


def _write(store, *rows):
    store.write_batch(to_table(list(rows), documents_arrow_schema(Invoice)))


def test_unreadable_sources_are_retried_once_and_never_doubled(tmp_path):
    store = OutputStore(str(tmp_path))
    _write(store, error_row(source_id("/in/x.pdf"), "/in/x.pdf", "source_unreadable", "permission denied"),
           error_row(source_id("/in/lost.pdf"), "/in/lost.pdf", "lost", "no result"),
           error_row("h", "/in/y.pdf", "encrypted_document", "password"))
    plan = resume_plan(store)
    assert plan.skip == {"h"} and plan.done_sources == {"/in/y.pdf"}
    # source: rows are not done: their sources are read again, and the new rows replace them at close.
    assert {d for d, _ in plan.previous} - plan.skip == {source_id("/in/x.pdf"), source_id("/in/lost.pdf")}
    c = _collector(store, ["/in/lost.pdf", "/in/x.pdf", "/in/y.pdf"], done_sources=plan.done_sources,
                   previous=plan.previous)
    c.add(StageRow("h", "/in/y.pdf", RowKind.SKIPPED))
    # x is readable now; lost is still unreadable.
    c.add(_page("x-bytes", "/in/x.pdf", 0, 1))
    c.add(StageRow(source_id("/in/lost.pdf"), "/in/lost.pdf", RowKind.DOC_ERROR, error_type="source_unreadable",
                   error="permission denied"))
    c.close()
    docs = store.read().to_pandas()
    assert sorted(docs["source"]) == ["/in/lost.pdf", "/in/x.pdf", "/in/y.pdf"]
    assert docs.set_index("source").loc["/in/x.pdf", "doc_id"] == "x-bytes"
    assert c.counts["skipped"] == 1


def test_a_source_with_a_content_row_gets_no_error_row_when_unreadable_later(tmp_path):
    store = OutputStore(str(tmp_path))
    _write(store, error_row("h", "/in/y.pdf", "encrypted_document", "password"))
    plan = resume_plan(store)
    c = _collector(store, ["/in/y.pdf"], done_sources=plan.done_sources, previous=plan.previous)
    c.add(StageRow(source_id("/in/y.pdf"), "/in/y.pdf", RowKind.DOC_ERROR, error_type="source_unreadable",
                   error="gone"))
    c.close()
    assert store.read().column("doc_id").to_pylist() == ["h"] and c.counts["skipped"] == 1


def test_inputs_that_never_came_back_get_a_lost_row(tmp_path):
    store = OutputStore(str(tmp_path))
    c = _collector(store, ["/in/a.pdf", "/in/b.pdf"])
    c.add(_page("d", "/in/a.pdf", 0, 3))  # pages 1 and 2 never come back; b never does
    c.close()
    docs = store.read().to_pandas().set_index("source")
    assert docs.loc["/in/b.pdf", "error_type"] == "lost"
    assert docs.loc["/in/b.pdf", "doc_id"] == source_id("/in/b.pdf")
    assert docs.loc["/in/a.pdf", "status"] in ("partial", "error")
    assert len(docs.loc["/in/a.pdf", "failed_pages"]) == 2


def test_rows_repeated_by_a_retried_batch_count_once(tmp_path):
    store = OutputStore(str(tmp_path))
    events = []
    c = _collector(store, ["/in/a.pdf"], on_progress=events.append)
    for row in (_page("d", "/in/a.pdf", 0, 2), _page("d", "/in/a.pdf", 0, 2), _page("d", "/in/a.pdf", 1, 2),
                _page("d", "/in/a.pdf", 1, 2), _page("d", "/in/a.pdf", 0, 2)):
        c.add(row)
    c.close()
    assert c.counts["pages"] == 2 and store.read().num_rows == 1
    assert events[-1]["pages_done"] == events[-1]["pages_total"] == 2


def test_bookkeeping_shrinks_as_inputs_come_back(tmp_path):
    """The driver keeps no per-input list: what is left unseen shrinks; items written are not remembered
    unless an earlier row of that doc_id could be superseded (the soak bench's flat memory)."""
    store = OutputStore(str(tmp_path))
    sources = [f"/in/{i}.pdf" for i in range(5)]
    c = _collector(store, sources, write_every=2, previous=[("d0", "/in/0.pdf"), ("old", "/in/1.pdf")])
    for i, source in enumerate(sources[:4]):
        c.add(_page(f"d{i}", source, 0, 1))
    assert c.unseen == {"/in/4.pdf"} and c.progress["documents_total"] == 5
    assert c.refreshed == {"d0"}
    c.close()
    assert c.counts["error"] == 1  # the unseen one got its lost row
    assert sorted(store.read().column("source").to_pylist()) == sources


def test_late_rows_after_a_document_is_written_make_no_second_row_and_a_skip_counts_once(tmp_path):
    """A retried batch (or ingest task) can repeat a written document's rows at any time: no second
    row, and a source skipped twice (its ingest task retried) is one skip."""
    store = OutputStore(str(tmp_path))
    sources = [f"/in/{i}.pdf" for i in range(6)]
    c = _collector(store, sources, write_every=2, done_sources=["/in/5.pdf"])
    for i, source in enumerate(sources[:5]):
        c.add(_page(f"d{i}", source, 0, 1))
    c.add(StageRow("d5", "/in/5.pdf", RowKind.SKIPPED))
    for i, source in enumerate(sources[:5]):  # late repeats, after every document was finished
        c.add(_page(f"d{i}", source, 0, 1))
    c.add(StageRow("d5", "/in/5.pdf", RowKind.SKIPPED))
    assert len(c.assembler) == 0 and not c.unseen
    c.close()
    assert sorted(store.read().column("source").to_pylist()) == sources[:5]
    assert c.counts["ok"] == 5 and c.counts["skipped"] == 1 and c.counts["pages"] == 5
    assert c.progress["documents_done"] == c.progress["documents_total"] == 6
