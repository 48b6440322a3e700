"""Hand-made page text layers for the grounding, correction and line-repair tests.

Words are (x0, y0, x1, y1, text) in 0..1 page coordinates, laid out at 0.01 a letter: `line` puts
cells (x, "words ...") on one printed line, `right` right-aligns a cell at x1 (a number column),
`row` is one item row of a table (description, quantity, price, amount); ROWS, HEADER_ROW, WRAP and
TOTALS are one sample table, shared by the line-repair and missed-line tests.
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


# One item table for the line-repair and missed-line tests: five rows (description, qty, price,
# amount), the header row above them, row 0's wrapped second line and the totals below.
ROWS = [("Widget blue", "2", "5.00", "10.00"), ("Gadget", "1", "7.50", "7.50"), ("Sprocket", "4", "2.25", "9.00"),
        ("Flange", "3", "1.20", "3.60"), ("Bolt M8", "10", "0.35", "3.50")]
HEADER_ROW = line(0.27, (0.10, "Description"), right(0.62, "Qty"), right(0.75, "Price"), right(0.90, "Amount"))
WRAP = line(0.318, (0.10, "with mounting kit"))  # second line of row 0's description
TOTALS = (line(0.47, (0.55, "Subtotal"), right(0.90, "33.60")) + line(0.49, (0.55, "VAT 19%"), right(0.90, "6.38"))
          + line(0.51, (0.55, "Total"), right(0.90, "39.98")))
