"""A line the reader dropped, read back from its printed row where the row settles every value.

`item_from_row` turns one `missed_lines.MissedRow` into an item of the schema, using the columns
the page's located items agree on (`ground_rows.align_columns`): a number field takes the one
value printed in its column on the row's line (two readings, or two values: ambiguous, no
item), a code or unit the words aligned with its column, the description the words from the
description column's left edge up to the next column, plus the row's wrapped lines. It is an
item only when it has a description and an amount and, where the table has quantity and unit
price columns, quantity × unit_price − discount = amount holds (`checks.line_amount_ok`).
`settles_sum` is the other evidence, for tables without those columns: Σ lines = subtotal
holds with the added lines and did not without them.

The caller (`grounding`) adds the item at its place in page order with an `added_from_text`
issue; when no item can be read back, the `possibly_missed_line` issue stays.

Not here: finding the rows (`missed_lines`), locating items (`ground_rows`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from pydantic import BaseModel, ValidationError

from raxdoc.postprocess.checks import line_amount_ok, lines_sum_subtotal
from raxdoc.postprocess.ground_rows import aligned
from raxdoc.postprocess.ground_words import PageText
from raxdoc.postprocess.missed_lines import MissedRow

LEFT_SLACK = 0.01  # share of the page width a description's first word may start left of its column
_MINUS = ("-", "\u2212", "(")


def _number(page: PageText, n: int, column: tuple[float, float, float]
            ) -> tuple[Decimal, tuple[int, ...]] | None | bool:
    """(the one value printed in `column` on line n, its words); None: nothing there; False: ambiguous."""
    values: dict[Decimal, tuple[int, ...]] = {}
    for value, m in page.printed_numbers():
        if page.line_of[m.words[0]] == n and aligned(m.box, column):
            if value not in values or len(m.words) > len(values[value]):
                values[value] = m.words
    if not values:
        return None
    if len(values) > 1:
        # Pieces of one spaced number ("1 234,56" also gives "1" and "234,56"): the widest run wins
        # only when it covers every other reading's words.
        widest = max(values, key=lambda v: len(values[v]))
        if any(not set(ws) <= set(values[widest]) for ws in values.values()):
            return False
        values = {widest: values[widest]}
    ((value, words),) = values.items()
    text = " ".join(page.words[i].text for i in words)
    return (-value if text.strip().startswith(_MINUS) or text.strip().endswith("-") else value), words


def item_from_row(page: PageText, row: MissedRow, columns: Mapping[str, tuple[float, float, float]],
                  hows: Mapping[str, str], model: type[BaseModel], page_index: int) -> BaseModel | None:
    """The item printed in `row`, or None when the row does not settle it (module docstring).

    `hows`: how each field of the page's items is looked up (`grounding.values_of`)."""
    if "description" not in columns or "amount" not in columns:
        return None
    n = row.lines[0]
    line = page.lines[n]
    left = columns["description"][0]
    right = min((c[0] for p, c in columns.items() if c[0] > left + LEFT_SLACK), default=1.0)
    values: dict[str, object] = {}
    desc = [i for i in line if page.words[i].x0 >= left - LEFT_SLACK and page.words[i].x1 <= right]
    desc += [i for k in row.lines[1:] for i in page.lines[k]]
    if not desc:
        return None
    values["description"] = " ".join(page.words[i].text for i in desc)
    numbers: set[int] = set()  # words read as numbers: never part of a code or unit beside them
    for path, column in columns.items():
        if hows.get(path) == "number" and "." not in path and "[" not in path:
            got = _number(page, n, column)
            if got is False:
                return None
            if got is not None:
                values[path], words = got
                numbers |= set(words)
    for path, column in columns.items():
        if path != "description" and hows.get(path) in ("code", "phrase") and "." not in path and "[" not in path:
            words = [i for i in line if aligned(page.box([i]), column) and i not in desc and i not in numbers]
            if words:
                values[path] = " ".join(page.words[i].text for i in words)
    if "page_index" in model.model_fields:
        values["page_index"] = page_index
    try:
        item = model.model_validate(values)
    except ValidationError:
        return None
    if getattr(item, "amount", None) is None:
        return None
    ok = line_amount_ok(item)
    if ok is False or (ok is None and "quantity" in columns):
        return None
    return item


def settles_sum(items: Sequence[BaseModel], added: Sequence[BaseModel], header: BaseModel) -> bool:
    """Σ lines = subtotal holds with the added items and did not without them."""
    return bool(added) and lines_sum_subtotal(list(items) + list(added), header) is True \
        and lines_sum_subtotal(items, header) is not True
