"""Compaction: merging an output folder's small Parquet parts into few large ones, safe against a kill.

A run writes one part per table every `write_every` documents (`store`), so a long run, or many short
ones (resume after kills), leaves thousands of small files that every reader and every resume has to
open. `OutputStore.compact()` (the collector calls it at `close()`, under the run lock, after
`deduplicate`) merges every small part of the folder, this run's and earlier runs', in name order into
parts of up to `TARGET_BYTES` per table; a part that big already is left alone, and so is a part that
raxdoc did not write. A merged part keeps its members' rows and line items as they were (a documents
part and its `line_items` twin are merged together, so the twin rule of `store` and `supersede` holds)
and is named `part-<hash of its members' names>.parquet`: never a batch's name, never one of its own.

One merge, in this order: a journal `compacting-<key>.json` at the folder's root naming the merged part
and its members; the merged `line_items` then `documents` part, each under a temporary name then
renamed (the documents part is the commit point); the members' files removed; the journal removed.
`finish_compactions` (run when a store opens, before anything reads keys, and before each compaction)
completes what a killed run left: merged documents part present -> remove the members still there
(roll forward); absent -> remove a merged `line_items` part if any (roll back). Either way every row
is in exactly one part afterwards: a rerun never sees a row twice or misses one. Only a reader that
globs the files directly, during a merge's remove step or after a kill there and before the next open,
sees the merged rows twice; the journal names them. Were the journal removed by hand, `deduplicate` at
the next close still drops the second copy of every documents row, and the line items of a part that
lost all its rows (see its docstring).

Not here: the folder layout and atomic single-table writes (`store`), removing superseded rows
(`supersede`).
"""

from __future__ import annotations

import json
import posixpath
import uuid
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from raxdoc.pipeline.store import OutputStore

TARGET_BYTES = 64 * 2**20  # a merged part stops growing once either of its files would pass this
ROW_GROUP_ROWS = 16_384  # rows buffered per written row group: few groups, one member part in memory at a time
JOURNAL_PREFIX = "compacting-"


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
        if store.fs.exists(posixpath.join(store._dir(DOCUMENTS), merged)):
            _drop_parts(store, [p for p in plan["parts"] if p != merged])
        elif store.fs.exists(posixpath.join(store._dir(LINE_ITEMS), merged)):
            store.fs.rm(posixpath.join(store._dir(LINE_ITEMS), merged))
        store.fs.rm(path)
    return len(journals)


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
    for table in (LINE_ITEMS, DOCUMENTS):  # documents last: the merged documents part commits the merge
        paths = [posixpath.join(store._dir(table), p) for p in group]
        paths = [p for p in paths if store.fs.exists(p)]
        if paths:
            _concat(store, paths, posixpath.join(store._dir(table), name))
    _drop_parts(store, group)
    store.fs.rm(store.path(journal))


def _concat(store: OutputStore, sources: list[str], path: str) -> None:
    """Write `sources` one after another into `path`, atomically (a temporary name, then renamed)."""
    from raxdoc.pipeline.store import _TMP_SUFFIX

    tmp = f"{path}.{uuid.uuid4().hex[:8]}{_TMP_SUFFIX}"
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
