"""`ground_document`: tie a merged document's values to where its pages print them (CPU, no model).

For every page with a text layer (its words, boxes normalised 0..1), each extracted value is
looked up among the page's words (`ground_words.PageText`): numbers by value through the
locale parsers, dates by value, codes (ids, IBAN, product codes) exactly without spaces,
currencies by code or symbol, other text by normalised (then fuzzy) span match. Results:

- per line item (`ItemGrounding`): `bbox`, the union of its matched words; `grounded`, every
  value of the item found on its page; `unverified_fields`, the fields whose value is not there.
  A value counts only where it is printed in the item's own row and column (`ground_rows`), so
  a quantity "2" is not taken from a "2" elsewhere on the page.
- per document: header fields found on no page (`unverified_fields`) and the share of all values
  found (`grounded_ratio`), over values read from pages that have a text layer (a total read
  from a scanned last page is unknown, not unverified).

A page without words has no text layer: its items get None (unknown), never False. An item none
of whose values is on its page is reported (`ungrounded_item`) and lowers confidence
(`checks.grounded_confidence`). Nothing is changed in the values themselves.

Not here: the text-layer index (`ground_words`, `ground_text`), rows and columns of a table
(`ground_rows`), Parquet columns (`raxdoc.schemas.rows`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal

from pydantic import BaseModel

from raxdoc.postprocess.checks import grounded_confidence
from raxdoc.postprocess.ground_rows import ItemRow, align_columns, locate_item
from raxdoc.postprocess.ground_words import Match, PageText
from raxdoc.postprocess.normalise import PageHints
from raxdoc.schemas.fields import FieldKind, items_field, model_fields_of
from raxdoc.schemas.records import DocumentRecord, Grounding, Issue, ItemGrounding

# String fields compared exactly (spaces removed): identifiers, not prose.
_CODE_NAMES = frozenset({"iban", "bic", "purchase_order"})
_CODE_SUFFIXES = ("_code", "_number", "_id", "_no")
_NUMBER_KINDS = frozenset({"decimal", "integer", "number"})


def _how(name: str, kind: FieldKind) -> str | None:
    """How a field's value is looked up: number, date, currency, code, phrase; None: not at all."""
    if kind.internal:
        return None
    if kind.kind in _NUMBER_KINDS:
        return "number"
    if kind.kind in ("date", "currency"):
        return kind.kind
    if kind.kind == "string":
        return "code" if name in _CODE_NAMES or name.endswith(_CODE_SUFFIXES) else "phrase"
    return None  # booleans: nothing printed to find


def _empty(v: object) -> bool:
    return v is None or v == [] or (isinstance(v, str) and not v.strip())


def values_of(obj: BaseModel, prefix: str = "") -> list[tuple[str, str, object]]:
    """(path, how, value) of every non-empty value to look up, nested objects and lists included."""
    out: list[tuple[str, str, object]] = []
    for name, kind in model_fields_of(type(obj)).items():
        value = getattr(obj, name, None)
        if kind.internal or _empty(value):
            continue
        path = f"{prefix}{name}"
        if kind.kind == "object" and isinstance(value, BaseModel):
            out += values_of(value, f"{path}.")
        elif kind.kind == "list" and kind.item is not None and isinstance(value, list):
            for k, element in enumerate(value):
                if isinstance(element, BaseModel):
                    out += values_of(element, f"{path}[{k}].")
                elif (how := _how(name, kind.item)) and not _empty(element):
                    out.append((f"{path}[{k}]", how, element))
        elif (how := _how(name, kind)) is not None and not isinstance(value, bool):
            out.append((path, how, value))
    return out


class _Page:
    """A PageText and the lookups made on it (a document repeats currencies and quantities)."""

    def __init__(self, words: Sequence, hints: PageHints | None):
        self.text = PageText(words, decimal_sep=hints.decimal_sep if hints else None)
        self.order = hints.date_order if hints else None
        self._cache: dict[tuple[str, object, bool], list[Match]] = {}

    def find(self, how: str, value: object, *, fuzzy: bool = True) -> list[Match]:
        key = (how, value, fuzzy)
        if key not in self._cache:
            t = self.text
            if how == "number":
                found = t.numbers(value if isinstance(value, Decimal) else Decimal(str(value)))
            elif how == "date":
                found = t.dates(value, self.order) if isinstance(value, dt.date) else []
            elif how == "currency":
                found = t.currency(str(value))
            elif how == "code":
                found = t.codes(str(value))
            else:
                found = t.phrases(str(value), fuzzy=fuzzy)
            self._cache[key] = found
        return self._cache[key]


def _read_from(doc: DocumentRecord, path: str) -> set[int]:
    """Pages whose reading gave the header field of `path` a value. Only a value read from a page
    with a text layer can be checked: one read from a scan alone is unknown, not unverified."""
    name = path.split(".")[0].split("[")[0]
    return {p.page_index for p in doc.pages
            if p.record is not None and p.page_index is not None and not _empty(getattr(p.record, name, None))}


def ground_document(doc: DocumentRecord, page_words: Mapping[int, Sequence], hints: PageHints | None = None
                    ) -> DocumentRecord:
    """`doc` with `grounding` set, `ungrounded_item` issues added and confidence lowered for them.

    `page_words`: {page_index: the page's words as (x0, y0, x1, y1, text), 0..1}; a page that is
    absent or has no words has no text layer. `hints`: the document's decimal separator and date
    order, used where a page's own words do not settle them.
    """
    pages = {n: _Page(words, hints) for n, words in page_words.items() if words}
    items_name = items_field(doc.schema)
    items = list(getattr(doc.record, items_name))
    located: list[ItemRow | None] = []
    for item, (page_index, _) in zip(items, doc.item_keys, strict=True):
        page = pages.get(page_index)
        located.append(None if page is None else locate_item(page, values_of(item)))
    for page_index, page in pages.items():
        align_columns([r for r, (p, _) in zip(located, doc.item_keys) if r is not None and p == page_index])
    found = total = 0
    results, issues = [], list(doc.issues)
    for row, (page_index, index) in zip(located, doc.item_keys):
        result = ItemGrounding() if row is None else row.verdict()
        results.append(result)
        if row is None:
            continue
        total += len(row.values)
        found += len(row.values) - len(result.unverified_fields or ())
        if row.values and len(result.unverified_fields or ()) == len(row.values):
            issues.append(Issue("ungrounded_item", f"{items_name}[{index}]",
                                f"none of its values is printed on page {page_index}", page_index))
    header_missing: tuple[str, ...] | None = None
    if pages:
        header = [v for v in values_of(doc.record) if not v[0].startswith(f"{items_name}[")
                  and _read_from(doc, v[0]) & set(pages)]
        # Exact on every page before fuzzy on any: a header value is printed on one page of many.
        header_missing = tuple(path for path, how, value in header
                               if not any(p.find(how, value, fuzzy=fuzzy) for fuzzy in (False, True)
                                          for p in pages.values()))
        total += len(header)
        found += len(header) - len(header_missing)
    ratio = round(found / total, 4) if pages and total else None
    grounding = Grounding(tuple(results), header_missing, ratio)
    doc = dataclasses.replace(doc, grounding=grounding, issues=tuple(issues))
    checks = dataclasses.replace(doc.checks, confidence=grounded_confidence(doc))
    return dataclasses.replace(doc, checks=checks)

