"""`StageRow`, the typed row that travels between the pipeline's stages, and its wire form.

A row is one of four kinds (`RowKind`): a page (rendered, or failed with its own error), a
document that failed as a whole (nothing to render), a document whose values its own e-invoice XML
gives (no pages: `--einvoice auto`), or a skip marker for a document a previous run already wrote.
An e-invoice that goes to the model as well (`verify`) travels on its document's page 0 row.
Stages and the driver work on `StageRow`; optional values are None there.

Ray moves rows as Arrow blocks and hands them to the next stage as numpy column batches, which
needs a different encoding: every row must carry the same columns with non-null values (a column
of nulls arrives as float NaN, which is truthy, and blocks must share one schema). That encoding
lives in one pair of functions, `to_wire` / `from_wire`; `encode_batch` / `decode_batch` apply
them to a whole column batch. Nothing else in the pipeline reads or writes the wire form.

Not here: what the stages do with rows (`ingest_stage`, `engine_stage`, `assemble`, `finish`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from raxdoc.ingest.einvoice import EInvoice

# doc_ids not derived from the bytes (they could not be read): never trusted as done by a rerun.
SOURCE_ID_PREFIX = "source:"


class RowKind(str, Enum):
    PAGE = "page"  # one page of a document: pixels, or the error that page failed with
    DOC_ERROR = "doc_error"  # the document failed as a whole (unreadable, encrypted, no pages)
    SKIPPED = "skipped"  # a previous run wrote this document (resume): nothing to do
    EINVOICE = "einvoice"  # the document's values are its e-invoice XML's (`einvoice`); no pages follow


@dataclass
class StageRow:
    """One row between stages. Ingest fills the identity, page and error fields; the engine stage
    fills the model's fields and drops the pixels; the driver reads it all."""

    doc_id: str  # content id of the file's bytes, or source_id() when they could not be read
    source: str
    kind: RowKind = RowKind.PAGE
    page_index: int | None = None  # set for PAGE rows only
    page_count: int = 0  # pages this run sends on for the document (what the assembler waits for)
    file_page_count: int = 0  # pages in the file (more than page_count when max_pages cut it)
    pixels: bytes = b""  # (height, width, 3) uint8 RGB, raw; empty once the engine has read them
    height: int = 0
    width: int = 0
    dpi: float | None = None  # rendered resolution; None for an image file without one
    page_kind: str | None = None  # "scanned" / "digital" / "mixed" (raxdoc.ingest.PageKind)
    # The page's text layer: (x0, y0, x1, y1, text) per word, boxes 0..1 of the page (`page_words`);
    # empty when the page has none. Kept through the engine stage: the driver grounds values in it.
    words: tuple[tuple[float, float, float, float, str], ...] = ()
    # Where `words` came from: "pdf" (the file's own text layer) or "ocr" (`--ocr`: noisier, a
    # misread character is possible); None when the page has no words.
    text_source: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # document metadata (format, producer, ...)
    error_type: str | None = None  # set when this page (or document) failed before the model's text
    error: str | None = None
    t_ingest: float = 0.0
    text: str | None = None  # the model's output; None until the engine stage ran the page
    finish_reason: str | None = None
    # The paths of the engine that read the page (`selfcheck.format_paths`: reader, kernels, the
    # self-check's verdict); the driver records the run's in its manifest.
    engine_paths: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    t_engine: float = 0.0
    # The e-invoice the document carries: on its EINVOICE row, or on page 0 when the pages go to the
    # model as well (verify). `einvoice_error`: why a PDF's e-invoice XML was not used (its pages
    # went to the model instead), on page 0.
    einvoice: EInvoice | None = None
    einvoice_error: str | None = None

    @property
    def failed(self) -> bool:
        """This row already failed upstream (ingest or engine): no text will come for it."""
        return self.error_type is not None

    def fail(self, exc: BaseException) -> None:
        """Mark the row failed with `exc`'s error type and message (see `error_fields`)."""
        self.error_type, self.error = error_fields(exc)

    def image(self) -> np.ndarray:
        """(H, W, 3) uint8 view of a page row's pixels."""
        return np.frombuffer(self.pixels, dtype=np.uint8).reshape(self.height, self.width, 3)


def page_words(words: Iterable[Any], width: int, height: int, places: int = 4
               ) -> tuple[tuple[float, float, float, float, str], ...]:
    """A page's words in pixels (`raxdoc.ingest.Word`) -> boxes normalised 0..1 of its width and
    height, rounded to `places` (1e-4 of a page is under 0.1 pt), clamped into the page."""
    if not words or width <= 0 or height <= 0:
        return ()

    def unit(v: float, size: int) -> float:
        return round(min(1.0, max(0.0, v / size)), places)

    return tuple((unit(w[0], width), unit(w[1], height), unit(w[2], width), unit(w[3], height), str(w[4]))
                 for w in words)


def doc_error_row(doc_id: str, source: str, exc: BaseException, **known: Any) -> StageRow:
    """A DOC_ERROR row for `exc`; `known` keeps what was learnt before it (page counts, meta)."""
    row = StageRow(doc_id, source, RowKind.DOC_ERROR, **known)
    row.fail(exc)
    return row


def error_fields(exc: BaseException) -> tuple[str, str]:
    """(error_type, error): a RaxdocError's own, else `internal:<class>` (a bug, still a row)."""
    error_type = getattr(exc, "error_type", None) or f"internal:{type(exc).__name__}"
    return str(error_type), str(getattr(exc, "message", None) or exc)


def source_id(source: str) -> str:
    """doc_id for a source whose bytes could not be read: an id of its name, so it still keys a row."""
    from raxdoc.ingest.document import content_id

    return SOURCE_ID_PREFIX + content_id(source.encode())


# Wire encoding of the optional fields: None travels as "" (strings) or -1 (page_index).
_OPTIONAL_STR = ("page_kind", "text_source", "error_type", "error", "text", "finish_reason", "engine_paths",
                 "einvoice_error")
_NO_PAGE = -1
_FIELDS = tuple(f.name for f in fields(StageRow))


def to_wire(row: StageRow) -> dict[str, Any]:
    """The row as Arrow-friendly plain values: every column present, none of them null."""
    out = {name: getattr(row, name) for name in _FIELDS}
    out["kind"] = row.kind.value
    out["page_index"] = _NO_PAGE if row.page_index is None else row.page_index
    out["dpi"] = 0.0 if row.dpi is None else float(row.dpi)
    out["meta"] = json.dumps(row.meta, sort_keys=True)
    # One compact JSON string (a dense page: ~1,000 words, ~40 KB): Arrow-friendly, never null.
    out["words"] = json.dumps(row.words, ensure_ascii=False, separators=(",", ":")) if row.words else ""
    out["einvoice"] = "" if row.einvoice is None else einvoice_to_json(row.einvoice)
    for name in _OPTIONAL_STR:
        out[name] = _utf8(out[name] or "")
    out["source"], out["words"] = _utf8(out["source"]), _utf8(out["words"])
    return out


def from_wire(values: Mapping[str, Any]) -> StageRow:
    """A wire row (numpy scalars, NaN for a null that slipped through, "" / -1 / 0.0 for None)
    back to a StageRow; columns the row does not know are ignored."""
    v = {name: _plain(values[name]) for name in _FIELDS if name in values}
    for name in _OPTIONAL_STR:
        if name in v:
            v[name] = v[name] if isinstance(v[name], str) and v[name] else None
    if "page_index" in v:
        v["page_index"] = None if v["page_index"] is None or int(v["page_index"]) < 0 else int(v["page_index"])
    v["kind"] = RowKind(v.get("kind") or RowKind.PAGE.value)
    v["dpi"] = float(v["dpi"]) if v.get("dpi") else None
    v["meta"] = json.loads(v["meta"]) if isinstance(v.get("meta"), str) and v["meta"] else {}
    words = v.get("words")
    v["words"] = tuple(tuple(w) for w in json.loads(words)) if isinstance(words, str) and words else ()
    v["pixels"] = bytes(v.get("pixels") or b"")
    found = v.get("einvoice")
    v["einvoice"] = einvoice_from_json(found) if isinstance(found, str) and found else None
    for name in ("page_count", "file_page_count", "height", "width", "prompt_tokens", "completion_tokens"):
        v[name] = int(v.get(name) or 0)
    for name in ("t_ingest", "t_engine"):
        v[name] = float(v.get(name) or 0.0)
    return StageRow(**v)


def einvoice_to_json(found: EInvoice) -> str:
    """An EInvoice as one JSON string: decimals as their exact text, dates ISO (lossless)."""
    values = {f.name: getattr(found, f.name) for f in fields(found)}  # every field travels
    values["invoice"] = found.invoice.model_dump(mode="json")
    values["notes"] = [list(n) for n in found.notes]
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def einvoice_from_json(text: str) -> EInvoice:
    """`einvoice_to_json`'s inverse."""
    from raxdoc.ingest.einvoice import EInvoice
    from raxdoc.schemas.invoice import Invoice

    values = json.loads(text)
    values["invoice"] = Invoice.model_validate(values["invoice"])
    values["notes"] = tuple(tuple(n) for n in values["notes"])
    return EInvoice(**values)


def decode_batch(batch: Mapping[str, Any]) -> list[StageRow]:
    """Ray's column batch (dict of numpy arrays, or lists) -> typed rows."""
    columns = {k: list(v) for k, v in batch.items()}
    n = len(next(iter(columns.values()), []))
    return [from_wire({k: v[i] for k, v in columns.items()}) for i in range(n)]


def encode_batch(rows: list[StageRow]) -> dict[str, list]:
    """Typed rows -> a column batch (dict of lists) for Ray; every column even for no rows."""
    wire = [to_wire(r) for r in rows]
    return {name: [w[name] for w in wire] for name in _FIELDS}


def _utf8(text: str) -> str:
    """`text`, its lone surrogates (undecodable bytes of a file name, as os.fsdecode holds them)
    written as backslash escapes ("\\udcff"): Arrow refuses them, and one such string would fail its
    whole block. Sources are valid already (`raxdoc.ingest.localfs.display`); this guards the rest."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")  # "\\udcff", six characters
    return text


def _plain(value: Any) -> Any:
    """Python value of a numpy scalar; None for NaN (a null in Arrow) and None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
