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
(`checks.grounded_confidence`). A number not on its page that the printed text settles
(`corrections`) is replaced, never silently: a `corrected_from_text` issue names the field and
the value read, the field counts as found, and the checks and status are decided again
(`merge.recheck`). Whole lines likewise (`repair_lines`, `added_lines`): a line read twice from
one printed row is removed (`removed_repeated_line`), a description cut short of its printed
cell is taken whole (`corrected_from_text`), and a table row no item accounts for (`missed_lines`)
is read back as an item where its row settles one (`added_from_text`), else it is a
`possibly_missed_line` issue.

Not here: the text-layer index (`ground_words`, `ground_text`), rows and columns of a table
(`ground_rows`), the correction and missed-line rules, Parquet columns (`raxdoc.schemas.rows`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal

from pydantic import BaseModel

from raxdoc.postprocess.checks import grounded_confidence, line_amount_ok
from raxdoc.postprocess.corrections import TOTAL_FIELDS, Fix, correct_item, correct_total
from raxdoc.postprocess.ground_rows import ItemRow, align_columns, locate_item
from raxdoc.postprocess.ground_words import Match, PageText
from raxdoc.postprocess.merge import recheck
from raxdoc.postprocess.missed_lines import MissedRow, missed_rows
from raxdoc.postprocess.normalise import PageHints
from raxdoc.postprocess.added_lines import item_from_row, settles_sum
from raxdoc.postprocess.repair_lines import complete_descriptions, repeated_items
from raxdoc.schemas.fields import FieldKind, item_model, items_field, model_fields_of
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

    def __init__(self, words: Sequence, hints: PageHints | None, source: str | None = None):
        self.ocr = source == "ocr"
        self.text = PageText(words, decimal_sep=hints.decimal_sep if hints else None, ocr=self.ocr)
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


def ground_document(doc: DocumentRecord, page_words: Mapping[int, Sequence], hints: PageHints | None = None,
                    page_sources: Mapping[int, str | None] | None = None) -> DocumentRecord:
    """`doc` grounded: `grounding` set, misreads corrected from the text (`corrections`, each a
    `corrected_from_text` issue, checks and status decided again), `ungrounded_item` and
    `possibly_missed_line` issues added, confidence lowered for them.

    `page_words`: {page_index: the page's words as (x0, y0, x1, y1, text), 0..1}; a page that is
    absent or has no words has no text layer. `hints`: the document's decimal separator and date
    order, used where a page's own words do not settle them. `page_sources`: {page_index: where its
    words came from, "pdf" or "ocr"}; an OCR page allows OCR's misreads in codes and phrases
    (`ground_words.PageText`), and its items are not marked for a description alone.
    """
    sources = page_sources or {}
    pages = {n: _Page(words, hints, sources.get(n)) for n, words in page_words.items() if words}
    items_name = items_field(doc.schema)
    items = list(getattr(doc.record, items_name))
    located: list[ItemRow | None] = []
    for item, (page_index, _) in zip(items, doc.item_keys, strict=True):
        page = pages.get(page_index)
        located.append(None if page is None else locate_item(page, values_of(item)))
    issues = list(doc.issues)
    keys = list(doc.item_keys)
    for k in reversed(repeated_items(items, located, keys, pages)):
        issues.append(Issue("removed_repeated_line", f"{items_name}[{k}]", f"{items[k].description!r} was read "
                            f"again from the same printed row of page {keys[k][0]}, printed fewer times than read",
                            keys[k][0]))
        del items[k], located[k], keys[k]
    columns = {n: align_columns([r for r, (p, _) in zip(located, keys) if r is not None and p == n])
               for n in pages}
    complete_descriptions(items, located, keys, {n: p.text for n, p in pages.items()}, items_name, issues)
    for k, (row, (page_index, _)) in enumerate(zip(located, keys)):
        fix = None if row is None else correct_item(items[k], row, pages[page_index].text, columns[page_index])
        if fix is not None:
            issues.append(_corrected(f"{items_name}[{k}].{fix.name}", getattr(items[k], fix.name), fix, page_index))
            items[k] = items[k].model_copy(update={fix.name: fix.value})
            row.values = [(p, how, fix.value if p == fix.name else v) for p, how, v in row.values]
            row.chosen[fix.name] = fix.match
    missed = _add_missed(doc, items, located, keys, pages, columns, issues)
    changed = len(issues) > len(doc.issues)
    record = doc.record.model_copy(update={items_name: items}) if changed else doc.record
    doc = dataclasses.replace(doc, item_keys=tuple(keys)) if changed else doc
    found = total = 0
    results = []
    for row, (page_index, index) in zip(located, doc.item_keys):
        result = ItemGrounding() if row is None else row.verdict(prose_unknown=pages[page_index].ocr)
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
        header = [v for v in values_of(record) if not v[0].startswith(f"{items_name}[")
                  and _read_from(doc, v[0]) & set(pages)]
        # Exact on every page before fuzzy on any: a header value is printed on one page of many.
        header_missing = tuple(path for path, how, value in header
                               if not any(p.find(how, value, fuzzy=fuzzy) for fuzzy in (False, True)
                                          for p in pages.values()))
        # Σ lines settles a subtotal only when every line is read once and found in its row.
        complete = not missed and not _shared_rows(located, doc.item_keys) and all(
            r.grounded is not None and "amount" not in r.unverified_fields for r in results)
        record, header_missing = _correct_totals(doc, record, header_missing, complete, pages, issues)
        total += len(header)
        found += len(header) - len(header_missing)
        issues += missed
    ratio = round(found / total, 4) if pages and total else None
    grounding = Grounding(tuple(results), header_missing, ratio)
    corrected = record is not doc.record
    doc = dataclasses.replace(doc, record=record, grounding=grounding, issues=tuple(issues))
    doc = recheck(doc) if corrected else doc
    checks = dataclasses.replace(doc.checks, confidence=grounded_confidence(doc))
    return dataclasses.replace(doc, checks=checks)


def _corrected(path: str, read: object, fix: Fix, page_index: int | None) -> Issue:
    return Issue("corrected_from_text", path, f"read {read}; page {page_index} prints {fix.value} where it belongs, "
                 "and only that value makes the arithmetic agree", page_index)


def _shared_rows(located: list[ItemRow | None], keys: Sequence[tuple[int, int]]) -> bool:
    """Two items of a page took their amount from one printed place (a line read twice)."""
    places = [(p, r.chosen["amount"].words) for r, (p, _) in zip(located, keys) if r and "amount" in r.chosen]
    return len(set(places)) < len(places)


def _correct_totals(doc: DocumentRecord, record: BaseModel, missing: tuple[str, ...], items_found: bool,
                    pages: Mapping[int, _Page], issues: list[Issue]) -> tuple[BaseModel, tuple[str, ...]]:
    """Totals not found on their pages, fixed from the printed text where that settles them
    (`corrections.correct_total`); a fixed total is found, and evidence for the next one."""
    items = list(getattr(record, items_field(doc.schema)))
    for name in TOTAL_FIELDS:
        read_on = {n: pages[n].text for n in _read_from(doc, name) if n in pages}
        fix = correct_total(record, name, missing, read_on, items=items, items_found=items_found)
        if fix is not None:
            issues.append(_corrected(name, getattr(record, name), fix, fix.page_index))
            record = record.model_copy(update={name: fix.value})
            missing = tuple(m for m in missing if m != name)
    return record, missing


def _missed(doc: DocumentRecord, located: list[ItemRow | None], keys: Sequence[tuple[int, int]],
            pages: Mapping[int, _Page]) -> list[tuple[int, MissedRow]]:
    """Each table row no item accounts for (`missed_lines`), with its page."""
    record = doc.record
    totals = {abs(v) for n in (*TOTAL_FIELDS, "amount_due") if isinstance(v := getattr(record, n, None), Decimal)}
    out = []
    for n, page in sorted(pages.items()):
        rows = [r for r, (p, _) in zip(located, keys) if r is not None and p == n]
        elsewhere = [r for r, (p, _) in zip(located, keys) if r is not None and p != n]
        out += [(n, row) for row in missed_rows(page.text, rows, totals, elsewhere)]
    return out


def _add_missed(doc: DocumentRecord, items: list, located: list[ItemRow | None], keys: list[tuple[int, int]],
                pages: Mapping[int, _Page], columns: Mapping[int, Mapping], issues: list[Issue]) -> list[Issue]:
    """Missed rows that settle an item (`added_lines`) added in page order, each with an
    `added_from_text` issue; a `possibly_missed_line` issue for every other one (returned)."""
    name = items_field(doc.schema)
    model = item_model(doc.schema)
    hows = {p: how for r in located if r is not None for p, how, _ in r.values}
    found, sum_only, left = [], [], []
    for n, row in _missed(doc, located, keys, pages):
        # A column too few of this page's items fix (a discount on two lines) is taken from the others'.
        cols = {**{f: c for m in sorted(columns) if m != n for f, c in columns[m].items()}, **columns[n]}
        item = item_from_row(pages[n].text, row, cols, hows, model, n)
        (left if item is None else found if line_amount_ok(item) else sum_only).append((n, row, item))
    if sum_only and not settles_sum(items + [i for _, _, i in found], [i for _, _, i in sum_only], doc.record):
        left += sum_only
        sum_only = []
    for n, row, item in sorted(found + sum_only, key=lambda t: (t[0], t[1].lines[0])):
        at = _place(located, keys, pages, n, row.lines[0])
        index = 1 + max([k[1] for k in keys[:at] if k[0] == n], default=-1)
        keys[:] = keys[:at] + [(n, index)] + [(p, i + 1 if p == n else i) for p, i in keys[at:]]
        items.insert(at, item)
        located.insert(at, locate_item(pages[n], values_of(item)))
        issues.append(Issue("added_from_text", f"{name}[{at}]", f"page {n} prints {row.text!r}, which no extracted "
                            "item accounts for; read from the printed row", n))
    return [Issue("possibly_missed_line", name, f"printed row {row.text!r} matches no extracted item", n)
            for n, row, _ in sorted(left, key=lambda t: (t[0], t[1].lines[0]))]


def _place(located: list[ItemRow | None], keys: Sequence[tuple[int, int]], pages: Mapping[int, _Page],
           page_index: int, line: int) -> int:
    """Where a row printed on `line` of `page_index` goes among the items: after those above it."""
    at = 0
    for k, (row, (p, _)) in enumerate(zip(located, keys)):
        if p < page_index:
            at = k + 1
        elif p == page_index and row is not None and row.chosen:
            if min(pages[p].text.line_of[i] for m in row.chosen.values() for i in m.words) < line:
                at = k + 1
    return at
