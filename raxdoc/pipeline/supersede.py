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

A copy's `duplicate_content` note names the row holding its doc_id's items (`finish.duplicate_issue`).
When that row is superseded (its file edited, say) while the copy stays, `repoint_copies` re-points
the note to a row of that content that stays, or makes the copy the holder (note dropped): the note
never names a path whose bytes have changed.

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
    staying: set[tuple[str, str | None]] = set()  # (doc_id, source) of the rows that stay
    for path in parts:
        keys = _keys(store._read_keys(path))
        masks[path] = [posixpath.basename(path) in keep or k not in stale for k in keys]
        staying.update(k for k, m in zip(keys, masks[path]) if m)
    left = {d for d, _ in staying}  # doc_ids of the rows that stay
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
    gone = {(d, src) for d, src in stale if d in left and (d, src) not in staying}
    if gone:
        repoint_copies(store, gone)
    return removed


def repoint_copies(store: OutputStore, gone: set[tuple[str, str]]) -> int:
    """Keep `duplicate_content` notes true once the rows `gone` (doc_id, source) are removed: a copy
    whose note names a removed row now names a row of its doc_id that stays without such a note (the
    one whose items are kept), or, if none is left, the first copy by source becomes that row (its
    note dropped) and the others name it. Returns the rows changed."""
    from raxdoc.pipeline.finish import duplicate_issue, duplicate_of
    from raxdoc.pipeline.store import DOCUMENTS

    gone_by_id: dict[str, set[str]] = {}
    for d, src in gone:
        gone_by_id.setdefault(d, set()).add(src)
    rows: dict[str, list[tuple[str, int, str, str | None]]] = {}  # doc_id -> (part, row, source, note's target)
    for path in store._parts(DOCUMENTS):
        keys = store._read_keys(path, ("issues",))
        if "issues" not in keys.column_names:
            continue
        for i, (d, src, issues) in enumerate(zip(*(keys.column(c).to_pylist() for c in ("doc_id", "source", "issues")))):
            if d in gone_by_id:
                target = next((t for t in map(duplicate_of, issues or []) if t is not None), None)
                rows.setdefault(d, []).append((path, i, src, target))
    edits: dict[str, dict[int, str | None]] = {}  # part -> row -> the new target (None: no note)
    for d, found in rows.items():
        stale = [r for r in found if r[3] in gone_by_id[d]]
        if not stale:
            continue
        holders = sorted(r[2] for r in found if r[3] is None)
        if not holders:  # the removed row held the items: the first copy takes its place
            first = min(stale, key=lambda r: r[2])
            holders = [first[2]]
            edits.setdefault(first[0], {})[first[1]] = None
            stale.remove(first)
        for path, i, _, _ in stale:
            edits.setdefault(path, {})[i] = holders[0]
    for path, changes in edits.items():
        table = store._read(path)
        issues = table.column("issues").to_pylist()
        for i, target in changes.items():
            kept = [x for x in issues[i] or [] if duplicate_of(x) is None]
            issues[i] = kept + ([duplicate_issue(target)] if target is not None else [])
        column = table.schema.get_field_index("issues")
        table = table.set_column(column, table.schema.field(column), pa.array(issues, table.schema.field(column).type))
        store._write_atomic(table, path)
    return sum(len(c) for c in edits.values())


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
