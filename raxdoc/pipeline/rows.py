"""The row that travels between the pipeline's stages, and its Arrow-friendly form.

Every row has the same columns whether it is a page, a document that failed as a whole or a
skip marker (pixels travel as raw bytes + shape, never re-encoded), so Ray's Arrow blocks stay
one schema. Ray hands rows over as numpy column batches: `batch_rows` / `rows_batch` convert.

Not here: what the stages do with rows (`ingest_stage`, `engine_stage`, `assemble`).
"""

from __future__ import annotations

import hashlib
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


def error_fields(exc: BaseException) -> dict[str, str]:
    """error_type / error columns: a RaxdocError's own, else `internal:<class>` (a bug, still a row)."""
    error_type = getattr(exc, "error_type", None) or f"internal:{type(exc).__name__}"
    return {"error_type": str(error_type), "error": str(getattr(exc, "message", None) or exc)}


def source_id(source: str) -> str:
    """doc_id for a source whose bytes could not be read: a hash of its name, so it still keys a row."""
    return SOURCE_ID_PREFIX + hashlib.sha256(source.encode()).hexdigest()


def failed(row: dict[str, Any]) -> bool:
    """A row that already failed upstream (its error_type is a non-empty string)."""
    return isinstance(row.get("error_type"), str) and bool(row["error_type"])


def page_pixels(row: dict[str, Any]) -> np.ndarray:
    """(H, W, 3) uint8 view of a page row's pixels."""
    return np.frombuffer(row["pixels"], dtype=np.uint8).reshape(int(row["height"]), int(row["width"]), 3)


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
