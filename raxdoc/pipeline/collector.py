"""The driver end of a run: page rows stream in (any order), `documents` rows go out in atomic batches.

`ResultCollector.add(row)` takes each typed row (`StageRow`) back from the engine stage, counts
SKIPPED rows, regroups pages into documents (`DocumentAssembler`), finishes each complete document
(`finish_document`) and writes every `write_every` documents as one `OutputStore` batch. `close()`
writes a row for whatever never completed (pages or whole inputs lost to failed tasks), so every
input gets exactly one row.

Row identity and resume, decided here (README "Reruns and resume" says the same to users):

- One `documents` row per input FILE. Two files with identical bytes share a `doc_id` (the
  content hash) and both get a row; the later one carries a `duplicate_content` issue naming the
  first, and the exploded `line_items` are written once per `doc_id` (under the first), so
  (`doc_id`, `page_index`, `item_index`) stays a unique key there.
- Resume is by content: a source whose bytes a previous run already wrote is skipped, whatever
  its name (a moved corpus resumes; its row keeps the name it was written under). So a copy that
  a killed run had not written yet is skipped by the rerun when its twin was written.
- A source written anew supersedes every earlier row of that path: its bytes changed (a new
  doc_id), its earlier row was keyed `source:<hash of the name>` (bytes unreadable, or the task
  lost: never trusted as done), or, with `retry_errors`, its content's rows are all errors. A
  skipped source supersedes its path's rows of other bytes (an edited file whose new row a killed
  run had written). The earlier rows go at `close()`, after the new ones are written
  (`OutputStore.replace_rows`): an input never has zero rows; a killed run may leave both, and
  the next run over that input removes the old one. Errors without `retry_errors` are skipped
  like any content: the same bytes fail the same way.
- A source that has a content row is not given a second, error row because its bytes cannot be
  read this time (or its task was lost): it counts as skipped, its row stays.
- An input whose listing already failed (`iter_sources`: an unreachable URL) keeps that reason on
  its error row; the ingest task's own re-read may say less (fsspec's http reports "not found").

Not here: the Ray graph (`graph`), the stages (`ingest_stage`, `engine_stage`), the row between
stages (`rows`), a documents row's contents and status (`finish`, raxdoc.postprocess), the Parquet
row layout (raxdoc.schemas.rows).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from raxdoc.pipeline.assemble import DocumentAssembler, PendingDocument
from raxdoc.pipeline.finish import FinishSettings, finish_document
from raxdoc.pipeline.manifest import record_engines
from raxdoc.pipeline.rows import SOURCE_ID_PREFIX, RowKind, StageRow, source_id
from raxdoc.pipeline.store import OutputStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResumePlan:
    """What a run finds in its output folder before it starts."""

    skip: frozenset[str]  # doc_ids the ingest stage skips (done)
    done_sources: frozenset[str]  # sources that have a content row (never given an error row instead)
    previous: frozenset[tuple[str, str]]  # (doc_id, source) of every row: what new rows supersede


def resume_plan(store: OutputStore, *, retry_errors: bool = False) -> ResumePlan:
    """The folder's rows -> what to skip. Content rows are done, error rows too unless `retry_errors`;
    `source:` rows never are (their sources are tried again)."""
    rows = store.row_states("status")
    content = [(d, s, status) for d, s, status in rows if not d.startswith(SOURCE_ID_PREFIX)]
    skip = {d for d, _, _ in content}
    if retry_errors:  # a doc_id with an ok or partial row stays done: its bytes did not always fail
        skip -= {d for d, _, status in content if status == "error"} - \
            {d for d, _, status in content if status != "error"}
    return ResumePlan(frozenset(skip), frozenset(s for _, s, _ in content if s is not None),
                      frozenset((d, s) for d, s, _ in rows if s is not None))


class ResultCollector:
    """Regroups, finishes and writes documents as their rows arrive; counts what happened."""

    def __init__(self, store: OutputStore, settings: FinishSettings, doc_schema: Any, item_schema: Any,
                 sources: Iterable[str], *, done_sources: Iterable[str] = (), write_every: int = 64,
                 on_progress: Callable[[dict], None] | None = None,
                 previous: Iterable[tuple[str, str]] = (), listing_errors: Mapping[str, BaseException] = {}):
        """`previous`: the folder's rows before the run (`ResumePlan.previous`), which new rows of
        their source supersede; `listing_errors`: why `iter_sources` could not list a source."""
        self.store, self.settings, self.write_every = store, settings, write_every
        self.doc_schema, self.item_schema = doc_schema, item_schema
        # Per-input bookkeeping shrinks as inputs come back (the soak bench measures it): the inputs
        # not seen yet, not a list of all plus a set of those seen.
        sources = list(sources)
        self.unseen = set(sources)
        self.done_sources = frozenset(done_sources)
        self.previous: dict[str, set[str]] = {}
        for doc_id, source in previous:
            self.previous.setdefault(source, set()).add(doc_id)
        self._previous_ids = frozenset(d for d, _ in previous)  # the only doc_ids `refreshed` is asked about
        self.listing_errors = dict(listing_errors)
        # Rows to remove at close (superseded), the parts this run wrote, doc_ids whose items it wrote.
        self.stale: set[tuple[str, str]] = set()
        self.written: set[str] = set()
        self.engine_paths: set[str] = set()  # what the engines ran (`StageRow.engine_paths`), for the manifest
        self.refreshed: set[str] = set()
        self.assembler = DocumentAssembler()
        # doc_id -> the first source written with it this run (for identical files).
        self.first_source: dict[str, str] = {}
        self.doc_rows: list[dict] = []
        self.item_rows: list[dict] = []
        self.counts = {"ok": 0, "partial": 0, "error": 0, "skipped": 0, "pages": 0, "line_items": 0,
                       # documents whose values are their e-invoice's; of them, those the model read too
                       # (verify), and the values compared / agreed over those (pooled: the run's figure)
                       "einvoice": 0, "einvoice_verified": 0, "einvoice_compared": 0, "einvoice_agreed": 0}
        self.progress = {"documents_total": len(sources), "documents_done": 0, "pages_total": 0,
                         "pages_done": 0}
        self.report = _Throttle(on_progress, self.progress)
        # Pages of the documents seen here / opened by ingest (ahead of what comes back): the
        # pages total is the larger, so it grows as documents are opened, not as they finish.
        self._pages_seen = self._pages_opened = 0

    def pages_opened(self, pages: int) -> None:
        """Ingest has opened documents holding `pages` pages so far (`graph.OpenedPages`)."""
        self._pages_opened = max(self._pages_opened, pages)
        self._update_pages_total()
        self.report()

    def _update_pages_total(self) -> None:
        self.progress["pages_total"] = max(self._pages_seen, self._pages_opened)

    def add(self, row: StageRow) -> None:
        first = row.source in self.unseen
        if first:
            self.unseen.discard(row.source)
            self._pages_seen += max(row.page_count, 0)
            self._update_pages_total()
        unreadable_but_done = row.doc_id.startswith(SOURCE_ID_PREFIX) and row.source in self.done_sources
        if row.kind is RowKind.SKIPPED or unreadable_but_done:
            if row.kind is RowKind.SKIPPED:  # its path's rows of other bytes are out of date
                self.stale.update((d, row.source) for d in self.previous.get(row.source, ()) if d != row.doc_id)
            if first:  # a retried ingest task skips it again: counted once
                self._skip()
            return
        if row.engine_paths:
            self.engine_paths.add(row.engine_paths)
        listed = self.listing_errors.get(row.source)
        if listed is not None and row.kind is RowKind.DOC_ERROR and row.doc_id.startswith(SOURCE_ID_PREFIX):
            row.fail(listed)
        if row.kind is RowKind.PAGE and self.assembler.is_new(row):  # a retried batch's repeats count once
            self.counts["pages"] += 1
            self.progress["pages_done"] += 1
        doc = self.assembler.add(row)
        if doc is not None:
            self._finish(doc)
        self.report()

    def close(self) -> None:
        """Rows for everything unfinished or never seen, the last batch, a final dedupe, then compaction."""
        for doc in self.assembler.leftovers():
            log.warning("%s: %d page(s) never came back: %s", doc.source, len(doc.missing_pages()),
                        doc.missing_pages())
            self._finish(doc)
        for source in sorted(self.unseen):
            if source in self.done_sources:  # lost this time, written before: its row stays
                self._skip()
            else:
                self._finish(_lost_document(source))
        self._flush()
        self.store.replace_rows(self.stale, keep=self.written, refreshed=self.refreshed)
        self.store.deduplicate()
        self.store.compact()  # after dedupe: a merged part never holds a row twice
        record_engines(self.store, sorted(self.engine_paths))
        self.report(force=True)

    def _skip(self) -> None:
        self.counts["skipped"] += 1
        self.progress["documents_done"] += 1

    def _finish(self, doc: PendingDocument) -> None:
        first = self.first_source.setdefault(doc.doc_id, doc.source)
        self.stale.update((d, doc.source) for d in self.previous.get(doc.source, ()))
        row, items = finish_document(doc, self.settings, copy_of=first if first != doc.source else None)
        self.doc_rows.append(row)
        self.item_rows.extend(items)
        self.counts[row["status"]] += 1
        if row.get("extraction") == "einvoice":
            self.counts["einvoice"] += 1
        if row.get("check_einvoice_agreed") is not None:
            self.counts["einvoice_verified"] += 1
            self.counts["einvoice_agreed"] += row["check_einvoice_agreed"]
            self.counts["einvoice_compared"] += row["check_einvoice_agreed"] + row["check_einvoice_disagreed"]
        self.counts["line_items"] += len(items)
        self.progress["documents_done"] += 1
        if len(self.doc_rows) >= self.write_every:
            self._flush()

    def _flush(self) -> None:
        from raxdoc.schemas.rows import to_table

        if self.doc_rows:
            self.written.add(self.store.write_batch(to_table(self.doc_rows, self.doc_schema),
                                                    to_table(self.item_rows, self.item_schema)))
            self.refreshed.update(i["doc_id"] for i in self.item_rows if i["doc_id"] in self._previous_ids)
            self.doc_rows.clear()
            self.item_rows.clear()


class _Throttle:
    """Calls `on_progress` with a copy of the counters, at most every `interval` seconds."""

    def __init__(self, on_progress: Callable[[dict], None] | None, progress: dict, interval: float = 0.2):
        self.on_progress, self.progress, self.interval = on_progress, progress, interval
        self.last = 0.0

    def __call__(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.on_progress is not None and (force or now - self.last >= self.interval):
            self.last = now
            self.on_progress(dict(self.progress))


def _lost_document(source: str) -> PendingDocument:
    lost = StageRow(source_id(source), source, RowKind.DOC_ERROR, error_type="lost",
                    error="no result came back for this input (its task failed)")
    return PendingDocument(lost.doc_id, source, 0, error=lost)
