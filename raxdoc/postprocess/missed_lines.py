"""Rows of a page's item table that no extracted item accounts for: lines the reader may have missed.

The table is found from the items that were located on the page (`ground_rows.ItemRow`, two
values or more in their row): it spans their rows and extends up and down over adjacent lines
that look like table rows, stopping at the table's header row (words over the number columns,
no amount), at running-total rows ("Übertrag", "carried forward", "Report", ...), at a totals
row (a totals label, or a number in the amount column equal to the document's subtotal, tax or
total), at anything else, and at a gap wider than two line heights. Each line in that span
with a number in the amount column (right-aligned with the located items' amounts, those of all
pages when the page has few, read in the page's number style) that holds no located item's value and is no running-total or totals row
is reported with its printed text (and any wrapped description lines under it).

A wrapped second description line has no amount and is never reported; neither is the header.
A page where no item was located at all (the reader missed its whole table) is searched for rows
shaped like the other pages' table rows instead.

Not here: locating items (`ground_rows`), the issue itself (`grounding`).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import NamedTuple

from raxdoc.postprocess.ground_rows import COLUMN_TOLERANCE, MIN_COLUMN, ItemRow, aligned
from raxdoc.postprocess.ground_words import PageText

MIN_VALUES = 2  # values an item needs in its row before its row marks the table
MAX_GAP = 2.0  # line heights between two lines of one table

# Running totals and totals, in the languages of the date tables; matched on a row's text.
_RUNNING = re.compile(r"\b(übertrag|uebertrag|carried forward|brought forward|carry forward|carried over|"
                      r"à reporter|a reporter|zwischensumme|sub-?total)\b|^\W*(\d+\s+)?report\b", re.IGNORECASE)
_TOTALS = re.compile(r"\b(totals?|summe|nettobetrag|gesamtbetrag|rechnungsbetrag|endbetrag|bruttobetrag|"
                     r"amount due|balance due|vat|ust|mwst|tva|sales tax|montant)\b", re.IGNORECASE)
_FOOTER = re.compile(r"^(page|seite|p\.)\s*\d+\s*(of|von|sur|/)\s*\d+$", re.IGNORECASE)

ROW, WRAP, OTHER = "row", "wrap", "other"


def _text(page: PageText, line: Sequence[int]) -> str:
    return " ".join(page.words[i].text for i in line)


def _bare(page: PageText, n: int) -> str:
    """Line n's text without a leading line number: how two printed copies of one item compare."""
    words = [page.words[i].text for i in page.lines[n]]
    return " ".join(words[1:] if len(words) > 1 and words[0].isdigit() else words)


def _label(text: str) -> bool:
    return bool(_RUNNING.search(text) or _TOTALS.search(text) or _FOOTER.match(text.strip()))


class _Table:
    """The located items' columns on one page and each line's kind (row, wrapped line, other)."""

    def __init__(self, page: PageText, rows: Sequence[ItemRow], totals: Collection[Decimal],
                 elsewhere: Sequence[ItemRow]):
        self.page = page
        real = [r for r in rows if len(r.chosen) >= MIN_VALUES]
        amounts = [r.chosen["amount"].box[2] for r in real if "amount" in r.chosen]
        if len(amounts) < MIN_COLUMN:  # too few to trust (q = 1: price and amount alike): all pages' table
            amounts += [r.chosen["amount"].box[2] for r in elsewhere if "amount" in r.chosen]
        self.right = statistics.median(amounts or [max(m.box[2] for m in r.chosen.values()) for r in real])
        numeric: dict[str, list[float]] = {}
        for r in real:
            hows = {path: how for path, how, _ in r.values}
            for path, m in r.chosen.items():
                if hows.get(path) == "number":
                    numeric.setdefault(path, []).append(m.box[0])
        self.zone = min([statistics.median(xs) for xs in numeric.values()] or [self.right])
        self.real_lines = {page.line_of[i] for r in real for m in r.chosen.values() for i in m.words}
        self.matched = {page.line_of[i] for r in rows for m in r.chosen.values() for i in m.words}
        self.amount_values: dict[int, set[Decimal]] = {}
        for value, m in page.printed_numbers():
            if abs(m.box[2] - self.right) <= COLUMN_TOLERANCE:
                self.amount_values.setdefault(page.line_of[m.words[0]], set()).add(value)
        self.totals = set(totals)
        heights = [page.words[i].y1 - page.words[i].y0 for n in self.real_lines for i in page.lines[n]]
        self.max_gap = MAX_GAP * (statistics.median(heights) if heights else 0.0)

    def kind(self, n: int) -> str:
        if n in self.amount_values:
            return ROW
        in_zone = any(self.page.words[i].x1 > self.zone for i in self.page.lines[n])
        return OTHER if in_zone else WRAP

    def stops(self, n: int) -> bool:
        """Line n is not part of the table past its located rows."""
        text = _text(self.page, self.page.lines[n])
        return self.kind(n) == OTHER or _label(text) or bool(self.amount_values.get(n, set()) & self.totals)

    def gap(self, upper: int, lower: int) -> float:
        box_a = self.page.box(self.page.lines[upper])
        box_b = self.page.box(self.page.lines[lower])
        return box_b[1] - box_a[3]

    def span(self) -> range:
        first, last = min(self.real_lines), max(self.real_lines)
        while first > 0 and self.gap(first - 1, first) <= self.max_gap and not self.stops(first - 1):
            first -= 1
        while last + 1 < len(self.page.lines) and self.gap(last, last + 1) <= self.max_gap \
                and not self.stops(last + 1):
            last += 1
        return range(first, last + 1)


def _shaped_rows(page: PageText, elsewhere: Sequence[ItemRow]) -> list[MissedRow]:
    """A page none of whose items was located: the rows shaped like the table rows of the other
    pages (a number in their amount column and one in another of their number columns)."""
    boxes: dict[str, list[tuple[float, ...]]] = defaultdict(list)
    for r in elsewhere:
        hows = {path: how for path, how, _ in r.values}
        for path, m in r.chosen.items():
            if hows.get(path) == "number" and len(r.chosen) >= MIN_VALUES:
                boxes[path].append(m.box)
    columns = {path: (statistics.median(b[0] for b in bs), statistics.median(b[2] for b in bs),
                      statistics.median((b[0] + b[2]) / 2 for b in bs))
               for path, bs in boxes.items() if len(bs) >= MIN_COLUMN}
    if "amount" not in columns or len(columns) < 2:
        return []
    hits: dict[int, set[str]] = defaultdict(set)
    for _, m in page.printed_numbers():
        hits[page.line_of[m.words[0]]] |= {path for path, column in columns.items() if aligned(m.box, column)}
    found = [MissedRow(_text(page, page.lines[n]), (n,)) for n in sorted(hits)
             if "amount" in hits[n] and len(hits[n]) >= 2]
    return [r for r in found if not _label(r.text)]


class MissedRow(NamedTuple):
    """One printed row no item accounts for: its text and its text lines (the row's, then wrapped ones)."""

    text: str
    lines: tuple[int, ...]


def missed_lines(page: PageText, rows: Sequence[ItemRow], totals: Collection[Decimal] = (),
                 elsewhere: Sequence[ItemRow] = ()) -> list[str]:
    """The printed text of each table row on `page` that none of `rows` accounts for (module docstring)."""
    return [r.text for r in missed_rows(page, rows, totals, elsewhere)]


def missed_rows(page: PageText, rows: Sequence[ItemRow], totals: Collection[Decimal] = (),
                elsewhere: Sequence[ItemRow] = ()) -> list[MissedRow]:
    """Each table row on `page` that none of `rows` accounts for, with its lines (module docstring).

    `rows`: the items located on this page; `totals`: the document's total values (absolute), whose
    rows end the table; `elsewhere`: the items located on the document's other pages, whose columns
    find the table on a page where no item was located (`_shaped_rows`).
    """
    if not any(len(r.chosen) >= MIN_VALUES for r in rows):
        return _shaped_rows(page, elsewhere) if not any(r.chosen for r in rows) else []
    table = _Table(page, rows, totals, elsewhere)
    span = table.span()
    # Two items read from one row (a line printed twice, read twice, both located on the first):
    # the other printed copy is theirs, not missed.
    claims = Counter(min(page.line_of[i] for m in r.chosen.values() for i in m.words) for r in rows if r.chosen)
    copies = Counter({_bare(page, n): k - 1 for n, k in claims.items() if k > 1})
    out = []
    for n in span:
        text = _text(page, page.lines[n])
        if table.kind(n) != ROW or n in table.matched or _label(text):
            continue
        if copies[_bare(page, n)] > 0:
            copies[_bare(page, n)] -= 1
            continue
        below = n + 1
        while below in span and table.kind(below) == WRAP and below not in table.matched:
            text += " " + _text(page, page.lines[below])
            below += 1
        out.append(MissedRow(text, tuple(range(n, below))))
    return out
