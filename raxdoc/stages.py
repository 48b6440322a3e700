"""The pipeline's stages as plain callables: usable from a notebook, a test, or Ray Data.

- `IngestStage(options, done_ids)(row)`: one source -> its page rows, yielded a page at a time
  (CPU; a process per task, PyMuPDF is not thread-safe). Reads the bytes once: hashes them for `doc_id`, skips documents a
  previous run finished, and turns every failure into a row (page_index -1: the document failed;
  a page row with `error_type`: that page failed).
- `EngineStage(...)(batch)`: page rows -> the same rows with the model's text (one engine, loaded
  once in `__init__`, per Ray actor). Safe to call from several threads at once: every call feeds
  one `EngineLoop` (engine_loop.py), so pages of concurrent batches share the engine's slots and
  a batch's tail never decodes alone; pages are preprocessed only when the engine has room, so
  float32 pixels stay bounded. Rows that already failed pass through untouched; a page the
  processor rejects, or whose engine step raised, becomes that page's error row.

Every row has the same columns (pixels travel as raw bytes + shape, never re-encoded), so Ray's
Arrow blocks stay one schema whether a row is a page, a failure or a skip marker.

Not here: wiring (pipeline.py), regrouping pages (assemble.py), parsing text (postprocess).
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

# page_index of rows that are not pages.
DOC_ERROR = -1
SKIPPED = -2
# doc_ids not derived from the bytes (they could not be read): never trusted as done by a rerun.
SOURCE_ID_PREFIX = "source:"


def empty_row(doc_id: str, source: str) -> dict[str, Any]:
    return {
        # page_count: pages this run sends on (what the assembler waits for); file_page_count: in the file.
        "doc_id": doc_id, "source": source, "page_count": 0, "file_page_count": 0, "page_index": DOC_ERROR,
        "pixels": b"", "height": 0, "width": 0, "dpi": 0.0, "kind": "", "meta": "{}",
        # "" not None: a column of nulls reaches the next stage as float NaN (Ray's numpy batches), and
        # NaN is truthy, which made every page of an error-free batch look failed.
        "error_type": "", "error": "", "t_ingest": 0.0,
    }


class IngestStage:
    """Source rows ({"source": url}) -> page rows; never raises for a bad document."""

    def __init__(self, options: Any, done_ids: Iterable[str] = ()):
        self.options = options
        self.done_ids = frozenset(done_ids)

    def __call__(self, row: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Yields one row a page as it is rendered (Ray's flat_map streams them into blocks), so a
        long document's pixels are never all in memory at once."""
        from raxdoc.errors import EmptyDocument
        from raxdoc.ingest import read_document
        from raxdoc.ingest.sources import SourceRef, read_source_bytes

        started = time.perf_counter()
        source = row["source"]
        try:
            data = read_source_bytes(SourceRef(source))
        except Exception as exc:  # typed (RaxdocError) or not (a filesystem driver's own error): a row
            yield self._doc_error(source_id(source), source, exc)
            return
        doc_id = hashlib.sha256(data).hexdigest()
        if doc_id in self.done_ids:
            yield {**empty_row(doc_id, source), "page_index": SKIPPED}
            return
        try:
            doc = read_document(data, options=self.options)
        except Exception as exc:  # typed, or a parser bug: either way a row, never a failed task
            yield self._doc_error(doc_id, source, exc)
            return
        del data  # the parser holds what it needs
        with doc:
            meta = json.dumps({"format": doc.metadata.format, "repaired": doc.metadata.repaired,
                               "producer": doc.metadata.producer, "encrypted": doc.metadata.encrypted})
            base = {**empty_row(doc_id, source), "page_count": doc.render_count,
                    "file_page_count": doc.page_count, "meta": meta}
            if doc.render_count == 0:
                yield self._doc_error(doc_id, source, EmptyDocument(source, "document has no pages"), base)
                return
            # Reading and opening, shared by the pages; each page adds its own render time.
            open_s = (time.perf_counter() - started) / doc.render_count
            for index in range(doc.render_count):
                page_started = time.perf_counter()
                try:
                    page = doc.page(index)
                except Exception as exc:  # PageError, or a renderer bug on this page only
                    yield {**base, "page_index": index, **_error_fields(exc)}
                    continue
                pixels = np.ascontiguousarray(page.pixels, dtype=np.uint8)
                yield {**base, "page_index": page.page_index, "pixels": pixels.tobytes(),
                       "height": pixels.shape[0], "width": pixels.shape[1], "dpi": float(page.dpi or 0),
                       "kind": str(page.kind), "t_ingest": open_s + time.perf_counter() - page_started}
    @staticmethod
    def _doc_error(doc_id: str, source: str, exc: BaseException, base: dict | None = None) -> dict[str, Any]:
        row = dict(base) if base else empty_row(doc_id, source)
        row.update(page_index=DOC_ERROR, **_error_fields(exc))
        return row


def _error_fields(exc: BaseException) -> dict[str, str]:
    """error_type / error columns: a RaxdocError's own, else `internal:<class>` (a bug, still a row)."""
    error_type = getattr(exc, "error_type", None) or f"internal:{type(exc).__name__}"
    return {"error_type": str(error_type), "error": str(getattr(exc, "message", None) or exc)}


def source_id(source: str) -> str:
    """doc_id for a source whose bytes could not be read: a hash of its name, so it still keys a row."""
    return SOURCE_ID_PREFIX + hashlib.sha256(source.encode()).hexdigest()


def _failed(row: dict[str, Any]) -> bool:
    """A row that already failed upstream (its error_type is a non-empty string)."""
    return isinstance(row.get("error_type"), str) and bool(row["error_type"])


def page_pixels(row: dict[str, Any]) -> np.ndarray:
    """(H, W, 3) uint8 view of a page row's pixels."""
    return np.frombuffer(row["pixels"], dtype=np.uint8).reshape(int(row["height"]), int(row["width"]), 3)


class EngineStage:
    """Page rows -> the same rows with `text` and token counts; one engine per instance (per actor).

    Constructed by Ray once per actor (`fn_constructor_kwargs`), so the model loads once and every
    batch reuses it. The engine runs in an `EngineLoop` thread: calls from several threads at once
    (Ray runs several batches per actor) share its slots, so no batch waits for another to drain.
    A page the processor or the engine cannot handle becomes that page's error.
    """

    def __init__(self, model: str, profile: Any, schema: str | None = None, constrained: bool = True,
                 device: str | None = None):
        import dataclasses

        from raxdoc.engine import Engine, SamplingParams
        from raxdoc.engine_loop import EngineLoop
        from raxdoc.prompt import build_prompt
        from raxdoc.schemas import Invoice
        from raxdoc.schemas.custom import load_schema
        from raxdoc.schemas.jsonschema import page_json_schema

        self.engine = Engine.from_pretrained(model, profile=profile, device=device)
        self.processor = self.engine.processor
        image = self.processor.image_config
        max_pixels = min(image.max_pixels, profile.max_pixels)
        self.processor.image_config = dataclasses.replace(
            image, max_pixels=max_pixels, min_pixels=min(image.min_pixels, max_pixels))
        schema_cls = load_schema(schema) if schema else Invoice
        self.instruction = build_prompt(schema_cls, constrained=constrained)
        self.grammar = page_json_schema(schema_cls) if constrained else None
        self.params = SamplingParams(max_new_tokens=profile.max_new_tokens, temperature=0.0)
        # Compiled here, once: the loop thread would otherwise compile it inside its first step.
        if self.grammar is not None:
            self.engine.grammar(self.grammar)
        self.loop = EngineLoop(self.engine)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        from raxdoc.engine_loop import EngineLoopError

        rows = batch_rows(batch)
        waiting = []
        for i, row in enumerate(rows):
            if row["page_index"] < 0 or _failed(row):
                continue
            try:
                waiting.append((i, self.loop.submit(functools.partial(self._prompt, row), self.params,
                                                    self.grammar)))
            except EngineLoopError as exc:  # the loop is gone: this page's error, later ones alike
                row.update(_engine_error(exc))
        for i, future in waiting:
            try:
                res = future.result()
            except EngineLoopError as exc:  # a bug in the engine or the loop: rows, not a crash
                rows[i].update(_engine_error(exc))
                continue
            except Exception as exc:  # the processor could not build this page's prompt
                rows[i].update(error_type=getattr(exc, "error_type", None) or "preprocess_error", error=str(exc))
                continue
            rows[i].update(text=res.text, finish_reason=res.finish_reason, prompt_tokens=res.prompt_tokens,
                           completion_tokens=res.completion_tokens, t_engine=res.latency)
            if not res.ok:
                rows[i].update(error_type="engine_error", error=f"{res.error_type}: {res.error}")
        for row in rows:
            row["pixels"] = b""  # the text is all later stages need; free the object store
            row.setdefault("text", "")
            row.setdefault("finish_reason", "")
            row.setdefault("prompt_tokens", 0)
            row.setdefault("completion_tokens", 0)
            row.setdefault("t_engine", 0.0)
        return rows_batch(rows)

    def _prompt(self, row: dict[str, Any]) -> dict[str, Any]:
        """A page's engine prompt; runs on the loop's preparer thread, when the engine has room."""
        inputs = self.processor(self.instruction, [page_pixels(row)])
        return {"input_ids": inputs.input_ids.tolist(), "pixel_values": inputs.pixel_values,
                "image_grid_thw": inputs.image_grid_thw}

    def close(self) -> None:
        """Stop the engine loop (pages still in flight fail with engine_error) and free the engine."""
        loop = getattr(self, "loop", None)
        if loop is not None:
            loop.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # at interpreter exit the threads may be gone already; nothing to free
            pass


def _engine_error(exc: BaseException) -> dict[str, str]:
    cause = exc.__cause__ or exc
    return {"error_type": "engine_error", "error": f"internal:{type(cause).__name__}: {exc}"}


def batch_rows(batch: dict[str, Any]) -> list[dict[str, Any]]:
    """Ray's column batch (dict of arrays) -> row dicts with plain Python values."""
    columns = {k: list(v) for k, v in batch.items()}
    n = len(next(iter(columns.values()), []))
    rows = [{k: _plain(v[i]) for k, v in columns.items()} for i in range(n)]
    return rows


def rows_batch(rows: list[dict[str, Any]]) -> dict[str, list]:
    keys = list(rows[0]) if rows else []
    return {k: [r.get(k) for r in rows] for k in keys}


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value
