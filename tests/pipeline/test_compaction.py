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
    # The merged part is staged (hidden) until the members are gone: readers see fewer rows, never doubles.
    assert journal["merged"] not in _parts(out, DOCUMENTS)
    assert (out / DOCUMENTS / f".{journal['merged']}{compact_mod.STAGED_SUFFIX}").exists()
    assert pq.read_table(out / DOCUMENTS).num_rows == len(before_docs) - 2
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
    assert _parts(out, LINE_ITEMS) == before  # the merged items are staged, uncommitted, hidden
    assert len(list((out / LINE_ITEMS).glob(f".*{compact_mod.STAGED_SUFFIX}"))) == 1
    OutputStore(str(out), lock=True)
    assert _parts(out, DOCUMENTS) == _parts(out, LINE_ITEMS) == before
    assert not list(out.rglob(f".*{compact_mod.STAGED_SUFFIX}"))
    assert len(_rows(out, LINE_ITEMS)) == 20 and not list(out.glob("compacting-*"))


def test_without_its_journal_the_staged_merge_is_dropped_and_nothing_doubles(tmp_path, monkeypatch):
    out = tmp_path / "out"
    _run(out, SOURCES[:10], stop_after=10)
    monkeypatch.setattr(compact_mod, "_drop_parts", lambda store, names: (_ for _ in ()).throw(OSError("gone")))
    with pytest.raises(OSError):
        OutputStore(str(out), lock=True).compact()
    next(out.glob("compacting-*.json")).unlink()  # removed by hand
    store = OutputStore(str(out))
    assert store.deduplicate() == 0 and not list(out.rglob(f".*{compact_mod.STAGED_SUFFIX}"))
    docs, items = _rows(out, DOCUMENTS), _rows(out, LINE_ITEMS)
    assert len(docs) == 10 and not docs.duplicated().any()
    assert len(items) == 20 and not items.duplicated().any()


def test_without_its_journal_a_staged_merge_whose_members_are_gone_is_published(tmp_path, monkeypatch):
    out = tmp_path / "out"
    _run(out, SOURCES[:10], stop_after=10)
    before_docs, before_items = _rows(out, DOCUMENTS), _rows(out, LINE_ITEMS)
    monkeypatch.setattr(compact_mod, "_publish", lambda store, name: (_ for _ in ()).throw(OSError("gone")))
    with pytest.raises(OSError):
        OutputStore(str(out), lock=True).compact()  # members removed, the merge still staged
    monkeypatch.undo()
    next(out.glob("compacting-*.json")).unlink()  # removed by hand
    assert _parts(out, DOCUMENTS) == []
    OutputStore(str(out), lock=True)
    pd.testing.assert_frame_equal(_rows(out, DOCUMENTS), before_docs)
    pd.testing.assert_frame_equal(_rows(out, LINE_ITEMS), before_items)
    assert len(_parts(out, DOCUMENTS)) == 1 and not list(out.rglob(".*"))


def test_a_foreign_part_is_never_merged(tmp_path):
    out = tmp_path / "out"
    _run(out, SOURCES[:6], stop_after=6)
    pq.write_table(pa.table({"x": [1]}), out / DOCUMENTS / "part-export.parquet")
    OutputStore(str(out)).compact()
    assert "part-export.parquet" in _parts(out, DOCUMENTS) and len(_parts(out, DOCUMENTS)) == 2


def _visible(out, table):
    """Row keys a reader sees now, read two ways: the documented glob file by file (DuckDB and
    polars list the same files) and a pyarrow dataset over the folder (pandas' directory read)."""
    import pyarrow.dataset as ds

    keys = ["doc_id", "source"] if table == DOCUMENTS else ["doc_id", "page_index", "item_index"]
    globbed = [k for p in sorted((out / table).glob("*.parquet"))
               for k in zip(*pq.read_table(p, columns=keys).to_pydict().values())]
    found = ds.dataset(out / table, format="parquet")
    dataset = list(zip(*found.to_table(columns=keys).to_pydict().values())) if found.files else []
    assert sorted(globbed) == sorted(dataset)
    return globbed


def _every_file_step(store, monkeypatch, after):
    """Call `after(n)` after each removal or rename the store makes (n counts them)."""
    count = [0]
    real_rm, real_rename = store.fs.rm, store._rename

    def step():
        count[0] += 1
        after(count[0])

    monkeypatch.setattr(store.fs, "rm", lambda *a, **k: (real_rm(*a, **k), step())[0])
    monkeypatch.setattr(store, "_rename", lambda *a, **k: (real_rename(*a, **k), step())[0])
    return count


def test_a_reader_never_sees_a_row_twice_during_a_merge_or_after_a_kill(tmp_path, monkeypatch):
    """The documented glob and a dataset read see each row at most once after every file step of a
    merge; stopped after any step, the next open leaves every row exactly once."""
    import shutil

    base = tmp_path / "base"
    _run(base, SOURCES[:8], stop_after=8)  # 4 parts
    want = {t: sorted(_visible(base, t)) for t in (DOCUMENTS, LINE_ITEMS)}

    def check(out):
        for table in (DOCUMENTS, LINE_ITEMS):
            seen = _visible(out, table)
            assert len(seen) == len(set(seen)) and set(seen) <= set(want[table])

    out = tmp_path / "watched"
    shutil.copytree(base, out)
    store = OutputStore(str(out), lock=True)
    steps = _every_file_step(store, monkeypatch, lambda n: check(out))
    store.compact()
    monkeypatch.undo()
    store.close()
    assert {t: sorted(_visible(out, t)) for t in want} == want and len(_parts(out, DOCUMENTS)) == 1
    total = steps[0]
    assert total >= 13  # journal, 2 stagings, 8 member files, 2 publishes, journal removed
    for stop in range(1, total + 1):
        out = tmp_path / f"stop{stop}"
        shutil.copytree(base, out)
        store = OutputStore(str(out), lock=True)

        def die(n, stop=stop):
            if n == stop:
                raise KeyboardInterrupt("killed")

        _every_file_step(store, monkeypatch, die)
        with pytest.raises(KeyboardInterrupt):
            store.compact()
        monkeypatch.undo()
        store.close()
        check(out)
        OutputStore(str(out), lock=True).close()  # the next open finishes or undoes the merge
        assert {t: sorted(_visible(out, t)) for t in want} == want, stop
        assert not list(out.glob("compacting-*")) and not list(out.rglob(".*"))

