"""A text layer as real PDF producers emit it, tidied into the words grounding reads.

MuPDF builds words in the order the content stream draws glyphs, so a producer's habits show
through its words: text drawn glyph by glyph out of reading order comes as one word per glyph,
fake bold (the same text drawn twice, a fraction of a point apart) as every word twice, decimals
positioned apart from their integer part as "12" ",50", full-width or Arabic-Indic digits as
themselves. `tidy_words` turns that back into one word per printed word, in the page's own
coordinates (it never moves a box, only unites or drops them):

- text folded to ASCII digits and forms (`numbers.fold_digits`: "１２．５０" -> "12.50");
- a word drawn again over itself dropped (same text, boxes mostly overlapping);
- pieces of one word that touch on their line (a gap under GLUE of a character) glued in
  left-to-right order, whatever order they were drawn in. An OCR page keeps its own words.

`group_lines` groups words into lines (shared with `ground_words.PageText`); `number_text` is
the text of a run of words read as one number; `wrapped` pairs a cell's line with the line it
wraps onto (a code or date printed over two lines of a narrow cell; never a number, see
`PageText.numbers`).

Not here: lookups (`ground_words`), what counts as a match (`ground_text`).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from typing import NamedTuple

from raxdoc.postprocess.numbers import fold_digits

WRAP_GAP = 0.6  # line heights between a cell's line and the line it wraps onto
GLUE = 0.2  # gap, in character widths, under which two pieces on a line are one word (a space is ~0.5)
OVERPRINT = 0.6  # share of the smaller box two equal words must overlap to be one word drawn twice
CELL = 0.02  # side of the grid (page fractions) overprints are looked for in: about a line of text
_SEPARATORS = ".,"


class TextWord(NamedTuple):
    """One word of the text layer, box normalised 0..1 of the page (top-left origin)."""

    x0: float
    y0: float
    x1: float
    y1: float
    text: str


def char_width(w: TextWord) -> float:
    return (w.x1 - w.x0) / max(1, len(w.text))


def group_lines(words: Sequence[TextWord]) -> list[list[int]]:
    """Word indices grouped into lines, each left to right: a word joins the line whose first
    word's band holds its centre."""
    order = sorted(range(len(words)), key=lambda i: (words[i].y0 + words[i].y1) / 2)
    lines: list[list[int]] = []
    band = (1.0, 0.0)
    for i in order:
        w = words[i]
        if lines and band[0] <= (w.y0 + w.y1) / 2 <= band[1]:
            lines[-1].append(i)
        else:
            lines.append([i])
            band = (w.y0, w.y1)
    return [sorted(line, key=lambda i: (words[i].x0, words[i].x1)) for line in lines]


def _overlap(a: TextWord, b: TextWord) -> float:
    """Intersection over the smaller box's area."""
    ix = min(a.x1, b.x1) - max(a.x0, b.x0)
    iy = min(a.y1, b.y1) - max(a.y0, b.y0)
    if ix <= 0 or iy <= 0:
        return 0.0
    smaller = min((a.x1 - a.x0) * (a.y1 - a.y0), (b.x1 - b.x0) * (b.y1 - b.y0))
    return ix * iy / smaller if smaller > 0 else 0.0


def _cells(w: TextWord) -> list[tuple[str, int, int]]:
    """The grid cells (of CELL, keyed by text) `w`'s box touches: two boxes that overlap share one.
    Coordinates are clamped to the page first (monotone, so that still holds): a box off the page,
    or a bogus one, costs a cell, never millions."""
    def span(lo: float, hi: float) -> range:
        return range(int(max(0.0, min(1.0, lo)) / CELL), int(max(0.0, min(1.0, hi)) / CELL) + 1)

    return [(w.text, x, y) for x in span(w.x0, w.x1) for y in span(w.y0, w.y1)]


def _without_overprint(words: list[TextWord]) -> list[TextWord]:
    kept: list[TextWord] = []
    # Kept words by (text, grid cell): a word is compared with the few equal words near it, not
    # with every equal word of the page (dot leaders drawn glyph by glyph: thousands of ".").
    seen: dict[tuple[str, int, int], list[TextWord]] = defaultdict(list)
    for w in words:
        cells = _cells(w)
        if any(_overlap(w, k) >= OVERPRINT for cell in cells for k in seen.get(cell, ())):
            continue
        for cell in cells:
            seen[cell].append(w)
        kept.append(w)
    return kept


def _touch(a: TextWord, b: TextWord) -> bool:
    """b continues a's word: no space between them, at the same text size."""
    ha, hb = a.y1 - a.y0, b.y1 - b.y0
    if min(ha, hb) < 0.7 * max(ha, hb):
        return False  # a superscript or a different size: not one word
    width = max(char_width(a), char_width(b))
    return -GLUE * width <= b.x0 - a.x1 < GLUE * width


def tidy_words(words: Sequence[Sequence], *, ocr: bool = False) -> list[TextWord]:
    """The page's words, folded, overprints dropped and touching pieces glued (module docstring)."""
    out = [TextWord(float(w[0]), float(w[1]), float(w[2]), float(w[3]), fold_digits(str(w[4]))) for w in words]
    if ocr:
        return out
    out = _without_overprint(out)
    glued: list[tuple[int, TextWord]] = []  # (first piece's index, word): the layer's order is kept
    for line in group_lines(out):
        first, current = line[0], out[line[0]]
        for i in line[1:]:
            nxt = out[i]
            if _touch(current, nxt):
                current = TextWord(current.x0, min(current.y0, nxt.y0), max(current.x1, nxt.x1),
                                   max(current.y1, nxt.y1), current.text + nxt.text)
                first = min(first, i)
            else:
                glued.append((first, current))
                first, current = i, nxt
        glued.append((first, current))
    return [w for _, w in sorted(glued)]


def number_text(texts: Sequence[str]) -> str:
    """The words of a run as one number's text: no space where a word boundary meets a decimal
    or grouping mark ("12" "," "50" -> "12,50"), one space elsewhere ("1" "234,56" -> "1 234,56")."""
    out = texts[0] if texts else ""
    for t in texts[1:]:
        out += t if out.endswith(tuple(_SEPARATORS)) or t.startswith(tuple(_SEPARATORS)) else " " + t
    return out


def wrapped(words: Sequence[TextWord], segments: Sequence[Sequence[int]]) -> list[tuple[list[int], list[int]]]:
    """(a, b) for each run of words `b` that continues run `a` on the next line of one cell: right
    below it (under WRAP_GAP line heights apart), starting at a's left edge or ending at its right
    edge (a right-aligned number column), by at most two character widths."""
    out = []
    spans = sorted(((min(words[i].y0 for i in seg), max(words[i].y1 for i in seg), list(seg)) for seg in segments),
                   key=lambda span: span[0])
    tops = [top for top, _, _ in spans]
    for a_top, a_bottom, a in spans:
        a_height = a_bottom - a_top
        for top, bottom, b in spans[bisect.bisect_left(tops, a_bottom - 0.2 * a_height):]:
            if top - a_bottom > 2 * a_height:
                break  # sorted by top: every later run is further below
            if not -0.2 * (bottom - top) <= top - a_bottom <= WRAP_GAP * (bottom - top):
                continue
            first, last, below, end = words[a[0]], words[a[-1]], words[b[0]], words[b[-1]]
            slack = 2 * max(char_width(first), char_width(below))
            if abs(below.x0 - first.x0) <= slack or abs(end.x1 - last.x1) <= slack:
                out.append((a, b))
    return out
