"""Render options: how pages become pixels, checked once when built.

Defaults suit invoices: born-digital pages at 200 dpi (small print stays legible, an A4
page is 1654 x 2339), scans at their own resolution, and every page clamped to a pixel
budget that keeps one page's RGB array under ~36 MiB. The model's processor resizes again
to its own limits; these only bound memory and keep detail.

Not here: the DPI and clamp arithmetic (`geometry.py`), the OCR itself (`ocr.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_DPI = 200.0
DEFAULT_MIN_PIXELS = 256 * 256
DEFAULT_MAX_PIXELS = 12_000_000


@dataclass(frozen=True)
class RenderOptions:
    # Resolution for born-digital pages (scans use their image's own effective DPI).
    dpi: float = DEFAULT_DPI
    # Smaller pages are scaled up to at least this many pixels (aspect kept).
    min_pixels: int = DEFAULT_MIN_PIXELS
    # Larger pages are scaled down to at most this many pixels (aspect kept).
    max_pixels: int = DEFAULT_MAX_PIXELS
    # Render at most this many pages (None: all); page_count still reports the total.
    max_pages: int | None = None
    # User password for encrypted PDFs (None: only the empty password is tried).
    password: str | None = field(default=None, repr=False)
    # OCR pages that have no text layer (scans without one, image files) with RapidOCR (`ocr.py`);
    # born-digital pages never are. Off by default: ~1-5 s of CPU a page.
    ocr: bool = False

    def __post_init__(self) -> None:
        if not (self.dpi > 0):
            raise ValueError(f"dpi must be > 0, got {self.dpi}")
        if self.min_pixels < 1:
            raise ValueError(f"min_pixels must be >= 1, got {self.min_pixels}")
        if self.max_pixels < self.min_pixels:
            raise ValueError(f"max_pixels ({self.max_pixels}) < min_pixels ({self.min_pixels})")
        if self.max_pages is not None and self.max_pages < 0:
            raise ValueError(f"max_pages must be >= 0 or None, got {self.max_pages}")
