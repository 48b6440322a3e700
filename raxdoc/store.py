"""The output folder: Parquet parts written atomically, and the record of which documents are done.

Layout under the output root (a local path or any fsspec URL, e.g. s3://bucket/run):

    documents/part-<key>.parquet     one row per input document (the commit record)
    line_items/part-<key>.parquet    the same batch's line items, exploded

`<key>` is a hash of the batch's sorted doc_ids, so a retried batch (an actor killed after writing)
lands on the same names and overwrites instead of duplicating. Each file is written under a
temporary name that no `*.parquet` glob matches, then renamed. The `documents` part is written
last: a document is done only once its `documents` row exists, so a run killed between the two
files leaves an orphan `line_items` part, which opening the store removes.

Not here: what the rows hold (raxdoc.schemas), deciding what to process (pipeline.py).
"""

from __future__ import annotations

import hashlib
import posixpath
import uuid
from collections.abc import Iterable

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

DOCUMENTS = "documents"
LINE_ITEMS = "line_items"
_TMP_SUFFIX = ".inprogress"


class OutputStore:
    def __init__(self, root: str, *, storage_options: dict | None = None):
        self.fs, self.root = fsspec.core.url_to_fs(str(root), **(storage_options or {}))
        self.root = self.root.rstrip("/")
        for table in (DOCUMENTS, LINE_ITEMS):
            self.fs.makedirs(self._dir(table), exist_ok=True)
        self._clean()

    def _dir(self, table: str) -> str:
        return posixpath.join(self.root, table)

    def _parts(self, table: str) -> list[str]:
        return sorted(p for p in self.fs.glob(posixpath.join(self._dir(table), "part-*.parquet")))

    def _clean(self) -> None:
        """Drop temporary files and line-item parts whose documents part never landed."""
        for table in (DOCUMENTS, LINE_ITEMS):
            for path in self.fs.glob(posixpath.join(self._dir(table), "*" + _TMP_SUFFIX)):
                self.fs.rm(path)
        done = {posixpath.basename(p) for p in self._parts(DOCUMENTS)}
        for path in self._parts(LINE_ITEMS):
            if posixpath.basename(path) not in done:
                self.fs.rm(path)

    def done_doc_ids(self) -> set[str]:
        """doc_ids with a committed `documents` row."""
        ids: set[str] = set()
        for path in self._parts(DOCUMENTS):
            with self.fs.open(path, "rb") as f:
                ids.update(pq.read_table(f, columns=["doc_id"]).column("doc_id").to_pylist())
        return ids

    def write_batch(self, documents: pa.Table, line_items: pa.Table | None = None) -> str:
        """Write one batch (line items first, documents last) and return the part's file name."""
        if documents.num_rows == 0:
            raise ValueError("write_batch needs at least one documents row")
        name = f"part-{batch_key(documents.column('doc_id').to_pylist())}.parquet"
        if line_items is not None and line_items.num_rows:
            self._write_atomic(line_items, posixpath.join(self._dir(LINE_ITEMS), name))
        self._write_atomic(documents, posixpath.join(self._dir(DOCUMENTS), name))
        return name

    def _write_atomic(self, table: pa.Table, path: str) -> None:
        tmp = f"{path}.{uuid.uuid4().hex[:8]}{_TMP_SUFFIX}"
        with self.fs.open(tmp, "wb") as f:
            pq.write_table(table, f, compression="zstd")
        if self.fs.exists(path):
            self.fs.rm(path)
        self.fs.mv(tmp, path)

    def deduplicate(self) -> int:
        """Remove repeated doc_ids across parts (a batch retried with a different grouping).

        The first part (by name) keeps a document; later parts lose its rows in both tables.
        Returns the number of document rows dropped. Runs at the end of a job; cheap when clean.
        """
        seen: set[str] = set()
        dropped = 0
        for path in self._parts(DOCUMENTS):
            with self.fs.open(path, "rb") as f:
                table = pq.read_table(f)
            ids = table.column("doc_id").to_pylist()
            keep = [i not in seen for i in ids]
            repeated = {i for i, k in zip(ids, keep) if not k}
            seen.update(ids)
            if not repeated:
                continue
            dropped += len(ids) - sum(keep)
            name = posixpath.basename(path)
            items_path = posixpath.join(self._dir(LINE_ITEMS), name)
            if self.fs.exists(items_path):
                with self.fs.open(items_path, "rb") as f:
                    items = pq.read_table(f)
                mask = [i not in repeated for i in items.column("doc_id").to_pylist()]
                self._replace(items_path, items.filter(pa.array(mask)))
            self._replace(path, table.filter(pa.array(keep)))
        return dropped

    def _replace(self, path: str, table: pa.Table) -> None:
        if table.num_rows:
            self._write_atomic(table, path)
        else:
            self.fs.rm(path)

    def read(self, table: str = DOCUMENTS) -> pa.Table | None:
        """All committed rows of `documents` or `line_items`, or None when there are none."""
        parts = self._parts(table)
        if not parts:
            return None
        tables = []
        for path in parts:
            with self.fs.open(path, "rb") as f:
                tables.append(pq.read_table(f))
        return pa.concat_tables(tables, promote_options="default")


def batch_key(doc_ids: Iterable[str]) -> str:
    """A stable name for a set of documents: the same set always gives the same key."""
    digest = hashlib.sha256("\n".join(sorted(set(doc_ids))).encode()).hexdigest()
    return digest[:24]
