"""Hand-made page text layers for the grounding, correction and line-repair tests.

Words are (x0, y0, x1, y1, text) in 0..1 page coordinates, laid out at 0.01 a letter: `line` puts
cells (x, "words ...") on one printed line, `right` right-aligns a cell at x1 (a number column),
`row` is one item row of a table (description, quantity, price, amount).
"""

from __future__ import annotations

H = 0.015  # a text line's height (0..1 of the page)


def line(y: float, *cells: tuple[float, str]) -> list[tuple]:
    """Words of one printed line: each cell (x, "text of words") laid out word by word."""
    out = []
    for x, text in cells:
        for word in text.split(" "):
            out.append((x, y, x + 0.01 * len(word), y + H, word))
            x += 0.01 * len(word) + 0.005
    return out


def right(x1: float, text: str) -> tuple[float, str]:
    """A cell right-aligned at x1 (a number column)."""
    return (x1 - 0.01 * len(text.replace(" ", "")) - 0.005 * text.count(" "), text)


def row(y: float, desc: str, qty: str, price: str, amount: str) -> list[tuple]:
    """One item row: description, then quantity, price and amount right-aligned in their columns."""
    return line(y, (0.10, desc), right(0.62, qty), right(0.75, price), right(0.90, amount))

