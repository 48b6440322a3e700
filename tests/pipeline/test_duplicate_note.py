"""A copy's `duplicate_content` note stays true when a rerun supersedes the row it names."""

import json

from raxdoc.pipeline.collector import ResultCollector, resume_plan
from raxdoc.pipeline.finish import FinishSettings, duplicate_of
from raxdoc.pipeline.rows import RowKind, StageRow
from raxdoc.pipeline.store import LINE_ITEMS, OutputStore
from raxdoc.schemas import Invoice
from raxdoc.schemas.rows import documents_arrow_schema, line_items_arrow_schema

SETTINGS = FinishSettings(schema=Invoice, constrained=True, model="tiny", prompt_version="page-v1")
TEXT = json.dumps({"invoice_number": "INV-1", "currency": "EUR", "line_items": [
    {"description": "Widget", "quantity": "2", "unit_price": "1,50", "amount": "3,00"}]})


def _run(store, rows, sources, write_every=64):
    plan = resume_plan(store)
    c = ResultCollector(store, SETTINGS, documents_arrow_schema(Invoice), line_items_arrow_schema(Invoice), sources,
                        done_sources=plan.done_sources, previous=plan.previous, write_every=write_every)
    for doc_id, source in rows:
        kind = RowKind.SKIPPED if doc_id in plan.skip else RowKind.PAGE
        c.add(StageRow(doc_id, source, kind, page_index=0, page_count=1, file_page_count=1, text=TEXT))
    c.close()


def _notes(store):
    docs = store.read().to_pandas()
    return {s: ([duplicate_of(i) for i in issues if duplicate_of(i)] or [None])[0]
            for s, issues in zip(docs["source"], docs["issues"])}


def test_editing_the_first_copy_makes_the_other_the_holder(tmp_path):
    store = OutputStore(str(tmp_path))
    _run(store, [("d", "/in/a.pdf"), ("d", "/in/b.pdf")], ["/in/a.pdf", "/in/b.pdf"], write_every=1)
    assert _notes(store) == {"/in/a.pdf": None, "/in/b.pdf": "/in/a.pdf"}
    # a.pdf is edited (new bytes: a new doc_id); b.pdf is skipped by content.
    _run(store, [("d2", "/in/a.pdf"), ("d", "/in/b.pdf")], ["/in/a.pdf", "/in/b.pdf"])
    docs = store.read().to_pandas().set_index("source")
    assert docs.loc["/in/a.pdf", "doc_id"] == "d2" and docs.loc["/in/b.pdf", "doc_id"] == "d"
    assert _notes(store) == {"/in/a.pdf": None, "/in/b.pdf": None}  # b no longer names the edited file
    # b's content keeps its line items (written with a's old row), once.
    items = store.read(LINE_ITEMS).to_pandas()
    assert sorted(items["doc_id"]) == ["d", "d2"]


def test_three_copies_the_next_one_holds_and_the_rest_name_it(tmp_path):
    store = OutputStore(str(tmp_path))
    sources = ["/in/a.pdf", "/in/b.pdf", "/in/c.pdf", "/in/z.pdf"]
    _run(store, [("d", s) for s in sources], sources)
    _run(store, [("d2", "/in/a.pdf")] + [("d", s) for s in sources[1:]], sources)
    assert _notes(store) == {"/in/a.pdf": None, "/in/b.pdf": None, "/in/c.pdf": "/in/b.pdf",
                             "/in/z.pdf": "/in/b.pdf"}


def test_a_note_naming_a_row_that_stays_is_untouched(tmp_path):
    store = OutputStore(str(tmp_path))
    sources = ["/in/a.pdf", "/in/b.pdf", "/in/c.pdf"]
    _run(store, [("d", s) for s in sources], sources)
    _run(store, [("d", "/in/a.pdf"), ("d", "/in/b.pdf"), ("d3", "/in/c.pdf")], sources)  # a copy is edited
    assert _notes(store) == {"/in/a.pdf": None, "/in/b.pdf": "/in/a.pdf", "/in/c.pdf": None}
