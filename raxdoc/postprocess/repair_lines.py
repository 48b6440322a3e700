"""Whole-line misreads repaired from the printed text: a line read twice, a description cut short.

- `repeated_items`: two items of one page with equal values, located on the same printed row
  (same words, so the same box), where the page prints that row fewer times than it was read: the
  later copies are extras. A row printed twice and read twice is kept (its description is printed
  on two lines, so the count matches).
- `full_description`: an item whose description, found exactly, is a strict word-prefix of the
  text printed in its description cell: the words that follow it on its line up to the next
  field's column, and any wrapped lines right below it that start at the description's left edge
  and hold nothing outside the description column (a missed second line, or words cut off).
  Only where the cell is unambiguous: another field of the item right of the description bounds
  the column, and no other item's value is in the added words.

Each repair is made by the caller (`grounding`) and recorded as a document issue
(`removed_repeated_line`, `corrected_from_text`); nothing here changes a record.

Not here: locating items (`ground_rows`), numbers fixed from the text (`corrections`), rows no
item accounts for (`missed_lines`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from raxdoc.postprocess.ground_rows import ItemRow
from raxdoc.postprocess.ground_text import norm_text
from raxdoc.postprocess.ground_words import Match, PageText
from raxdoc.schemas.records import Issue

WRAP_GAP = 0.6  # line heights between a description's line and its wrapped continuation
LEFT_SLACK = 2.0  # character widths a wrapped line's first word may stray from the description's left edge


def _printed_rows(page: PageText, row: ItemRow) -> int:
    """Text lines on which every value the item was found by is printed: how often its row is."""
    lines = None
    for path in row.chosen:
        here = {page.line_of[i] for m in row.located[path] for i in m.words}
        lines = here if lines is None else lines & here
    return len(lines or ())


def repeated_items(items: Sequence[BaseModel], rows: Sequence[ItemRow | None], keys: Sequence[tuple[int, int]],
                   pages: Mapping) -> list[int]:
    """Indices (into `items`) of the later copies of a line read more often than its row is printed."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for k, (row, (page_index, _)) in enumerate(zip(rows, keys)):
        desc = getattr(items[k], "description", None)
        if row is None or "amount" not in row.chosen or "description" not in row.chosen or not desc:
            continue
        place = tuple(sorted(i for m in row.chosen.values() for i in m.words))
        groups[(page_index, place, items[k].model_dump_json())].append(k)
    extra: list[int] = []
    for (page_index, _, _), ks in groups.items():
        if len(ks) < 2:
            continue
        printed = _printed_rows(pages[page_index].text, rows[ks[0]])
        if printed >= 1 and len(ks) > printed:
            extra += ks[printed:]
    return sorted(extra)


def _char(page: PageText, i: int) -> float:
    w = page.words[i]
    return (w.x1 - w.x0) / max(1, len(w.text))


def _join(words: Sequence[str]) -> str:
    out = ""
    for w in words:
        # A word hyphenated over a line break joins its rest without a space.
        out += w if not out or out.endswith("-") and w[:1].islower() else " " + w
    return out


def full_description(page: PageText, row: ItemRow, description: str,
                     taken: set[int]) -> tuple[str, Match] | None:
    """(printed description, its place) when `description` is a strict word-prefix of its printed
    cell (module docstring); None otherwise. `taken`: words other items' values were found in."""
    m = row.chosen.get("description")
    if m is None or not description or norm_text(" ".join(page.words[i].text for i in m.words)) != \
            norm_text(description):
        return None  # found fuzzily (or not at all): the printed cell is not settled
    left, right = m.box[0], m.box[2]
    limit = min((o.box[0] for p, o in row.chosen.items() if p != "description" and o.box[0] >= right),
                default=None)
    if limit is None:
        return None  # nothing bounds the description column on the right
    words = list(m.words)
    # The rest of the cell on the description's last line: adjacent words, up to the next column.
    while words[-1] in page.follows and page.words[page.follows[words[-1]]].x1 <= limit:
        words.append(page.follows[words[-1]])
    n = page.line_of[words[-1]]
    height = page.words[words[-1]].y1 - page.words[words[-1]].y0
    while n + 1 < len(page.lines):
        below = page.lines[n + 1]
        first = page.words[below[0]]
        gap = first.y0 - page.words[words[-1]].y1
        if gap > WRAP_GAP * height or abs(first.x0 - left) > LEFT_SLACK * _char(page, below[0]) \
                or any(page.words[i].x1 > limit for i in below):
            break
        words += below
        n += 1
    added = words[len(m.words):]
    if not added or taken & set(added):
        return None
    text = _join([page.words[i].text for i in words])
    return text, Match(tuple(words), page.box(words))


def complete_descriptions(items: list, located: list[ItemRow | None], keys: Sequence[tuple[int, int]],
                           pages: Mapping[int, PageText], items_name: str, issues: list[Issue]) -> None:
    """Descriptions cut short of their printed cell (`repair_lines.full_description`) taken whole, each
    with a `corrected_from_text` issue naming the value read."""
    for k, (row, (page_index, _)) in enumerate(zip(located, keys)):
        desc = getattr(items[k], "description", None)
        if row is None or not isinstance(desc, str):
            continue
        taken = {i for j, r in enumerate(located) if r is not None and j != k and keys[j][0] == page_index
                 for m in r.chosen.values() for i in m.words}
        found = full_description(pages[page_index], row, desc, taken)
        if found is None:
            continue
        text, match = found
        issues.append(Issue("corrected_from_text", f"{items_name}[{k}].description",
                            f"read {desc!r}; page {page_index} prints {text!r} in its row", page_index))
        items[k] = items[k].model_copy(update={"description": text})
        row.values = [(p, how, text if p == "description" else v) for p, how, v in row.values]
        row.chosen["description"] = match
