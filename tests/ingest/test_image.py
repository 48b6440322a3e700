"""Image files as documents: PNG, JPEG, multi-page TIFF, every colour mode to RGB, orientation, bombs."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from raxdoc.errors import CorruptDocument, PageError, PageTooLarge
from raxdoc.ingest import read_document


def _read(data: bytes, **options):
    """Images here are tiny on purpose: keep them at their own size unless a test says otherwise."""
    return read_document(data, **{"min_pixels": 1, **options})


def test_png_is_one_scanned_page_with_its_exact_pixels(build):
    original = build.block_image(333, 211)
    doc = _read(build.encode(original, "PNG", dpi=(300, 300)))
    page = doc.page(0)
    assert doc.page_count == 1 and doc.metadata.format == "png"
    assert page.kind == "scanned" and page.words == ()
    assert np.array_equal(page.pixels, original)
    assert page.pixels.flags.writeable and page.pixels.flags.owndata
    assert page.dpi == pytest.approx(300, rel=1e-4)  # PNG stores pixels per metre
    assert page.width_pt == pytest.approx(333 * 72 / 300, rel=1e-4)


def test_jpeg_without_dpi_tag_reports_no_dpi(build):
    original = build.block_image(160, 120)
    page = _read(build.encode(original, "JPEG", quality=95)).page(0)
    assert page.pixels.shape == (120, 160, 3)
    assert np.abs(page.pixels.astype(int) - original).mean() < 4
    assert page.dpi is None and page.width_pt is None


def test_multi_page_tiff_is_one_page_per_frame(build):
    frames = [Image.fromarray(build.block_image(w, h, seed=w)) for w, h in [(300, 400), (410, 290), (257, 257)]]
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:], compression="tiff_lzw", dpi=(200, 200))
    doc = _read(buf.getvalue())
    pages = list(doc.pages())
    assert doc.page_count == 3 and doc.metadata.format == "tiff"
    assert [p.pixels.shape[:2] for p in pages] == [(400, 300), (290, 410), (257, 257)]
    assert all(np.array_equal(p.pixels, np.asarray(f)) for p, f in zip(pages, frames))
    assert doc.page(1).page_index == 1  # random access after iteration


def test_bilevel_g4_tiff_becomes_black_and_white_rgb():
    bits = np.zeros((300, 400), dtype=bool)
    bits[100:200, 50:350] = True
    buf = io.BytesIO()
    Image.fromarray(bits).save(buf, "TIFF", compression="group4")
    page = _read(buf.getvalue()).page(0)
    assert page.pixels.shape == (300, 400, 3)
    assert set(np.unique(page.pixels)) <= {0, 255}
    assert (page.pixels[150, 200] == 255).all() and (page.pixels[10, 10] == 0).all()


def test_greyscale_jpeg_becomes_rgb_with_equal_channels():
    grey = np.tile(np.arange(0, 256, 2, dtype=np.uint8), (64, 1))
    buf = io.BytesIO()
    Image.fromarray(grey, mode="L").save(buf, "JPEG", quality=95)
    page = _read(buf.getvalue()).page(0)
    assert page.pixels.shape == (64, 128, 3)
    assert np.array_equal(page.pixels[..., 0], page.pixels[..., 1]) and np.array_equal(page.pixels[..., 1], page.pixels[..., 2])


def test_cmyk_jpeg_becomes_rgb():
    cmyk = np.zeros((80, 120, 4), dtype=np.uint8)
    cmyk[:, :60, 0] = 255  # left half cyan, right half paper white
    buf = io.BytesIO()
    Image.fromarray(cmyk, mode="CMYK").save(buf, "JPEG", quality=95)
    page = _read(buf.getvalue()).page(0)
    left, right = page.pixels[40, 20].astype(int), page.pixels[40, 100].astype(int)
    assert page.pixels.shape == (80, 120, 3)
    assert left[0] < 40 and left[1] > 200 and left[2] > 200  # cyan = no red
    assert (right > 230).all()


def test_rgba_png_is_composited_on_white(build):
    rgba = np.zeros((50, 70, 4), dtype=np.uint8)
    rgba[:, :35] = (200, 10, 10, 255)  # opaque red left, fully transparent right
    page = _read(build.encode(Image.fromarray(rgba, mode="RGBA"), "PNG")).page(0)
    assert tuple(page.pixels[25, 10]) == (200, 10, 10)
    assert tuple(page.pixels[25, 60]) == (255, 255, 255)


def test_sixteen_bit_greyscale_png_is_scaled_to_eight_bits():
    grey16 = np.full((40, 60), 65535, dtype=np.uint16)
    grey16[:, :30] = 257 * 100
    buf = io.BytesIO()
    Image.fromarray(grey16).save(buf, "PNG")
    page = _read(buf.getvalue()).page(0)
    assert tuple(page.pixels[0, 0]) == (100, 100, 100) and tuple(page.pixels[0, 59]) == (255, 255, 255)


@pytest.mark.parametrize(("orientation", "k", "degrees"), [(3, 2, 180), (6, -1, 90), (8, 1, 270)])
def test_exif_orientation_is_applied(build, orientation, k, degrees):
    original = build.block_image(120, 80, block=40)
    exif = Image.Exif()
    exif[0x0112] = orientation
    page = _read(build.encode(original, "PNG", exif=exif)).page(0)
    assert page.rotation == degrees
    assert np.array_equal(page.pixels, np.rot90(original, k=k))


def test_large_jpeg_is_clamped_and_decoded_reduced(build):
    original = build.block_image(2000, 1500, block=100)
    doc = _read(build.encode(original, "JPEG", dpi=(300, 300)), max_pixels=200_000)
    page = doc.page(0)
    h, w = page.pixels.shape[:2]
    assert h * w <= 200_000 and w / h == pytest.approx(2000 / 1500, rel=0.01)
    assert page.dpi == pytest.approx(300 * w / 2000, rel=1e-4)  # DPI follows the resize
    # Block colours survive the reduction (sampled at block centres).
    assert np.abs(page.pixels[h // 30, w // 40].astype(int) - original[50, 50]).max() < 30


def test_tiny_image_is_scaled_up_to_min_pixels(build):
    page = _read(build.encode(build.block_image(10, 5, block=1), "PNG"), min_pixels=5000).page(0)
    h, w = page.pixels.shape[:2]
    assert h * w >= 5000 and w == 2 * h


def test_image_over_the_bomb_limit_is_page_too_large(build, monkeypatch):
    png = build.encode(build.block_image(200, 200), "PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 30_000)  # 40,000 px: over 1x, under 2x
    result = next(_read(png).pages())
    assert isinstance(result, PageTooLarge) and result.page_index == 0
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)  # over 2x: PIL refuses at open
    with pytest.raises(PageTooLarge):
        _read(png)


def test_truncated_png_page_is_a_page_error(build):
    png = build.encode(build.block_image(300, 300, block=1), "PNG")
    result = next(_read(png[: len(png) // 2]).pages())
    assert isinstance(result, PageError) and result.page_index == 0 and result.error_type == "page_error"


def test_png_with_garbage_after_the_signature_is_corrupt():
    with pytest.raises(CorruptDocument):
        _read(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 10)
