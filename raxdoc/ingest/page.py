"""What ingest hands on: one page as RGB pixels, plus its text layer and provenance.

Not here: how pages are produced (`pdf.py`, `image.py`), OCR (`ocr.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

PageKind = Literal["scanned", "digital", "mixed"]
# Where a page's words came from: the PDF's own text layer, or OCR of its pixels (noisier:
# a misread character is possible, boxes are looser). None: the page has no words.
TextSource = Literal["pdf", "ocr"]


class Word(NamedTuple):
    """One word of the text layer, in pixel coordinates of the returned image."""

    x0: float
    y0: float
    x1: float
    y1: float
    text: str


@dataclass(frozen=True, eq=False)
class PageImage:
    page_index: int
    # (H, W, 3) uint8 RGB, upright as a viewer displays the page; owned, writable.
    pixels: np.ndarray
    # Resolution actually rendered (after clamping); None for an image file with no DPI tag.
    dpi: float | None
    # "scanned": a large image and no visible text; "mixed": both; "digital": no large image.
    kind: PageKind
    # Displayed page size in points (rotation applied); None where dpi is None.
    width_pt: float | None
    height_pt: float | None
    # Degrees of /Rotate (or EXIF orientation) applied to make the page upright.
    rotation: int
    # Text layer (OCR layers included); empty when the page has none.
    words: tuple[Word, ...] = ()
    # Warnings the renderer raised for this page (e.g. broken content stream).
    warnings: tuple[str, ...] = ()
    # Where `words` came from; None when there are none.
    text_source: TextSource | None = None

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])
