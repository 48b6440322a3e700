"""Removing rows a rerun superseded from an output folder, line items included.

A rerun writes a new row for an input whose bytes changed, whose earlier row was a `source:` error
(unreadable, lost) or, with `--retry-errors`, an error; `collector` decides which earlier rows the
new ones supersede and calls `replace_rows` once they are written, so an input is never left
without a row. Part of `OutputStore` (its method `replace_rows` calls this), split off for size.

Line items are keyed by `doc_id` alone and written once per doc_id, beside the first of the
identical files that share it (`collector`). So removing a row removes its doc_id's items only
when no row of that doc_id is left (the other path of an identical pair still uses them), or when
this run wrote that doc_id's items anew (`refreshed`). A documents part left without rows whose
twin still holds items another row uses stays as an empty (zero-row) part: the twin's commit record,
which every Parquet reader takes as no rows.

Not here: which rows are superseded (`collector`), the folder layout and atomic writes (`store`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from raxdoc.pipeline.store import OutputStore


def replace_rows(store: OutputStore, stale: Iterable[tuple[str, str]], *, keep: Iterable[str] = (),
                 refreshed: Iterable[str] = ()) -> int:
    """Remove the rows `stale` (doc_id, source) from every documents part not named in `keep` (the
    parts this run wrote, which may hold the same key anew); returns the documents rows removed."""
    from raxdoc.pipeline.store import DOCUMENTS, LINE_ITEMS

    stale, keep = set(stale), set(keep)
    if not stale:
        return 0
    parts = store._parts(DOCUMENTS)
    masks: dict[str, list[bool]] = {}
    left: set[str] = set()  # doc_ids of the rows that stay
    for path in parts:
        keys = _keys(store._read_keys(path))
        masks[path] = [posixpath.basename(path) in keep or k not in stale for k in keys]
        left.update(d for (d, _), m in zip(keys, masks[path]) if m)
    ids = {d for d, _ in stale}
    orphans = (ids - left) | (ids & set(refreshed))
    removed = 0
    for path in parts:
        if posixpath.basename(path) in keep:
            continue
        mask = masks[path]
        items_path = posixpath.join(store._dir(LINE_ITEMS), posixpath.basename(path))
        item_ids = _item_ids(store, items_path) if orphans or not all(mask) else None
        drop_items = bool(item_ids and item_ids & orphans)
        if all(mask) and not drop_items:
            continue
        removed += len(mask) - sum(mask)
        docs = store._read(path).filter(pa.array(mask, pa.bool_()))
        still_used = (item_ids or set()) - orphans
        if not docs.num_rows and not still_used:
            store.fs.rm(path)  # documents first: a kill between leaves an orphan twin, which `_clean` drops
            if item_ids is not None:
                store.fs.rm(items_path)
            continue
        if drop_items:  # items first, as in every write: the documents part is the commit record
            items = store._read(items_path)
            store._write_atomic(items.filter(pa.array([i not in orphans for i in items.column("doc_id").to_pylist()],
                                                      pa.bool_())), items_path)
        if not all(mask):
            store._write_atomic(docs, path)
    return removed


def _keys(keys: pa.Table) -> list[tuple[str, str | None]]:
    ids = keys.column("doc_id").to_pylist()
    sources = keys.column("source").to_pylist() if "source" in keys.column_names else [None] * len(ids)
    return list(zip(ids, sources))


def _item_ids(store: OutputStore, path: str) -> set[str] | None:
    """doc_ids in a line_items part (its doc_id column only); None when there is no such part."""
    if not store.fs.exists(path):
        return None
    with store.fs.open(path, "rb") as f:
        return set(pq.read_table(f, columns=["doc_id"]).column("doc_id").to_pylist())
