"""Compaction: merging an output folder's small Parquet parts into few large ones, safe against a kill.

A run writes one part per table every `write_every` documents (`store`), so a long run, or many short
ones (resume after kills), leaves thousands of small files that every reader and every resume has to
open. `OutputStore.compact()` (the collector calls it at `close()`, under the run lock, after
`deduplicate`) merges every small part of the folder, this run's and earlier runs', in name order into
parts of up to `TARGET_BYTES` per table; a part that big already is left alone, and so is a part that
raxdoc did not write. A merged part keeps its members' rows and line items as they were (a documents
part and its `line_items` twin are merged together, so the twin rule of `store` and `supersede` holds)
and is named `part-<hash of its members' names>.parquet`: never a batch's name, never one of its own.

One merge, in this order (the journal names every file, so a kill at any step is finished or undone):
1. a journal `compacting-<key>.json` at the folder's root naming the merged part and its members;
2. the merged `line_items` then `documents` part, each written under a temporary name, then renamed to
   its staged name `.part-<key>.parquet.staged` (the staged documents part is the commit point);
3. the members' files removed (documents first, as `store` does);
4. the staged `line_items` then `documents` part renamed to `part-<key>.parquet`;
5. the journal removed.
`finish_compactions` (run when a store opens, before anything reads keys, and before each compaction)
completes what a killed run left: the merged documents part present, staged or published -> remove the
members still there and publish it (roll forward); absent -> remove the staged `line_items` part
(roll back); staged files no journal names (a journal removed by hand) are published or dropped by
whether they hold rows found nowhere else (`_unjournalled`). Either way every row is in exactly one part afterwards: a rerun never sees a row twice or misses one.

What a reader sees meanwhile. Temporary and staged names start with '.' and do not end in `.parquet`,
so neither the documented glob (`OUT/documents/*.parquet`, `OUT/line_items/*.parquet`: DuckDB,
polars, fsspec) nor a directory read (pyarrow/pandas datasets skip names starting with '.' or '_')
ever lists them. Because the members leave before the merged part arrives, a reader at any instant
sees each row at most once: never twice. Between steps 3 and 4 (two renames; or, after a kill there,
until the next open) the members' rows already removed are missing from what it sees; a reader that
needs every row reads while no journal exists (or under the run lock).

Not here: the folder layout and atomic single-table writes (`store`), removing superseded rows
(`supersede`).
"""

from __future__ import annotations

import json
import posixpath
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from raxdoc.pipeline.store import OutputStore

TARGET_BYTES = 64 * 2**20  # a merged part stops growing once either of its files would pass this
ROW_GROUP_ROWS = 16_384  # rows buffered per written row group: few groups, one member part in memory at a time
JOURNAL_PREFIX = "compacting-"
STAGED_SUFFIX = ".staged"


def compact(store: OutputStore, target_bytes: int = TARGET_BYTES) -> int:
    """Merge the folder's small parts; returns how many parts (per table) were merged away."""
    finish_compactions(store)
    removed = 0
    for group in _plan(store, target_bytes):
        _merge(store, group)
        removed += len(group) - 1
    return removed


def finish_compactions(store: OutputStore) -> int:
    """Complete or undo the merges a killed run left (their journals); returns how many there were."""
    from raxdoc.pipeline.store import DOCUMENTS, LINE_ITEMS

    journals = store.fs.glob(posixpath.join(store.root, f"{JOURNAL_PREFIX}*.json"))
    for path in journals:
        with store.fs.open(path, "rb") as f:
            plan = json.load(f)
        merged = plan["merged"]
        docs = posixpath.join(store._dir(DOCUMENTS), merged)
        if store.fs.exists(_staged(docs)) or store.fs.exists(docs):  # committed: roll forward
            _drop_parts(store, [p for p in plan["parts"] if p != merged])
            _publish(store, merged)
        else:  # a journal from before staging left its merged line_items part under the final name
            for items in (_staged(posixpath.join(store._dir(LINE_ITEMS), merged)),
                          posixpath.join(store._dir(LINE_ITEMS), merged)):
                if store.fs.exists(items):
                    store.fs.rm(items)
        store.fs.rm(path)
    _unjournalled(store)
    return len(journals)


def _unjournalled(store: OutputStore) -> None:
    """Staged files whose journal is gone (removed by hand): a staged documents part whose rows all
    stand in published parts is dropped with its twin; one holding a row found nowhere else (the
    members were already removed) is published, and `deduplicate` drops any row it doubles. A staged
    `line_items` part without its documents part never committed: dropped."""
    from raxdoc.pipeline.store import DOCUMENTS, LINE_ITEMS, _row_keys

    staged = store.fs.glob(posixpath.join(store._dir(DOCUMENTS), f".part-*{STAGED_SUFFIX}"))
    published = {k for p in store._parts(DOCUMENTS) for k in _row_keys(store._read_keys(p))} if staged else set()
    for path in staged:
        name = posixpath.basename(path)[1:-len(STAGED_SUFFIX)]
        if set(_row_keys(store._read_keys(path))) - published:
            _publish(store, name)
        else:
            _drop_staged(store, name)
    for path in store.fs.glob(posixpath.join(store._dir(LINE_ITEMS), f".part-*{STAGED_SUFFIX}")):
        store.fs.rm(path)


def _drop_staged(store: OutputStore, name: str) -> None:
    from raxdoc.pipeline.store import DOCUMENTS, LINE_ITEMS

    for table in (DOCUMENTS, LINE_ITEMS):  # documents first: the staged documents part commits
        path = _staged(posixpath.join(store._dir(table), name))
        if store.fs.exists(path):
            store.fs.rm(path)


def _staged(path: str) -> str:
    """A merged file's name until it is published: hidden from globs and dataset readers."""
    return posixpath.join(posixpath.dirname(path), f".{posixpath.basename(path)}{STAGED_SUFFIX}")


def _publish(store: OutputStore, name: str) -> None:
    """Rename a merge's staged files to their final names: line items first, the documents part last."""
    from raxdoc.pipeline.store import DOCUMENTS, LINE_ITEMS

    for table in (LINE_ITEMS, DOCUMENTS):
        path = posixpath.join(store._dir(table), name)
        if store.fs.exists(_staged(path)):
            store._rename(_staged(path), path)


def _sizes(store: OutputStore, table: str) -> dict[str, int]:
    """part name -> bytes on disk, from one listing (one request on an object store)."""
    sizes = {}
    for info in store.fs.ls(store._dir(table), detail=True):
        name = posixpath.basename(info["name"].rstrip("/"))
        if name.startswith("part-") and name.endswith(".parquet"):
            sizes[name] = int(info.get("size") or 0)
    return sizes


def _schemas(store: OutputStore, name: str) -> tuple[pa.Schema, pa.Schema | None] | None:
    """A part's (documents, line_items) schemas; None when it is not raxdoc's (no doc_id, not Parquet)."""
    from raxdoc.pipeline.store import DOCUMENTS, LINE_ITEMS

    try:
        with store.fs.open(posixpath.join(store._dir(DOCUMENTS), name), "rb") as f:
            docs = pq.read_schema(f)
        items_path = posixpath.join(store._dir(LINE_ITEMS), name)
        items = None
        if store.fs.exists(items_path):
            with store.fs.open(items_path, "rb") as f:
                items = pq.read_schema(f)
    except (pa.ArrowException, OSError):
        return None
    return (docs, items) if "doc_id" in docs.names else None


def _plan(store: OutputStore, target: int) -> list[list[str]]:
    """Runs of consecutive small parts with one schema, each run up to `target` bytes per table."""
    from raxdoc.pipeline.store import DOCUMENTS, LINE_ITEMS

    docs, items = _sizes(store, DOCUMENTS), _sizes(store, LINE_ITEMS)
    groups: list[list[str]] = [[]]
    schema, used = None, (0, 0)
    for name in sorted(docs):
        size = (docs[name], items.get(name, 0))
        if max(size) >= target // 2:  # big enough: rewriting it buys little
            continue
        schemas = _schemas(store, name)
        if schemas is None:
            continue
        fits = used[0] + size[0] <= target and used[1] + size[1] <= target
        if groups[-1] and (schemas != schema or not fits):
            groups.append([])
            used = (0, 0)
        schema = schemas
        groups[-1].append(name)
        used = (used[0] + size[0], used[1] + size[1])
    return [g for g in groups if len(g) > 1]


def _merge(store: OutputStore, group: list[str]) -> None:
    from raxdoc.pipeline.store import DOCUMENTS, LINE_ITEMS, batch_key

    key = batch_key(group)  # from the members' names: distinct from every batch's key (hashes of rows)
    name = f"part-{key}.parquet"
    journal = f"{JOURNAL_PREFIX}{key}.json"
    store.write_file(journal, json.dumps({"merged": name, "parts": group}).encode())
    for table in (LINE_ITEMS, DOCUMENTS):  # documents last: the staged documents part commits the merge
        paths = [posixpath.join(store._dir(table), p) for p in group]
        paths = [p for p in paths if store.fs.exists(p)]
        if paths:
            _concat(store, paths, _staged(posixpath.join(store._dir(table), name)))
    _drop_parts(store, group)  # before publishing: a reader never sees a row in a member and the merge
    _publish(store, name)
    store.fs.rm(store.path(journal))


def _concat(store: OutputStore, sources: list[str], path: str) -> None:
    """Write `sources` one after another into `path`, atomically (a temporary name, then renamed)."""
    from raxdoc.pipeline.store import tmp_path

    tmp = tmp_path(path)
    with store.fs.open(tmp, "wb") as f:
        writer, buffered = None, []
        for source in sources:
            table = store._read(source)
            writer = writer or pq.ParquetWriter(f, table.schema, compression="zstd")
            buffered.append(table)
            if sum(t.num_rows for t in buffered) >= ROW_GROUP_ROWS:
                writer.write_table(pa.concat_tables(buffered))
                buffered = []
        if buffered:
            writer.write_table(pa.concat_tables(buffered))
        writer.close()
    store._rename(tmp, path)


def _drop_parts(store: OutputStore, names: list[str]) -> None:
    """Remove these parts, documents first (a kill between leaves an orphan twin, which `_clean` drops)."""
    from raxdoc.pipeline.store import DOCUMENTS, LINE_ITEMS

    for name in names:
        for table in (DOCUMENTS, LINE_ITEMS):
            path = posixpath.join(store._dir(table), name)
            if store.fs.exists(path):
                store.fs.rm(path)
