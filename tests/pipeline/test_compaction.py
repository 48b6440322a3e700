"""Compaction: many tiny parts -> few, same rows, resume unchanged; a kill mid-merge never doubles or loses a row."""

import json

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import raxdoc.pipeline.compact as compact_mod
from raxdoc.pipeline.collector import ResultCollector, resume_plan
from raxdoc.pipeline.finish import FinishSettings
from raxdoc.pipeline.rows import RowKind, StageRow
from raxdoc.pipeline.store import DOCUMENTS, LINE_ITEMS, OutputStore
from raxdoc.schemas import Invoice
from raxdoc.schemas.rows import documents_arrow_schema, line_items_arrow_schema
from raxdoc.testing.fake_stage import page_text

SETTINGS = FinishSettings(schema=Invoice, constrained=True, model="tiny", prompt_version="page-v1")


def _run(out, sources, done=(), write_every=2, stop_after=None):
    """One collector run over `sources` (one page each, ids from the name); `stop_after`: killed before close."""
    store = OutputStore(str(out), lock=True)
    c = ResultCollector(store, SETTINGS, documents_arrow_schema(Invoice), line_items_arrow_schema(Invoice),
                        sources, write_every=write_every, done_sources=done)
    for source in sources[:stop_after]:
        c.add(StageRow(f"id-{source}", source, RowKind.PAGE, page_index=0, page_count=1, file_page_count=1,
                       text=page_text(0, 2)))
    if stop_after is not None:
        c._flush()  # what was written before the kill
        store.close()
        return c
    c.close()
    store.close()
    return c


def _parts(out, table):
    return sorted(p.name for p in (out / table).glob("*.parquet"))


def _rows(out, table):
    """The table as pandas and duckdb read it, sorted the same way."""
    keys = ["doc_id", "source"] if table == DOCUMENTS else ["doc_id", "page_index", "item_index"]
    pd_rows = pd.read_parquet(out / table)[keys].sort_values(keys).reset_index(drop=True)
    db_rows = duckdb.sql(f"SELECT {', '.join(keys)} FROM '{out}/{table}/*.parquet' ORDER BY ALL").df()
    pd.testing.assert_frame_equal(pd_rows, db_rows, check_dtype=False)
    return pd_rows


SOURCES = [f"/in/{i:03d}.pdf" for i in range(40)]


def test_many_tiny_batches_end_as_one_part_with_the_same_rows(tmp_path):
    out = tmp_path / "out"
    _run(out, SOURCES)
    assert _parts(out, DOCUMENTS) == _parts(out, LINE_ITEMS) and len(_parts(out, DOCUMENTS)) == 1
    docs, items = _rows(out, DOCUMENTS), _rows(out, LINE_ITEMS)
    assert sorted(docs["source"]) == SOURCES and not docs.duplicated().any()
    assert len(items) == 80 and not items.duplicated().any()
    assert not list(out.glob("compacting-*")) and not list(out.rglob("*.inprogress"))
    plan = resume_plan(OutputStore(str(out)))
    assert plan.skip == {f"id-{s}" for s in SOURCES}


def test_a_folder_of_killed_runs_is_compacted_by_the_next_close(tmp_path):
    out = tmp_path / "out"
    _run(out, SOURCES[:20], write_every=1, stop_after=15)  # killed: 15 tiny parts, no close
    assert len(_parts(out, DOCUMENTS)) == 15
    _run(out, SOURCES[:20], write_every=1, stop_after=18)  # its rows are written again (the test skips nothing)
    plan = resume_plan(OutputStore(str(out)))
    rest = [s for s in SOURCES if f"id-{s}" not in plan.skip]
    _run(out, rest, write_every=1)
    assert len(_parts(out, DOCUMENTS)) == len(_parts(out, LINE_ITEMS)) == 1
    docs = _rows(out, DOCUMENTS)
    assert sorted(docs["source"]) == SOURCES and not docs.duplicated().any()
    assert len(_rows(out, LINE_ITEMS)) == 80


def test_big_parts_stay_and_groups_stop_at_the_target(tmp_path):
    out = tmp_path / "out"
    _run(out, SOURCES, write_every=4, stop_after=40)  # 10 parts, not compacted
    sizes = [(out / t / p).stat().st_size for t in (DOCUMENTS, LINE_ITEMS) for p in _parts(out, DOCUMENTS)]
    # Each merged part holds at most ~3 members' bytes; big parts (>= target/2) are not touched.
    store = OutputStore(str(out))
    merged = compact_mod.compact(store, target_bytes=3 * max(sizes) + 1)
    assert 0 < merged < 9
    assert 1 < len(_parts(out, DOCUMENTS)) < 10 and _parts(out, DOCUMENTS) == _parts(out, LINE_ITEMS)
    assert sorted(_rows(out, DOCUMENTS)["source"]) == SOURCES
    assert compact_mod.compact(store, target_bytes=2 * max(sizes) - 1) == 0  # every part is big now


@pytest.mark.parametrize("reopen_with_lock", [True, False])
def test_a_kill_in_the_delete_step_leaves_no_duplicates(tmp_path, monkeypatch, reopen_with_lock):
    out = tmp_path / "out"
    _run(out, SOURCES, stop_after=40)  # 20 parts
    before_docs, before_items = _rows(out, DOCUMENTS), _rows(out, LINE_ITEMS)
    real = compact_mod._drop_parts
    calls = []

    def dies_after_one(store, names):
        calls.append(names)
        real(store, names[:1])  # one member removed, then the process dies
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(compact_mod, "_drop_parts", dies_after_one)
    with pytest.raises(KeyboardInterrupt):
        OutputStore(str(out), lock=True).compact()
    monkeypatch.setattr(compact_mod, "_drop_parts", real)
    journal = json.loads(next(out.glob("compacting-*.json")).read_text())
    assert journal["merged"] in _parts(out, DOCUMENTS)  # the merged part landed: plain readers see doubles now
    assert pq.read_table(out / DOCUMENTS).num_rows > len(before_docs)
    store = OutputStore(str(out), lock=reopen_with_lock)  # the next open finishes the merge
    assert _parts(out, DOCUMENTS) == _parts(out, LINE_ITEMS) == [journal["merged"]]
    pd.testing.assert_frame_equal(_rows(out, DOCUMENTS), before_docs)
    pd.testing.assert_frame_equal(_rows(out, LINE_ITEMS), before_items)
    assert not list(out.glob("compacting-*")) and store.deduplicate() == 0


def test_a_kill_before_the_merge_commits_keeps_the_old_parts(tmp_path, monkeypatch):
    out = tmp_path / "out"
    _run(out, SOURCES[:10], stop_after=10)
    before = _parts(out, DOCUMENTS)
    real = compact_mod._concat

    def dies_on_documents(store, sources, path):
        if f"/{DOCUMENTS}/" in path:
            raise KeyboardInterrupt("killed")
        real(store, sources, path)

    monkeypatch.setattr(compact_mod, "_concat", dies_on_documents)
    with pytest.raises(KeyboardInterrupt):
        OutputStore(str(out), lock=True).compact()
    monkeypatch.setattr(compact_mod, "_concat", real)
    assert len(_parts(out, LINE_ITEMS)) == len(before) + 1  # the merged items landed, uncommitted
    OutputStore(str(out), lock=True)
    assert _parts(out, DOCUMENTS) == _parts(out, LINE_ITEMS) == before
    assert len(_rows(out, LINE_ITEMS)) == 20 and not list(out.glob("compacting-*"))


def test_without_its_journal_dedupe_still_drops_the_doubled_rows(tmp_path, monkeypatch):
    out = tmp_path / "out"
    _run(out, SOURCES[:10], stop_after=10)
    monkeypatch.setattr(compact_mod, "_drop_parts", lambda store, names: (_ for _ in ()).throw(OSError("gone")))
    with pytest.raises(OSError):
        OutputStore(str(out), lock=True).compact()
    next(out.glob("compacting-*.json")).unlink()  # removed by hand
    store = OutputStore(str(out))
    assert store.deduplicate() == 10
    docs, items = _rows(out, DOCUMENTS), _rows(out, LINE_ITEMS)
    assert len(docs) == 10 and not docs.duplicated().any()
    assert len(items) == 20 and not items.duplicated().any()


def test_a_foreign_part_is_never_merged(tmp_path):
    out = tmp_path / "out"
    _run(out, SOURCES[:6], stop_after=6)
    pq.write_table(pa.table({"x": [1]}), out / DOCUMENTS / "part-export.parquet")
    OutputStore(str(out)).compact()
    assert "part-export.parquet" in _parts(out, DOCUMENTS) and len(_parts(out, DOCUMENTS)) == 2
