"""The output folder: Parquet parts written atomically, and the record of which documents are done.

Layout under the output root (a local path or any fsspec URL, e.g. s3://bucket/run):

    documents/part-<key>.parquet     one row per input document (the commit record)
    line_items/part-<key>.parquet    the same batch's line items, exploded (an empty part when it has none)

A row is identified by (`doc_id`, `source`): two files with identical bytes share a `doc_id` and
each has its own row. `<key>` is a hash of the batch's sorted (doc_id, source) pairs, so writing
the same rows again lands on the same names and overwrites instead of duplicating, while two
batches that share only a `doc_id` (the two files finished apart) never overwrite each other. Each file is written under a
temporary name that neither a `*.parquet` glob nor a dataset reader lists (`tmp_path`), then renamed. The `documents` part is written
last: a document is done only once its `documents` row exists, so a run killed between the two
files leaves an orphan `line_items` part, which opening the store removes. A run opens the store
with `lock=True` (`lock.RunLock`) before that cleanup, so it never touches another live run's files;
a store opened without it (a reader) skips the cleanup while a run holds the lock.

`replace_rows` removes rows a rerun superseded (an edited file's old row, a retried error's) once
their new rows are written; `compact` merges small parts into few at a run's close (`compact`: a
merged part is named from its members, not its rows, and a journal makes the merge safe to kill);
`clear` empties the folder for `--overwrite`.

Not here: what the rows hold (raxdoc.schemas), deciding what to process and what a new row
supersedes (`collector`), the settings record (`manifest`).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import uuid
from collections.abc import Iterable

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from raxdoc.pipeline.lock import RunLock, busy

DOCUMENTS = "documents"
LINE_ITEMS = "line_items"
_TMP_SUFFIX = ".inprogress"


class OutputError(ValueError):
    """The output folder cannot be used (a file, not writable, no fsspec driver, a foreign part):
    a usage error, raised before any work, whose message names the path."""


def _cannot_write(root: str, e: OSError) -> OutputError:
    return OutputError(f"cannot write to {root}: {type(e).__name__}: {e.strerror or e}")


class OutputStore:
    def __init__(self, root: str, *, storage_options: dict | None = None, lock: bool = False):
        """`lock`: hold the folder's run lock until `close()` (a run does; readers and tests need not)."""
        self.lock: RunLock | None = None
        try:
            self.fs, self.root = fsspec.core.url_to_fs(str(root), **(storage_options or {}))
        except (ImportError, ValueError) as e:  # fsspec: "Install s3fs to access S3", "Protocol not known"
            raise OutputError(f"cannot write to {root}: {e}") from None
        except OSError as e:  # a driver that connects at once (ftp:// to a host that does not resolve)
            raise _cannot_write(root, e) from None
        try:
            self.root = self.root.rstrip("/")
            protocols = (self.fs.protocol,) if isinstance(self.fs.protocol, str) else tuple(self.fs.protocol)
            self._local = "file" in protocols
            for table in (DOCUMENTS, LINE_ITEMS):
                self.fs.makedirs(self._dir(table), exist_ok=True)
            if lock:  # before the cleanup below: it must never see another live run's files
                self.lock = RunLock(self.fs, self.root, local=self._local)
            self._probe()
            if lock or not busy(self.fs, self.root, local=self._local):
                self._clean()
        except OSError as e:  # a file in the way, no permission, read-only, unreachable
            self.close()
            raise _cannot_write(root, e) from None

    def close(self) -> None:
        """Release the run lock (if held); the store stays readable."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def path(self, name: str) -> str:
        """A file at the folder's root (e.g. the manifest)."""
        return posixpath.join(self.root, name)

    def write_file(self, name: str, data: bytes) -> None:
        """A small file at the root, written whole or not at all (a temporary name, then renamed)."""
        path = self.path(name)
        tmp = tmp_path(path)
        with self.fs.open(tmp, "wb") as f:
            f.write(data)
        self._rename(tmp, path)

    def _probe(self) -> None:
        """Write and remove a tiny file now: an unwritable folder fails here, not after the first batch.
        Its name ends like a temporary file's, so a probe left by a killed run is cleaned up."""
        probe = tmp_path(posixpath.join(self._dir(DOCUMENTS), "probe"))
        with self.fs.open(probe, "wb") as f:
            f.write(b"")
        try:
            self.fs.rm(probe)
        except FileNotFoundError:  # another run's cleanup took it first: the folder is writable all the same
            pass

    def _dir(self, table: str) -> str:
        return posixpath.join(self.root, table)

    def _parts(self, table: str) -> list[str]:
        return sorted(p for p in self.fs.glob(posixpath.join(self._dir(table), "part-*.parquet")))

    def _clean(self) -> None:
        """Drop temporary files and line-item parts whose documents part never landed."""
        for folder in (self._dir(DOCUMENTS), self._dir(LINE_ITEMS), self.root):
            for path in self.fs.glob(posixpath.join(folder, "*" + _TMP_SUFFIX)):
                self.fs.rm(path)
        from raxdoc.pipeline.compact import finish_compactions

        finish_compactions(self)  # a merge a killed run left: completed or undone before anyone reads keys
        done = {posixpath.basename(p) for p in self._parts(DOCUMENTS)}
        for path in self._parts(LINE_ITEMS):
            if posixpath.basename(path) not in done:
                self.fs.rm(path)

    def done_doc_ids(self) -> set[str]:
        """doc_ids with a committed `documents` row."""
        return {d for d, _ in self.done_rows()}

    def done_rows(self) -> set[tuple[str, str | None]]:
        """(doc_id, source) of every committed `documents` row (source None where a part has none)."""
        return {(d, s) for d, s, _ in self.row_states()}

    def row_states(self, column: str = "status") -> list[tuple[str, str | None, str | None]]:
        """(doc_id, source, `column`) of every committed `documents` row (None where a part lacks one)."""
        rows = []
        for path in self._parts(DOCUMENTS):
            table = self._read_keys(path, (column,))
            n = table.num_rows
            rows.extend(zip(*(table.column(c).to_pylist() if c in table.column_names else [None] * n
                              for c in ("doc_id", "source", column))))
        return rows

    def _read_keys(self, path: str, extra: tuple[str, ...] = ()) -> pa.Table:
        """Only the identity columns of a documents part (the rest may be large: nested line items).

        A part raxdoc did not write (no doc_id, or not Parquet) is an OutputError naming it: resume
        cannot tell what it holds, and deleting a user's file is not ours to decide."""
        try:
            with self.fs.open(path, "rb") as f:
                names = pq.read_schema(f).names
                f.seek(0)
                if "doc_id" in names:
                    return pq.read_table(f, columns=[c for c in ("doc_id", "source", *extra) if c in names])
            why = "it has no doc_id column"
        except (pa.ArrowException, OSError) as e:
            why = f"it cannot be read as Parquet ({e})"
        raise OutputError(f"{path} was not written by raxdoc: {why}. Move it out of {self._dir(DOCUMENTS)} "
                          f"(or write to another --output) and run again.")

    def write_batch(self, documents: pa.Table, line_items: pa.Table | None = None) -> str:
        """Write one batch (line items first, documents last) and return the part's file name.

        A `line_items` table is written even when empty (its schema only), so every documents part
        has its line_items twin and `SELECT ... FROM 'out/line_items/*.parquet'` works on any run."""
        if documents.num_rows == 0:
            raise ValueError("write_batch needs at least one documents row")
        name = f"part-{batch_key(_row_keys(documents))}.parquet"
        if line_items is not None:
            self._write_atomic(line_items, posixpath.join(self._dir(LINE_ITEMS), name))
        self._write_atomic(documents, posixpath.join(self._dir(DOCUMENTS), name))
        return name

    def _write_atomic(self, table: pa.Table, path: str) -> None:
        tmp = tmp_path(path)
        with self.fs.open(tmp, "wb") as f:
            pq.write_table(table, f, compression="zstd")
        self._rename(tmp, path)

    def _rename(self, tmp: str, path: str) -> None:
        if self._local:
            os.replace(tmp, path)  # atomic even over an existing part: never a moment without it
            return
        if self.fs.exists(path):  # object stores: mv overwrites as one PUT; others may refuse to
            self.fs.rm(path)
        self.fs.mv(tmp, path)

    def deduplicate(self) -> int:
        """Remove rows whose (doc_id, source) an earlier part already holds (e.g. two runs at once).

        The first part (by name) keeps a row; later parts lose it, and its line items when no row
        of that doc_id is left in the part. Returns the number of document rows dropped.
        """
        seen: set[tuple[str, str]] = set()
        dropped = 0
        for path in self._parts(DOCUMENTS):
            keys = _row_keys(self._read_keys(path))  # whole parts are read only where rows repeat
            keep = [k not in seen for k in keys]
            seen.update(keys)
            if all(keep):
                continue
            dropped += len(keys) - sum(keep)
            self._drop_rows(path, self._read(path), keep)
        return dropped

    def drop_doc_ids(self, doc_ids: Iterable[str]) -> int:
        """Remove every row of these doc_ids (both tables); returns the document rows dropped."""
        doc_ids = set(doc_ids)
        dropped = 0
        for path in self._parts(DOCUMENTS) if doc_ids else []:
            table = self._read(path)
            keep = [i not in doc_ids for i in table.column("doc_id").to_pylist()]
            if not all(keep):
                dropped += len(keep) - sum(keep)
                self._drop_rows(path, table, keep)
        return dropped

    def replace_rows(self, stale: Iterable[tuple[str, str]], *, keep: Iterable[str] = (),
                     refreshed: Iterable[str] = ()) -> int:
        """Remove superseded rows (`supersede.replace_rows`); returns the documents rows removed."""
        from raxdoc.pipeline.supersede import replace_rows

        return replace_rows(self, stale, keep=keep, refreshed=refreshed)

    def compact(self) -> int:
        """Merge small parts into few (`compact.compact`); returns the parts merged away per table."""
        from raxdoc.pipeline.compact import compact

        return compact(self)

    def clear(self) -> int:
        """Remove every part of both tables (`--overwrite`); returns the documents rows removed.
        A part raxdoc did not write stops it first (OutputError), as it stops resume."""
        removed = len(self.done_rows())
        for table in (DOCUMENTS, LINE_ITEMS):  # documents first: a kill between leaves orphans `_clean` drops
            for path in self._parts(table):
                self.fs.rm(path)
        return removed

    def _drop_rows(self, path: str, table: pa.Table, keep: list[bool]) -> None:
        """Keep `keep` rows of a documents part; its line items go with the doc_ids no longer in it."""
        ids = table.column("doc_id").to_pylist()
        gone = {i for i, k in zip(ids, keep) if not k} - {i for i, k in zip(ids, keep) if k}
        items_path = posixpath.join(self._dir(LINE_ITEMS), posixpath.basename(path))
        kept = table.filter(pa.array(keep, pa.bool_()))
        if gone and self.fs.exists(items_path):
            items = self._read(items_path)
            mask = [i not in gone for i in items.column("doc_id").to_pylist()]
            items = items.filter(pa.array(mask, pa.bool_()))
            if kept.num_rows:  # the twin stays beside its documents part, empty or not
                self._write_atomic(items, items_path)
            else:
                self.fs.rm(items_path)
        self._replace(path, kept)

    def _read(self, path: str) -> pa.Table:
        with self.fs.open(path, "rb") as f:
            return pq.read_table(f)

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
        return pa.concat_tables([self._read(p) for p in parts], promote_options="default")


def tmp_path(path: str) -> str:
    """Where `path` is written before its rename: a name starting with '.' and not ending in .parquet,
    so neither a `*.parquet` glob nor a dataset reader (which skips '.' and '_' names) reads it half-written."""
    return posixpath.join(posixpath.dirname(path), f".{posixpath.basename(path)}.{uuid.uuid4().hex[:8]}{_TMP_SUFFIX}")


def batch_key(row_keys: Iterable[str]) -> str:
    """A stable name for a set of rows: the same set always gives the same key."""
    digest = hashlib.sha256("\n".join(sorted(set(row_keys))).encode()).hexdigest()
    return digest[:24]


def _row_keys(documents: pa.Table) -> list[str]:
    """Each documents row's identity: doc_id, plus its source when the table has one."""
    ids = documents.column("doc_id").to_pylist()
    if "source" not in documents.column_names:
        return ids
    return [f"{i}\t{s}" for i, s in zip(ids, documents.column("source").to_pylist())]
