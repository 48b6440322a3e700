"""An item's row on its page: which of a value's printed places belong to the item.

A value may be printed in several places (a quantity "2" and the line number "2"; a description
repeated on three rows). `locate_item` picks the item's row: the text line most of its fields
have a candidate on, rarer values (one place on the page) weighing more; then each field takes
its candidate in that row, widened to a wrapped description's lines. `align_columns` then
checks the picks of all items on a page against the table's columns: where at least three items
put a field in one column (left, right or centre aligned), a pick outside it is taken from the
column instead, or dropped (the value is then not verified). That is what keeps a quantity
misread as its own line number from counting as found. A currency may be printed anywhere on
the page and never boxes the item.

Not here: looking values up (`ground_words`), what counts as a value, verdicts over a document
(`grounding`).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from raxdoc.postprocess.ground_words import Match, PageText
from raxdoc.schemas.records import ItemGrounding

MIN_COLUMN = 3  # items that must agree on a field's column before it is enforced
COLUMN_TOLERANCE = 0.015  # share of the page width an aligned edge may stray


class PageLookup(Protocol):
    text: PageText

    def find(self, how: str, value: object) -> list[Match]: ...


@dataclass
class ItemRow:
    """One item's values on its page and the place picked for each (path -> Match)."""

    values: Sequence[tuple[str, str, object]]  # (field path, how it is looked up, value)
    located: dict[str, list[Match]]  # every place each row field is printed (empty lists left out)
    chosen: dict[str, Match] = field(default_factory=dict)
    anywhere: set[str] = field(default_factory=set)  # fields found with no place in the row (currency)

    def band(self, without: str | None = None) -> tuple[float, float] | None:
        boxes = [m.box for p, m in self.chosen.items() if p != without]
        return (min(b[1] for b in boxes), max(b[3] for b in boxes)) if boxes else None

    def verdict(self, prose_unknown: bool = False) -> ItemGrounding:
        """Box, grounded, unverified fields. `prose_unknown` (an OCR page): a phrase not found in a
        row whose other values are is not unverified: OCR misreads prose more often than a reader
        does, so its absence says little; numbers and codes still decide."""
        found = set(self.chosen) | self.anywhere
        missing = tuple(path for path, _, _ in self.values if path not in found)
        if prose_unknown and self.chosen:
            missing = tuple(path for path, how, _ in self.values if path in missing and how != "phrase")
        bbox = None
        if self.chosen:
            boxes = [m.box for m in self.chosen.values()]
            bbox = tuple(round(v, 5) for v in (min(b[0] for b in boxes), min(b[1] for b in boxes),
                                                max(b[2] for b in boxes), max(b[3] for b in boxes)))
        return ItemGrounding(bbox, not missing, missing)


def overlaps(box: tuple[float, ...], band: tuple[float, float]) -> float:
    """Vertical overlap of `box` with `band` as a share of the smaller height (0 when apart)."""
    inter = min(box[3], band[1]) - max(box[1], band[0])
    return max(0.0, inter) / max(1e-9, min(box[3] - box[1], band[1] - band[0]))


def _row_line(page: PageText, located: dict[str, list[Match]]) -> int:
    """The text line most fields have a candidate on; rarer values weigh more."""
    count: dict[int, int] = defaultdict(int)
    rarity: dict[int, float] = defaultdict(float)
    for matches in located.values():
        for line in {page.line_of[i] for m in matches for i in m.words}:
            count[line] += 1
            rarity[line] += 1 / len(matches)
    return max(count, key=lambda n: (count[n], rarity[n], -n))


def _best(matches: list[Match], band: tuple[float, float], used: set[int]) -> Match | None:
    """The candidate in `band`: unused words first, then the most overlap, then the most words
    ("12,50 €" over "12,50"), then the rightmost (a line number sits left of its quantity)."""
    inside = [m for m in matches if overlaps(m.box, band) > 0.5]
    if not inside:
        return None
    return max(inside, key=lambda m: (not used & set(m.words), overlaps(m.box, band), len(m.words), m.box[0]))


def _pick(row: ItemRow, band: tuple[float, float]) -> None:
    used = {i for m in row.chosen.values() for i in m.words}
    for path in sorted(row.located, key=lambda p: len(row.located[p])):
        if path not in row.chosen and (best := _best(row.located[path], band, used)) is not None:
            row.chosen[path] = best
            used |= set(best.words)


def locate_item(page: PageLookup, values: Sequence[tuple[str, str, object]]) -> ItemRow:
    """Find each value of one item on its page and pick the item's row (module docstring)."""
    located = {path: ms for path, how, value in values if how != "currency" and (ms := page.find(how, value))}
    row = ItemRow(values, located)
    row.anywhere = {path for path, how, value in values if how == "currency" and page.find(how, value)}
    if located:
        box = page.text.box(page.text.lines[_row_line(page.text, located)])
        _pick(row, (box[1], box[3]))
        # A wrapped description widens the row: fields centred on its two lines are still in it.
        _pick(row, row.band())
    return row


def aligned(box: tuple[float, ...], column: tuple[float, float, float]) -> bool:
    centre = (box[0] + box[2]) / 2
    return any(abs(a - b) <= COLUMN_TOLERANCE for a, b in zip((box[0], box[2], centre), column))


def align_columns(rows: Sequence[ItemRow]) -> dict[str, tuple[float, float, float]]:
    """Re-pick (or drop) each field placed outside the column the page's other items agree on;
    returns those columns ({field path: (left, right, centre)}, medians of the picks)."""
    columns = {}
    by_field: dict[str, list[tuple[float, ...]]] = defaultdict(list)
    for row in rows:
        for path, m in row.chosen.items():
            by_field[path].append(m.box)
    for path, boxes in by_field.items():
        if len(boxes) >= MIN_COLUMN:
            columns[path] = (statistics.median(b[0] for b in boxes), statistics.median(b[2] for b in boxes),
                             statistics.median((b[0] + b[2]) / 2 for b in boxes))
    for row in rows:
        for path, m in list(row.chosen.items()):
            column = columns.get(path)
            if column is None or aligned(m.box, column):
                continue
            del row.chosen[path]
            band = row.band() or (m.box[1], m.box[3])
            used = {i for other in row.chosen.values() for i in other.words}
            best = _best([c for c in row.located[path] if aligned(c.box, column)], band, used)
            if best is not None:
                row.chosen[path] = best
    return columns
