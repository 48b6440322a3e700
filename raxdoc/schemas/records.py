"""Result records passed from postprocess to the Parquet writer.

Plain frozen dataclasses: a page's parse result (`PageResult`, with a typed
`ParseFailure` when it did not parse), the issues noted on the way (`Issue`),
the arithmetic checks (`Checks`), where the values are printed (`Grounding`,
`ItemGrounding`) and a merged document (`DocumentRecord`).
They live in `schemas` so that `rows.py` can turn them into rows without
importing postprocess; producing them is postprocess's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

# ParseFailure.kind values.
EMPTY = "empty"  # nothing but whitespace / think block
NO_JSON = "no_json"  # no JSON object anywhere in the text
INVALID_JSON = "invalid_json"  # JSON-like but not decodable (and not repairable)
TRUNCATED = "truncated"  # constrained output cut off before the object closed
SCHEMA_MISMATCH = "schema_mismatch"  # decoded, but not an object of the schema's shape
MISSING = "missing"  # no model output came back for this page (set by merge_pages)
FAILURE_KINDS = (EMPTY, NO_JSON, INVALID_JSON, TRUNCATED, SCHEMA_MISMATCH, MISSING)

# DocumentRecord.status values.
OK, PARTIAL, ERROR = "ok", "partial", "error"


@dataclass(frozen=True)
class ParseFailure:
    """Why one page's text gave no record; the raw text is kept for later repair."""

    kind: str  # one of FAILURE_KINDS, or the upstream error type of a page that never had text
    message: str
    raw_text: str


@dataclass(frozen=True)
class Issue:
    """Something doubtful noticed while reading a page; never a silent fix."""

    kind: str  # field_dropped | ambiguous_number | repaired_json | wrapped_list | joined_across_pages | ...
    field: str  # dotted path, e.g. "line_items[2].amount"; "" for the whole page
    message: str
    page_index: int | None = None


@dataclass(frozen=True)
class PageResult:
    """One attempt at one page: a validated record or a failure, never both."""

    schema: type[BaseModel]
    record: BaseModel | None
    failure: ParseFailure | None
    raw_text: str
    issues: tuple[Issue, ...] = ()
    page_index: int | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


@dataclass(frozen=True)
class Checks:
    """Reconciliation results; None means "not checkable" (a field was missing)."""

    line_amount_ok: tuple[bool | None, ...] = ()  # per merged item: qty x unit_price - discount = amount
    lines_sum_subtotal: bool | None = None  # sum of item amounts = subtotal
    subtotal_tax_total: bool | None = None  # subtotal + tax_total = total
    duplicate_lines: int = 0  # items equal to an item on an earlier page
    tax_breakdown_ok: bool | None = None  # each rate row base × rate = tax, and Σ tax = tax_total
    confidence: float = 0.0  # heuristic in [0, 1], see postprocess.checks

    @property
    def line_amounts_passed(self) -> int:
        return sum(1 for v in self.line_amount_ok if v is True)

    @property
    def line_amounts_failed(self) -> int:
        return sum(1 for v in self.line_amount_ok if v is False)


@dataclass(frozen=True)
class ItemGrounding:
    """Where one line item is printed on its page; None throughout when its page has no text layer."""

    bbox: tuple[float, float, float, float] | None = None  # union of its matched words, 0..1 of the page
    grounded: bool | None = None  # every value of the item was found on its page
    unverified_fields: tuple[str, ...] | None = None  # the item's fields whose value is not on the page


@dataclass(frozen=True)
class Grounding:
    """A document's values looked up in its pages' text layers (raxdoc.postprocess.grounding)."""

    items: tuple[ItemGrounding, ...] = ()  # per merged item, in item order
    unverified_fields: tuple[str, ...] | None = None  # header fields on no page; None: no text layer
    grounded_ratio: float | None = None  # share of values found, over pages with a text layer


@dataclass(frozen=True)
class DocumentRecord:
    """All pages of one input merged into one schema instance, with checks and status."""

    schema: type[BaseModel]
    record: BaseModel  # merged; items in page order
    item_keys: tuple[tuple[int, int], ...]  # (page_index, item_index within page) per item
    pages: tuple[PageResult, ...]
    checks: Checks
    status: str  # ok | partial | error
    error_type: str | None = None
    error: str | None = None
    issues: tuple[Issue, ...] = field(default=())
    doc_id: str = ""
    source: str = ""
    # Pages in the file when more than `pages` (max_pages left some unread); None: all were read.
    file_page_count: int | None = None
    # Set when the pages' text layers were given; None: grounding was not run (columns stay null).
    grounding: Grounding | None = None

    @property
    def page_count(self) -> int:
        """Pages in the file: the pages merged, plus any left unread."""
        return max(len(self.pages), self.file_page_count or 0)

    @property
    def pages_ok(self) -> int:
        return sum(1 for p in self.pages if p.ok)
