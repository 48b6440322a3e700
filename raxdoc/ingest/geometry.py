"""DPI and pixel-budget arithmetic, free of any PDF or image library.

Kept pure so the numbers that decide memory use are tested on their own: the effective DPI
of an image from its placement matrix, and the output size of a page for a DPI clamped to
[min_pixels, max_pixels] with the aspect ratio kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

POINTS_PER_INCH = 72.0


def effective_dpi(width_px: int, height_px: int, transform: Sequence[float]) -> tuple[float, float]:
    """DPI of an image along its own x and y axes, from the matrix placing it on the page.

    A PDF image is drawn into the unit square mapped by (a, b, c, d, e, f): its pixel rows
    span the vector (a, b) and its columns (c, d), in points. Lengths, not the bbox, so an
    image rotated or skewed on the page still gets its true resolution; and the file's own
    xres/yres tags (often a scanner default of 72 or 96) are never consulted.
    """
    a, b, c, d = transform[:4]
    width_in = math.hypot(a, b) / POINTS_PER_INCH
    height_in = math.hypot(c, d) / POINTS_PER_INCH
    if width_in <= 0 or height_in <= 0:
        return 0.0, 0.0
    return width_px / width_in, height_px / height_in


def clamp_size(width: float, height: float, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """Integer (width, height) near the given float size, scaled so the area fits the budget.

    Rounds to nearest when no clamp applies (a 200 dpi letter page is exactly 1700 x 2200);
    otherwise picks the scale, then floors (cap) or ceils (floor) so the bound holds.
    """
    if not (width > 0 and height > 0):
        raise ValueError(f"page size must be positive, got {width} x {height}")
    area = width * height
    if area > max_pixels:
        return _fit_under(width, height, max_pixels)
    if area < min_pixels:
        scale = math.sqrt(min_pixels / area)
        w, h = math.ceil(width * scale), math.ceil(height * scale)
        return (w, h) if w * h <= max_pixels else _fit_under(width * scale, height * scale, max_pixels)
    w, h = max(1, round(width)), max(1, round(height))
    return (w, h) if w * h <= max_pixels else _fit_under(width, height, max_pixels)


def _fit_under(width: float, height: float, max_pixels: int) -> tuple[int, int]:
    scale = min(1.0, math.sqrt(max_pixels / (width * height)))
    w, h = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    # A side floored to 1 pixel (extreme aspect ratio) can leave the other too long: shave it.
    while w * h > max_pixels:
        if w >= h:
            w -= 1
        else:
            h -= 1
    return w, h


def page_pixels(width_pt: float, height_pt: float, dpi: float, min_pixels: int, max_pixels: int) -> tuple[int, int, float]:
    """Output (width_px, height_px, dpi actually rendered) for a page of the given size in points."""
    w, h = clamp_size(width_pt * dpi / POINTS_PER_INCH, height_pt * dpi / POINTS_PER_INCH, min_pixels, max_pixels)
    return w, h, w * POINTS_PER_INCH / width_pt
