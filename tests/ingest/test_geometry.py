"""DPI and pixel-budget arithmetic."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raxdoc.ingest.geometry import clamp_size, effective_dpi, page_pixels
from raxdoc.ingest.options import RenderOptions


def test_effective_dpi_from_the_placement_matrix_not_the_bbox():
    assert effective_dpi(1700, 2200, (612, 0, 0, 792, 0, 0)) == pytest.approx((200, 200))
    # The same image turned 90 degrees on the page: its axes swap, its DPI does not.
    assert effective_dpi(1700, 2200, (0, 612, -792, 0, 792, 0)) == pytest.approx((200, 200))
    # Turned 30 degrees: the bbox is wider than the image, the DPI is unchanged.
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    assert effective_dpi(600, 300, (216 * c, 216 * s, -108 * s, 108 * c, 0, 0)) == pytest.approx((200, 200))
    # Fax-style anisotropic scan: 204 x 98 dpi.
    assert effective_dpi(1728, 1078, (1728 * 72 / 204, 0, 0, 1078 * 72 / 98, 0, 0)) == pytest.approx((204, 98))
    assert effective_dpi(10, 10, (0, 0, 0, 0, 0, 0)) == (0.0, 0.0)


def test_page_pixels_exact_when_no_clamp_applies():
    assert page_pixels(612, 792, 200, 1, 10**8) == (1700, 2200, 200.0)
    assert page_pixels(595.276, 841.89, 300, 1, 10**8)[:2] == (2480, 3508)  # A4 at 300 dpi


def test_page_pixels_clamps_and_reports_the_dpi_rendered():
    w, h, dpi = page_pixels(14400, 14400, 200, 1, 1_000_000)
    assert (w, h) == (1000, 1000) and dpi == pytest.approx(5.0)
    w, h, dpi = page_pixels(36, 18, 72, 20_000, 10**8)
    assert w * h >= 20_000 and dpi > 72


@settings(max_examples=300, deadline=None)
@given(
    width=st.floats(0.01, 1e6),
    height=st.floats(0.01, 1e6),
    lo=st.integers(1, 5_000_000),
    span=st.integers(0, 20_000_000),
)
def test_clamp_size_always_fits_the_budget(width, height, lo, span):
    hi = lo + span
    w, h = clamp_size(width, height, lo, hi)
    assert w >= 1 and h >= 1 and w * h <= hi
    if width * height > hi and min(w, h) > 2:
        # Aspect kept to within a pixel's rounding on the short side.
        assert w / h == pytest.approx(width / height, rel=2 / min(w, h))


def test_clamp_size_rejects_degenerate_sizes():
    with pytest.raises(ValueError):
        clamp_size(0, 100, 1, 100)
    with pytest.raises(ValueError):
        clamp_size(float("nan"), 100, 1, 100)


@pytest.mark.parametrize(
    "kwargs", [{"dpi": 0}, {"min_pixels": 0}, {"min_pixels": 10, "max_pixels": 5}, {"max_pages": -1}]
)
def test_render_options_are_checked(kwargs):
    with pytest.raises(ValueError):
        RenderOptions(**kwargs)


def test_password_stays_out_of_repr():
    assert "hunter2" not in repr(RenderOptions(password="hunter2"))
