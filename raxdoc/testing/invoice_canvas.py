"""Drawing primitives for the synthetic invoices: text runs that report their boxes, rules, wrapping.

`Canvas` wraps one PyMuPDF page and a TextWriter with the built-in Helvetica (regular and
bold; glyphs it lacks, like the narrow no-break space, come from MuPDF's fallback font).
Each `text` call returns the run's box in points by PyMuPDF's own word-box rule (baseline -
ascender x size to baseline - descender x size), so what the truth says matches what
`page.get_text("words")` reports. What to draw where is `invoice_layout.py`.
"""

from __future__ import annotations

import functools

import pymupdf

Box = tuple[float, float, float, float]
MARGIN, LINE, SIZE = 50.0, 11.0, 9.0


@functools.cache
def _font(bold: bool) -> pymupdf.Font:
    return pymupdf.Font("hebo" if bold else "helv")


@functools.cache
def _advance(bold: bool, ch: str) -> float:
    return _font(bold).glyph_advance(ord(ch))


def text_width(s: str, size: float = SIZE, bold: bool = False) -> float:
    """Font.text_length, from cached per-character advances (it costs ~1 ms a call otherwise)."""
    return sum(_advance(bold, ch) for ch in s) * size


def union(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


class Canvas:
    """One page: text runs go into a TextWriter, and each run's box is returned."""

    def __init__(self, doc: pymupdf.Document, paper: tuple[float, float]) -> None:
        self.page = doc.new_page(width=paper[0], height=paper[1])
        self.writer = pymupdf.TextWriter(self.page.rect)
        self.width, self.height = paper

    def text(self, x: float, y: float, s: str, *, bold: bool = False, size: float = SIZE,
             right: bool = False) -> Box:
        font = _font(bold)
        w = text_width(s, size, bold)
        x0 = x - w if right else x
        self.writer.append((x0, y), s, font=font, fontsize=size)
        return (x0, y - font.ascender * size, x0 + w, y - font.descender * size)

    def labelled(self, x: float, y: float, label: str, value: str) -> Box:
        """"Label: value" as two runs; returns the value's box."""
        box = self.text(x, y, label + ":")
        return self.text(box[2] + 4, y, value)

    def rule(self, y: float, x0: float = MARGIN, x1: float | None = None) -> None:
        self.page.draw_line((x0, y), (x1 if x1 is not None else self.width - MARGIN, y), width=0.5)

    def finish(self) -> None:
        self.writer.write_text(self.page)


def wrap(text: str, width: float, lines: int = 2) -> list[str]:
    """Greedy word wrap to `width` points, at most `lines` lines (trailing words dropped)."""
    out: list[str] = []
    for word in text.split():
        if out and text_width(f"{out[-1]} {word}") <= width:
            out[-1] = f"{out[-1]} {word}"
        elif len(out) < lines:
            out.append(word)
        else:
            break
    out[-1] = out[-1].rstrip(",")
    return out
