"""Misread numbers fixed from the printed text, only where the page settles it (issue 12).

A number the reader gave that is not printed on its page may be a misread: one character
swapped ("10.00" read "18.00"), dropped or added ("1234.56" read "134.56"). It is replaced by
the printed value only when all of these hold:

- the printed value is one character edit away from the reader's (on the digits, so "1.234,56"
  and "1234.56" compare alike), and printed where the field belongs: for an item, in its own row
  (and in the field's column where the page's other items fix one), for a total, on a line that
  carries a label left of it;
- the arithmetic the field is part of fails with the reader's value and holds with the printed
  one, every other value of it found on the page: quantity × unit_price − discount = amount for
  an item; subtotal + tax_total = total, or Σ item amounts = subtotal, for a total;
- exactly one printed value does so (two distinct candidates: ambiguous, nothing is changed).

Otherwise the field stays unverified. The caller records each fix as a `corrected_from_text`
issue and decides the checks again; nothing here changes a record.

Not here: finding values (`ground_words`, `ground_rows`), verdicts and issues (`grounding`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel

from raxdoc.postprocess.checks import line_amount_ok, lines_sum_subtotal, subtotal_tax_total
from raxdoc.postprocess.ground_rows import ItemRow, aligned, overlaps
from raxdoc.postprocess.ground_words import Match, PageText

LINE_FIELDS = ("quantity", "unit_price", "discount", "amount")  # the terms of an item's arithmetic
TOTAL_FIELDS = ("subtotal", "tax_total", "total")  # in this order: a fixed subtotal is evidence for the total
MIN_ANCHORS = 2  # values of an item found in its row before its row is trusted


@dataclass(frozen=True)
class Fix:
    """One field to take from the page: its name, the printed value (the reader's sign kept), where."""

    name: str
    value: Decimal
    match: Match
    page_index: int | None = None


def _digits(x: Decimal) -> str:
    return format(abs(x), "f").replace(".", "")


def one_edit(read: Decimal, printed: Decimal) -> bool:
    """`printed` differs from `read` by one misread digit: one swapped, dropped or added."""
    a, b = _digits(read), _digits(printed)
    if abs(read) == printed or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) == 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def _signed(printed: Decimal, read: Decimal) -> Decimal:
    return -printed if read < 0 else printed


def _settled(candidates: Mapping[Decimal, list[Match]], best: Callable[[Match], tuple]) -> tuple[Decimal, Match] | None:
    """The one value that fits, and its best place; None when none or several values fit."""
    if len(candidates) != 1:
        return None
    ((value, matches),) = candidates.items()
    return value, max(matches, key=best)


def correct_item(item: BaseModel, row: ItemRow, page: PageText,
                 columns: Mapping[str, tuple[float, float, float]]) -> Fix | None:
    """The fix for the one unverified term of `item`'s arithmetic, if its row settles it (module docstring)."""
    found = set(row.chosen) | row.anywhere
    terms = [n for n in LINE_FIELDS if isinstance(getattr(item, n, None), Decimal)]
    wrong = [n for n in terms if n not in found]
    band = row.band()
    if len(wrong) != 1 or band is None or len(row.chosen) < MIN_ANCHORS or line_amount_ok(item) is not False:
        return None
    name, read = wrong[0], getattr(item, wrong[0])
    used = {i for m in row.chosen.values() for i in m.words}
    column = columns.get(name)
    fits: dict[Decimal, list[Match]] = defaultdict(list)
    for value, m in page.printed_numbers():
        if overlaps(m.box, band) <= 0.5 or used & set(m.words) or not one_edit(read, value):
            continue
        if column is not None and not aligned(m.box, column):
            continue
        signed = _signed(value, read)
        if line_amount_ok(item.model_copy(update={name: signed})):
            fits[signed].append(m)
    settled = _settled(fits, lambda m: (column is not None and aligned(m.box, column), len(m.words), m.box[2]))
    return None if settled is None else Fix(name, settled[0], settled[1])


def _labelled(page: PageText, m: Match) -> bool:
    """A word with letters stands left of `m` on its line (a total is printed beside its label)."""
    line = page.lines[page.line_of[m.words[0]]]
    return any(page.words[i].x1 <= m.box[0] and sum(ch.isalpha() for ch in page.words[i].text) >= 2
               for i in line)


def _evidence(record: BaseModel, name: str, missing: Collection[str], items_found: bool,
              items: list[BaseModel]) -> list[Callable[[BaseModel], bool | None]]:
    """The checks that can settle `name`: those whose other terms are all found on the pages."""
    def found(n: str) -> bool:
        return getattr(record, n, None) is not None and n not in missing

    out: list[Callable[[BaseModel], bool | None]] = []
    discount_ok = getattr(record, "discount_total", None) is None or "discount_total" not in missing
    if discount_ok and all(found(n) for n in TOTAL_FIELDS if n != name):
        out.append(subtotal_tax_total)
    if name == "subtotal" and items_found and discount_ok and items:
        out.append(lambda header: lines_sum_subtotal(items, header))
    return out


def correct_total(record: BaseModel, name: str, missing: Collection[str], pages: Mapping[int, PageText], *,
                  items: list[BaseModel], items_found: bool) -> Fix | None:
    """The fix for total `name` (not found on `pages`, the pages it was read from), if settled.

    `items_found`: every item amount was found in its row, so Σ lines = subtotal is evidence.
    """
    read = getattr(record, name, None)
    checks = _evidence(record, name, missing, items_found, items)
    if not isinstance(read, Decimal) or name not in missing or not checks or all(c(record) for c in checks):
        return None
    fits: dict[Decimal, list[Match]] = defaultdict(list)
    where: dict[Match, int] = {}
    for page_index, page in pages.items():
        for value, m in page.printed_numbers():
            if not one_edit(read, value) or not _labelled(page, m):
                continue
            signed = _signed(value, read)
            header = record.model_copy(update={name: signed})
            if all(c(header) for c in checks):
                fits[signed].append(m)
                where[m] = page_index
    settled = _settled(fits, lambda m: (len(m.words), m.box[2]))
    return None if settled is None else Fix(name, settled[0], settled[1], where[settled[1]])
