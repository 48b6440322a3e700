import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raxdoc.pipeline.store import DOCUMENTS, LINE_ITEMS, OutputStore, batch_key


def _docs(*ids):
    return pa.table({"doc_id": list(ids), "status": ["ok"] * len(ids)})


def _items(*ids):
    return pa.table({"doc_id": [i for i in ids for _ in range(2)], "item_index": [0, 1] * len(ids)})


def test_write_then_resume_sees_done_ids(tmp_path):
    store = OutputStore(str(tmp_path))
    store.write_batch(_docs("a", "b"), _items("a", "b"))
    store.write_batch(_docs("c"), None)
    again = OutputStore(str(tmp_path))
    assert again.done_doc_ids() == {"a", "b", "c"}
    assert again.read(LINE_ITEMS).num_rows == 4
    # Plain readers see only committed parts.
    assert pq.read_table(tmp_path / DOCUMENTS).num_rows == 3


def test_retried_batch_overwrites_instead_of_duplicating(tmp_path):
    store = OutputStore(str(tmp_path))
    first = store.write_batch(_docs("b", "a"), _items("a", "b"))
    second = store.write_batch(_docs("a", "b"), _items("a", "b"))
    assert first == second
    assert store.read().num_rows == 2 and store.read(LINE_ITEMS).num_rows == 4


def test_killed_run_leaves_nothing_trusted(tmp_path):
    store = OutputStore(str(tmp_path))
    store.write_batch(_docs("a"), _items("a"))
    # A run killed mid-write: a temporary file and a line_items part without its documents part.
    (tmp_path / DOCUMENTS / "part-zzz.parquet.1234.inprogress").write_bytes(b"PAR1 half")
    pq.write_table(_items("x"), tmp_path / LINE_ITEMS / f"part-{batch_key(['x'])}.parquet")
    reopened = OutputStore(str(tmp_path))
    assert reopened.done_doc_ids() == {"a"}
    assert set(reopened.read(LINE_ITEMS).column("doc_id").to_pylist()) == {"a"}
    assert not list((tmp_path / DOCUMENTS).glob("*.inprogress"))


def test_deduplicate_drops_documents_seen_in_an_earlier_part(tmp_path):
    store = OutputStore(str(tmp_path))
    store.write_batch(_docs("a", "b"), _items("a", "b"))
    store.write_batch(_docs("b", "c"), _items("b", "c"))  # b again, grouped differently
    assert store.read().num_rows == 4
    assert store.deduplicate() == 1
    assert sorted(store.read().column("doc_id").to_pylist()) == ["a", "b", "c"]
    assert store.read(LINE_ITEMS).num_rows == 6
    assert store.deduplicate() == 0


def test_fsspec_memory_url_and_empty_batch():
    store = OutputStore("memory://raxdoc-store-test")
    store.write_batch(_docs("m"))
    assert OutputStore("memory://raxdoc-store-test").done_doc_ids() == {"m"}
    with pytest.raises(ValueError, match="at least one"):
        store.write_batch(_docs())


def _sourced(*pairs):
    return pa.table({"doc_id": [d for d, _ in pairs], "source": [s for _, s in pairs],
                     "status": ["ok"] * len(pairs)})


def test_identical_files_written_apart_both_keep_their_row(tmp_path):
    # Two files with the same bytes share a doc_id; finished in different batches, neither
    # documents part may overwrite the other, and deduplicate keeps both.
    store = OutputStore(str(tmp_path))
    first = store.write_batch(_sourced(("d", "/in/a.pdf")), _items("d"))
    second = store.write_batch(_sourced(("d", "/in/b.pdf")))
    assert first != second
    assert store.deduplicate() == 0
    assert sorted(store.read().column("source").to_pylist()) == ["/in/a.pdf", "/in/b.pdf"]
    store.write_batch(_sourced(("d", "/in/b.pdf"), ("e", "/in/e.pdf")))  # b again, grouped differently
    assert store.deduplicate() == 1
    assert sorted(store.read().column("source").to_pylist()) == ["/in/a.pdf", "/in/b.pdf", "/in/e.pdf"]
    assert store.read(LINE_ITEMS).num_rows == 2


def test_drop_doc_ids_removes_rows_and_their_line_items(tmp_path):
    store = OutputStore(str(tmp_path))
    store.write_batch(_docs("a", "source:x"), _items("a", "source:x"))
    store.write_batch(_docs("source:y"), _items("source:y"))
    assert store.drop_doc_ids({"source:x", "source:y"}) == 2
    assert store.done_doc_ids() == {"a"}
    assert set(store.read(LINE_ITEMS).column("doc_id").to_pylist()) == {"a"}
    assert store.drop_doc_ids(set()) == 0


def test_rewriting_a_local_part_never_removes_it_first(tmp_path, monkeypatch):
    store = OutputStore(str(tmp_path))
    store.write_batch(_docs("a", "b"), _items("a", "b"))

    def no_rm(path, *a, **k):
        raise AssertionError(f"removed {path}: a kill here would lose the committed part")

    monkeypatch.setattr(store.fs, "rm", no_rm)
    store.write_batch(_docs("a", "b"), _items("a", "b"))  # the same batch again (a retry)
    assert store.read().num_rows == 2 and store.read(LINE_ITEMS).num_rows == 4


def test_deduplicate_reads_whole_parts_only_where_rows_repeat(tmp_path, monkeypatch):
    store = OutputStore(str(tmp_path))
    store.write_batch(_docs("a", "b"), _items("a", "b"))
    store.write_batch(_docs("c"), _items("c"))
    read = []
    real = OutputStore._read
    monkeypatch.setattr(OutputStore, "_read", lambda self, path: read.append(path) or real(self, path))
    assert store.deduplicate() == 0 and read == []  # the end-of-run check on a clean store: ids only
    store.write_batch(_docs("c", "d"))
    assert store.deduplicate() == 1 and len(read) >= 1


def test_a_batch_without_line_items_still_writes_an_empty_line_items_part(tmp_path):
    import duckdb

    store = OutputStore(str(tmp_path))
    empty = pa.table({"doc_id": pa.array([], pa.string()), "item_index": pa.array([], pa.int64())})
    name = store.write_batch(_docs("a"), empty)
    assert (tmp_path / LINE_ITEMS / name).exists()
    # A query over the line_items glob works on a run with no line items at all.
    count = duckdb.sql(f"SELECT count(*), count(item_index) FROM '{tmp_path}/{LINE_ITEMS}/*.parquet'").fetchall()
    assert count == [(0, 0)]


def test_dropping_every_item_of_a_part_keeps_its_empty_twin(tmp_path):
    store = OutputStore(str(tmp_path))
    name = store.write_batch(_docs("a", "b"), _items("a"))
    assert store.drop_doc_ids({"a"}) == 1
    assert (tmp_path / LINE_ITEMS / name).exists() and pq.read_table(tmp_path / LINE_ITEMS / name).num_rows == 0
    store.drop_doc_ids({"b"})
    assert not (tmp_path / DOCUMENTS / name).exists() and not (tmp_path / LINE_ITEMS / name).exists()
