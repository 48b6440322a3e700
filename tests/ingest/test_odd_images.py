"""Odd but real image files: oriented TIFFs, JPEGs with MPF frames, corrupt EXIF, 16-bit colour
PNGs, palette transparency, GIF, WebP and BMP (animations: one page), and readable errors for files Pillow cannot identify."""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from raxdoc.errors import CorruptDocument, PageTooLarge
from raxdoc.ingest import read_document


def _read(data: bytes, **options):
    return read_document(data, **{"min_pixels": 1, **options})


def _oriented(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def _png(width: int, height: int, bit_depth: int, colour_type: int, pixels: np.ndarray) -> bytes:
    """A PNG written byte by byte: Pillow cannot save 16-bit colour, scanners and phones do."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + row.tobytes() for row in pixels)  # filter type 0 per row
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("max_pixels", [None, 3000])
def test_oriented_tiff_is_turned_upright_once(build, max_pixels):
    # Pillow turns a TIFF upright while decoding; turning it again by the tag made it upside down.
    original = build.block_image(120, 80, block=20)
    frames = [Image.fromarray(original), Image.fromarray(original[::-1].copy())]
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:], exif=_oriented(6))
    doc = _read(buf.getvalue(), **({"max_pixels": max_pixels} if max_pixels else {}))
    pages = list(doc.pages())
    assert doc.page_count == 2 and [p.rotation for p in pages] == [90, 90]
    if max_pixels is None:
        assert np.array_equal(pages[0].pixels, np.rot90(original, k=-1))
        assert np.array_equal(pages[1].pixels, np.rot90(original[::-1], k=-1))
    else:
        h, w = pages[0].pixels.shape[:2]
        assert h * w <= max_pixels and h > w  # upright: taller than wide, as the tag says


def test_oriented_jpeg_decoded_reduced_is_upright(build):
    original = build.block_image(1600, 800, block=200)
    page = _read(build.encode(original, "JPEG", quality=95, exif=_oriented(8)), max_pixels=100_000).page(0)
    h, w = page.pixels.shape[:2]
    assert page.rotation == 270 and h > w and h * w <= 100_000
    expected = np.rot90(original, k=1)  # orientation 8: turned 90 degrees counter-clockwise
    sample = expected[100 :: 200, 100 :: 200].astype(int)  # block centres, (8, 4, 3)
    got = page.pixels[(np.arange(8) * 200 + 100) * h // 1600][:, (np.arange(4) * 200 + 100) * w // 800].astype(int)
    assert np.abs(got - sample).max() < 40


def test_jpeg_with_mpf_frames_is_one_page(build):
    # Phones store an HDR gain map, depth map or preview as MPF images after the photo.
    photo, extra = build.block_image(90, 60, seed=1), build.block_image(45, 30, seed=2)
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, "MPO", save_all=True, append_images=[Image.fromarray(extra)], quality=95)
    doc = _read(buf.getvalue())
    pages = list(doc.pages())
    assert doc.page_count == 1 and len(pages) == 1 and doc.metadata.format == "jpeg"
    assert pages[0].pixels.shape == (60, 90, 3)
    assert np.abs(pages[0].pixels.astype(int) - photo).mean() < 6


def test_corrupt_exif_is_a_page_warning_not_a_python_warning(build):
    jpeg = build.encode(build.block_image(40, 30), "JPEG")
    broken = jpeg[:2] + b"\xff\xe1\x00\x10Exif\x00\x00MM\x00*\xff\xff\xff\xff" + jpeg[2:]  # IFD offset past the end
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one line on stderr per page of a batch run, before
        page = _read(broken).page(0)
    assert page.pixels.shape == (30, 40, 3) and page.rotation == 0
    assert any("Corrupt EXIF" in w for w in page.warnings)


def test_orientation_that_is_not_a_number_is_ignored(build):
    # One IFD entry: Orientation typed ASCII, "6", where a SHORT belongs.
    exif = b"Exif\x00\x00MM\x00*" + struct.pack(">IHHHI4sI", 8, 1, 0x0112, 2, 2, b"6\x00\x00\x00", 0)
    page = _read(build.encode(build.block_image(40, 30), "JPEG", exif=exif)).page(0)
    assert page.pixels.shape == (30, 40, 3) and page.rotation == 0


def test_bomb_between_one_and_two_limits_warns_nothing(build, monkeypatch):
    png = build.encode(build.block_image(200, 200), "PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 30_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = next(_read(png).pages())
    assert isinstance(result, PageTooLarge) and "exceeds 30000 pixels" in result.message


def test_sixteen_bit_colour_pngs_become_eight_bit_rgb():
    rgb = np.zeros((20, 30, 3), dtype=">u2")
    rgb[:, :15] = (65535, 0, 0)
    rgb[:, 15:] = (0, 257 * 128, 65535)
    page = _read(_png(30, 20, 16, 2, rgb)).page(0)
    assert tuple(page.pixels[5, 5]) == (255, 0, 0) and tuple(page.pixels[5, 25]) == (0, 128, 255)
    rgba = np.zeros((20, 30, 4), dtype=">u2")
    rgba[:, :15] = (0, 0, 65535, 65535)  # opaque blue left, transparent right
    page = _read(_png(30, 20, 16, 6, rgba)).page(0)
    assert tuple(page.pixels[5, 5]) == (0, 0, 255) and tuple(page.pixels[5, 25]) == (255, 255, 255)


def test_palette_png_with_a_transparent_index_is_composited_on_white():
    rgb = np.zeros((10, 20, 3), np.uint8)
    rgb[:, :10] = (200, 0, 0)
    palette = Image.fromarray(rgb).convert("P")
    buf = io.BytesIO()
    palette.save(buf, "PNG", transparency=palette.getpixel((0, 0)))  # the red index is see-through
    page = _read(buf.getvalue()).page(0)
    assert tuple(page.pixels[5, 5]) == (255, 255, 255) and tuple(page.pixels[5, 15]) == (0, 0, 0)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG", "BMP"])
def test_gif_webp_bmp_and_animations_are_one_page_showing_the_first_frame(fmt):
    """Mail gateways and phones send WebP and GIF; an animated PNG, GIF or WebP is one picture."""
    frames = [Image.new("RGB", (40, 30), colour) for colour in ((200, 0, 0), (0, 200, 0), (0, 0, 200))]
    buf = io.BytesIO()
    if fmt == "BMP":
        frames[0].save(buf, fmt)
    else:
        frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], **({"lossless": True} if fmt == "WEBP" else {}))
    doc = _read(buf.getvalue())
    assert doc.metadata.format == fmt.lower() and doc.page_count == 1
    assert tuple(doc.page(0).pixels[5, 5]) == (200, 0, 0)


@pytest.mark.parametrize("data", [
    b"\xff\xd8\xff\xe0" + b"\x00" * 10,  # a JPEG marker and nothing after
    _png(0, 0, 8, 2, np.zeros((0, 0, 3), np.uint8)),  # a PNG of 0 x 0 pixels
], ids=["jpeg-marker-only", "png-0x0"])
def test_unidentifiable_image_error_is_readable(data):
    with pytest.raises(CorruptDocument) as info:
        _read(data)
    assert "object at 0x" not in info.value.message and "not a readable" in info.value.message
